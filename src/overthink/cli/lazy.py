"""Commands whose modules load only when that command runs.

``overthink --help`` and ``overthink run`` should not pay for scipy, pandas and matplotlib
(``analyze``, ``verify`` and ``report`` need them; importing them took ~1.5 s of a ~2 s
start). The group lists these commands from the table below and imports a command's
module the first time the command itself is needed; its help text is the first line of
the command's docstring (a test keeps the two the same).

A command module still registers itself on ``app`` with ``@app.command()`` as before;
modules not listed here are imported eagerly by ``overthink.cli``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from typer.core import TyperCommand, TyperGroup

__all__ = ["LAZY_COMMANDS", "LazyCommand", "LazyGroup"]


@dataclass(frozen=True)
class LazyCommand:
    """A command listed before its module is imported."""

    module: str
    help: str
    """The first line of the command's docstring, shown in ``overthink --help``."""


LAZY_COMMANDS: dict[str, LazyCommand] = {
    "run": LazyCommand(
        "overthink.cli.run",
        "Run an experiment (default: misleading_math × forced budgets on the embedded model).",
    ),
    "verify": LazyCommand(
        "overthink.cli.verify",
        "Score a run's samples with verifiers and write its strategy records (no generation).",
    ),
    "analyze": LazyCommand(
        "overthink.cli.analyze",
        "Scaling curves, inverse-scaling verdicts, pools and Pareto fronts of a run.",
    ),
    "export": LazyCommand(
        "overthink.cli.export", "Print a run's records (one JSON object per line, or CSV)."
    ),
    "report": LazyCommand(
        "overthink.cli.report",
        "Write RUN_DIR/report.html (one self-contained page) and RUN_DIR/plots/.",
    ),
    "tasks": LazyCommand(
        "overthink.cli.tasks", "List tasks and their knobs; show or export samples."
    ),
    "mitigate": LazyCommand(
        "overthink.cli.mitigate",
        "Re-run RUN_DIR's questions under each mitigation and compare with the baseline.",
    ),
    "proxy": LazyCommand(
        "overthink.cli.proxy",
        "Serve an OpenAI-compatible API that applies POLICY before forwarding to UPSTREAM.",
    ),
    "import": LazyCommand(
        "overthink.cli.imports",
        "Import inspect_ai or lm-evaluation-harness logs as an overthink run.",
    ),
    "monitor": LazyCommand(
        "overthink.cli.monitor", "Catch inverse scaling in live traffic (anytime-valid alarms)."
    ),
}


class LazyGroup(TyperGroup):
    """The top-level group: real commands once loaded, placeholders while listing help."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        loaded = super().list_commands(ctx)
        return [*loaded, *(n for n in LAZY_COMMANDS if n not in loaded)]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        # Listing commands must not import them: placeholders carry the one-line help.
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        lazy = LAZY_COMMANDS.get(cmd_name)
        if command is not None or lazy is None:
            return command
        if self._listing:
            return TyperCommand(cmd_name, help=lazy.help, short_help=lazy.help)
        return self.load(cmd_name)

    def load(self, cmd_name: str) -> Any:
        """Import a lazy command's module and return its click command."""
        import typer.main

        from overthink.cli.app import app

        importlib.import_module(LAZY_COMMANDS[cmd_name].module)
        # The module registered its command(s) on ``app``: rebuild and keep them all.
        built = typer.main.get_group(app)
        self.commands.update(built.commands)
        return self.commands.get(cmd_name)
