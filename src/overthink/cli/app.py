"""The Typer application every command module attaches to."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.segment import Segment

from overthink.cli.lazy import LazyGroup
from overthink.textsafe import printable

app = typer.Typer(
    name="overthink",
    help="Measure and tame inverse scaling in test-time compute.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Commands in cli.lazy.LAZY_COMMANDS import their module only when they run.
    cls=LazyGroup,
)


class SafeConsole(Console):
    """A console that never passes terminal control codes from the text it prints.

    Task names, knob levels, warnings and errors can quote model or server text; an ESC or
    BEL in them would drive the user's terminal. Rich's own styling and cursor movement
    (progress bars) are kept: they are added after this filter, or are control segments.
    """

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        clean = (
            seg if seg.control else Segment(printable(seg.text), seg.style, seg.control)
            for seg in buffer
        )
        return super()._render_buffer(clean)


@app.callback()
def _main() -> None:
    """Measure and tame inverse scaling in test-time compute."""
    # A callback keeps ``app`` a command group even before any lazy command is loaded.


def console(*, stderr: bool = False) -> Console:
    """A rich console; logs and pipes get a fixed 120 columns instead of rich's 80-column
    fallback, so tables are not squeezed. A terminal keeps its own width. Control codes in
    printed text are shown escaped (see :class:`SafeConsole`)."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return SafeConsole(stderr=stderr)
    return SafeConsole(stderr=stderr, width=120)


def warn_skipped(skipped: list[str]) -> None:
    """Report store rows skipped by ``--skip-bad-rows`` (ids, the first few) on stderr."""
    if not skipped:
        return
    from rich.text import Text

    more = f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
    shown = ", ".join(skipped[:10]) + more
    console(stderr=True).print(
        Text.assemble(
            ("warning:", "yellow"), f" skipped {len(skipped)} unreadable store row(s): {shown}"
        ),
        highlight=False,
    )


# Options shared by `analyze` and `report`, declared once so their help stays the same.
RunDirArgument = Annotated[Path, typer.Argument(help="Run folder (the one holding store.sqlite).")]
ByOption = Annotated[
    str | None,
    typer.Option(
        "--by",
        help="Knob to break each task down by (e.g. distractors); 'all' pools the "
        "levels. Default: each task's own knobs.",
    ),
]
CostOption = Annotated[
    str,
    typer.Option("--cost", help="Pareto cost axis: tokens, usd, latency or eflops."),
]
PricesOption = Annotated[
    Path | None,
    typer.Option("--prices", help="YAML/JSON file: model -> USD per million tokens."),
]
SkipBadRowsOption = Annotated[
    bool,
    typer.Option(
        "--skip-bad-rows",
        help="Skip store rows that cannot be read (they are listed); without it they are an error.",
    ),
]
ShapesOption = Annotated[
    Path | None,
    typer.Option(
        "--shapes",
        help="YAML/JSON file: model -> {params, layers, heads, kv_heads, head_dim} for "
        "--cost eflops (built in: SmolLM2, Qwen3, R1-distill).",
    ),
]
