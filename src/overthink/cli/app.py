"""The Typer application every command module attaches to."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="overthink",
    help="Measure and tame inverse scaling in test-time compute.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)
