"""Console output of the controlled-vs-natural A/B and the plain-language conclusion.

Shared by ``overthink run`` (after the sweep) and ``overthink analyze``. Imports nothing
heavy at module level: the analysis result is passed in.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from overthink.analysis import Analysis

__all__ = ["ab_table", "print_conclusion"]


def _num(value: Any, spec: str) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    return format(number, spec) if math.isfinite(number) else "–"


def ab_table(result: Analysis) -> Table | None:
    """Natural vs controlled at matched length and at each budget (pooled levels)."""
    ab = result.ab
    if ab.empty:
        return None
    pooled = ab[ab["knob"] == ""]
    table = Table(
        title="Controlled vs natural budgets (paired per question; diff = natural − controlled)"
    )
    for col in ("task", "model", "vs", "at", "natural", "controlled", "diff [95% CI]", "items"):
        table.add_column(col, overflow="fold")
    for _, row in pooled.iterrows():
        matched = row["comparison"] == "matched"
        at = "matched length" if matched else f"budget {_num(row['budget_tokens'], '.0f')}"
        diff = (
            f"{_num(row['diff'], '+.3f')} [{_num(row['diff_low'], '+.3f')}, "
            f"{_num(row['diff_high'], '+.3f')}]"
        )
        natural = f"{_num(row['natural_metric'], '.3f')} ({_num(row['natural_tokens'], '.0f')} tok)"
        ctrl = f"{_num(row['controlled_metric'], '.3f')} ({_num(row['controlled_tokens'], '.0f')})"
        table.add_row(
            escape(str(row["task"])), escape(str(row["model"])), str(row["controlled_mode"]), at,
            natural, ctrl, f"[bold]{diff}[/]" if bool(row["significant"]) else diff,
            str(int(row["n_items"])),
        )  # fmt: skip
    return table


def print_conclusion(console: Console, result: Analysis) -> None:
    """The conclusion block: findings from tests that passed, then the next step."""
    console.print("[bold]Conclusion[/] (only from tests that passed)", highlight=False)
    for line in result.conclusion.findings:
        console.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
    console.print(f"  [bold]next step:[/] {escape(result.conclusion.next_step)}",
                  highlight=False, soft_wrap=True)  # fmt: skip
