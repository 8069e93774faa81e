"""``overthink tasks``: list tasks, show example samples, export samples as JSONL."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from overthink.cli.app import app
from overthink.cli.app import console as make_console
from overthink.core import Sample
from overthink.errors import ConfigError
from overthink.tasks import get_task, task_names
from overthink.tasks.base import Task
from overthink.tasks.jsonl import write_jsonl
from overthink.tasks.levels import level_grid, parse_knob_args
from overthink.tasks.registry import loader_description, loader_knobs, loader_prefixes

__all__ = ["tasks_app"]

tasks_app = typer.Typer(
    help="List tasks and their knobs; show or export samples.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(tasks_app, name="tasks")

KnobArgs = Annotated[
    list[str] | None,
    typer.Option("-T", "--knob", help="Knob levels, e.g. -T distractors=0,1,3 (repeatable)."),
]
Seed = Annotated[int, typer.Option("--seed", help="Generation seed.")]
# Generic on purpose: listing the registry here would import every task for --help.
_TASK_HELP = "Task name (see `overthink tasks`), <loader>:<path>, or <file.py>@<task>."


def _fmt_levels(levels: tuple[Any, ...]) -> str:
    return ",".join(str(v) for v in levels)


def _list(console: Console) -> None:
    table = Table(title="overthink tasks", show_lines=False)
    table.add_column("task", style="bold cyan", no_wrap=True)
    table.add_column("answer")
    # "fold" so long level lists wrap instead of being cut with an ellipsis.
    table.add_column("knob = default levels (accepted)", overflow="fold")
    table.add_column("description", overflow="fold")
    for name in task_names():
        task = get_task(name)
        knobs = "\n".join(f"{k.name} = {_fmt_levels(k.default)} ({k.accepted})" for k in task.knobs)
        kind = task.answer_kind.value if task.answer_kind else "mixed"
        table.add_row(name, kind, knobs or "-", task.description)
    for prefix in loader_prefixes():
        # A loader's declared knobs (risk: polarity) are listed like a task's.
        knobs = ", ".join(loader_knobs(f"{prefix}:x") or ()) or "-"
        what = loader_description(prefix)
        table.add_row(f"{prefix}:<path>", "from file", knobs, f"Load {what}.")
    table.add_row("<file.py>@<task>", "from code", "-", "A Task defined in your own Python file.")
    console.print(table)


def _samples(
    task: Task, knob_args: list[str] | None, n: int, seed: int, *, first_default_only: bool
) -> list[Sample]:
    if n < 0:
        raise ConfigError(f"--n must be >= 0, got {n}")
    chosen = parse_knob_args(task, knob_args or [])
    out: list[Sample] = []
    for levels in level_grid(task, chosen, first_default_only=first_default_only):
        out.extend(task.samples(n, seed, **levels))
    return out


def _render(sample: Sample) -> Panel:
    parts: list[Any] = [Text(sample.prompt)]
    # A behaviour sample's target is the behaviour-matching option, not a right answer.
    label = "matching: " if sample.kind.value == "behaviour" else "target: "
    target = Text(label, style="bold green")
    target.append(sample.target)
    if sample.choices is not None and sample.target in "ABCDEFGH" and len(sample.target) == 1:
        idx = "ABCDEFGH".index(sample.target)
        if idx < len(sample.choices):
            target.append(f"  ({sample.choices[idx]})", style="green")
    parts += [Text(""), target]
    meta = Text("meta: ", style="bold")
    meta.append(", ".join(f"{k}={v}" for k, v in sample.meta.items()), style="dim")
    parts.append(meta)
    title = Text(f"{sample.id} ({sample.kind.value})")
    return Panel(Group(*parts), title=title, title_align="left")


@tasks_app.callback(invoke_without_command=True)
def tasks_main(ctx: typer.Context) -> None:
    """List every task with its knobs and default levels (when no subcommand is given)."""
    if ctx.invoked_subcommand is None:
        _list(make_console())


@tasks_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help=_TASK_HELP)],
    knob: KnobArgs = None,
    n: Annotated[int, typer.Option("--n", help="Samples per knob setting.")] = 3,
    seed: Seed = 0,
) -> None:
    """Print example samples with their targets.

    Knobs not given with -T use their first default level.
    """
    task = get_task(name)
    console = make_console()
    for sample in _samples(task, knob, n, seed, first_default_only=True):
        console.print(_render(sample))


@tasks_app.command("export")
def export(
    name: Annotated[str, typer.Argument(help=_TASK_HELP)],
    knob: KnobArgs = None,
    n: Annotated[int, typer.Option("--n", help="Samples per knob setting.")] = 100,
    seed: Seed = 0,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output file (default: standard output).")
    ] = None,
) -> None:
    """Write samples as JSONL in the jsonl: loader's format (round-trips through jsonl:).

    Knobs not given with -T are swept over their default levels.
    """
    task = get_task(name)
    samples = _samples(task, knob, n, seed, first_default_only=False)
    if out is None:
        write_jsonl(samples, sys.stdout)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        count = write_jsonl(samples, fh)
    Console(stderr=True).print(f"wrote {count} samples to {out}", highlight=False)
