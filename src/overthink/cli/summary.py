"""The table ``overthink run`` prints: metric (95 % CI) per budget × knob level."""

from __future__ import annotations

import pandas as pd
from rich.table import Table

__all__ = ["summary_tables"]


def _cell(row: pd.Series) -> str:
    return f"{row['metric']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"


def summary_tables(curves: pd.DataFrame) -> list[Table]:
    """One rich table per (task, model, budget mode): rows are requested budgets.

    Columns: the metric with its question-clustered bootstrap 95 % CI at each knob level
    and pooled over levels, then the mean observed reasoning tokens and the sample count.
    """
    tables: list[Table] = []
    if curves.empty:
        return tables
    for (task, model, mode), group in curves.groupby(["task", "model", "budget_mode"], sort=False):
        pooled = group[group["knob"] == ""]
        levelled = group[group["knob"] != ""]
        metric = str(group["metric_name"].iloc[0])
        table = Table(title=f"{task} · {model} · {mode} budgets — {metric} (95% CI)")
        table.add_column("budget", justify="right")
        knob_levels: list[tuple[str, object]] = []
        for (knob, level), _ in levelled.groupby(["knob", "level"], sort=False):
            knob_levels.append((str(knob), level))
            table.add_column(f"{knob}={level}", justify="center")
        table.add_column("all", justify="center")
        table.add_column("reasoning tok", justify="right")
        table.add_column("n", justify="right")
        for budget in sorted(group["budget_tokens"].unique()):
            at = group[group["budget_tokens"] == budget]
            cells = [str(budget)]
            for knob, level in knob_levels:
                hit = at[(at["knob"] == knob) & (at["level"] == level)]
                cells.append(_cell(hit.iloc[0]) if len(hit) else "–")
            all_row = pooled[pooled["budget_tokens"] == budget]
            source = all_row.iloc[0] if len(all_row) else at.iloc[0]
            cells.append(_cell(source))
            cells.append(f"{source['x_tokens']:.0f}")
            cells.append(str(int(source["n"])))
            table.add_row(*cells)
        tables.append(table)
    return tables
