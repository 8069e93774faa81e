"""The verdict table: one row per curve, as plain cells the template escapes and the page sorts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from overthink.analysis.polarity import polarity_notes
from overthink.formatting import fmt_num, fmt_p, is_missing
from overthink.report.style import VERDICT_COLOURS, level_label, metric_label

__all__ = ["Cell", "Table", "ab_table", "cube_slope_table", "drift_table", "verdict_table"]

# Inverse scaling first when sorting by verdict: it is what the reader is looking for.
_VERDICT_ORDER = ("inverse", "peaked", "positive", "flat", "insufficient")


@dataclass(frozen=True)
class Cell:
    """A table cell: shown text, a sort key, and an optional background colour."""

    text: str
    sort: str | float = ""
    colour: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class Table:
    """Header (label, kind) pairs, kind ``num`` or ``text`` for sorting, and rows of cells."""

    header: list[tuple[str, str]]
    rows: list[list[Cell]]
    caption: str = ""
    """What every row shares (e.g. the metric), said once."""


def _float(value: Any) -> float:
    if is_missing(value):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _num_cell(value: Any) -> Cell:
    number = _float(value)
    return Cell(fmt_num(value), number if math.isfinite(number) else "")


def _ci_cell(value: Any, low: Any, high: Any) -> Cell:
    number = _float(value)
    text = fmt_num(value)
    if not (is_missing(low) and is_missing(high)):
        text += f" [{fmt_num(low)}, {fmt_num(high)}]"
    return Cell(text, number if math.isfinite(number) else "")


def _text_cell(value: Any) -> Cell:
    text = "" if is_missing(value) else str(value)
    return Cell(text, text.lower())


def _turning_cell(rec: dict[Any, Any]) -> Cell:
    """Where the metric is best: a requested budget, or a length rank for natural runs,
    with the mean observed tokens there so both kinds read in tokens."""
    cell = _ci_cell(rec.get("turning_point"), rec.get("tp_low"), rec.get("tp_high"))
    if cell.text == "—":
        return cell
    rank = rec.get("basis") == "natural_rank"
    text = ("rank " if rank else "budget ") + cell.text
    tokens = _float(rec.get("turning_tokens"))
    if math.isfinite(tokens):
        text += f" (≈{tokens:,.0f} tok)"
    return Cell(text, cell.sort)


def verdict_table(verdicts: pd.DataFrame) -> Table:
    """Rows of the verdict table; the model column appears only when there are several."""
    several_models = "model" in verdicts.columns and verdicts["model"].nunique(dropna=True) > 1
    # A column that says the same thing on every row is left out (the caption names it).
    several_metrics = (
        "metric_name" in verdicts.columns and verdicts["metric_name"].nunique(dropna=True) > 1
    )
    header: list[tuple[str, str]] = [("task", "text")]
    if several_models:
        header.append(("model", "text"))
    header += [("budget mode", "text"), ("knob level", "text")]
    if several_metrics:
        header.append(("metric", "text"))
    header += [
        ("verdict", "num"),
        ("slope per doubling [95% CI]", "num"),
        ("Spearman ρ (p adj.)", "num"),
        ("turning point [95% CI]", "num"),
        ("best", "num"),
        ("worst", "num"),
    ]
    rows: list[list[Cell]] = []
    for rec in verdicts.to_dict(orient="records"):
        verdict = "" if is_missing(rec.get("verdict")) else str(rec["verdict"])
        order = _VERDICT_ORDER.index(verdict) if verdict in _VERDICT_ORDER else len(_VERDICT_ORDER)
        rho = _float(rec.get("rho"))
        p_adj = rec.get("p_adjusted", rec.get("p_value"))
        rho_text = fmt_num(rec.get("rho"))
        if not is_missing(p_adj):
            p_text = fmt_p(p_adj)
            rho_text += f" (p{p_text})" if p_text.startswith("<") else f" (p={p_text})"
        row = [_text_cell(rec.get("task"))]
        if several_models:
            row.append(_text_cell(rec.get("model")))
        row += [
            _text_cell(rec.get("budget_mode")),
            _text_cell(level_label(rec.get("knob"), rec.get("level"))),
        ]
        if several_metrics:
            row.append(_text_cell(rec.get("metric_name")))
        row += [
            Cell(verdict or "—", float(order), VERDICT_COLOURS.get(verdict)),
            _ci_cell(rec.get("slope"), rec.get("slope_low"), rec.get("slope_high")),
            Cell(rho_text, rho if math.isfinite(rho) else ""),
            # One point has no turning point, whatever argmax says.
            Cell("—") if verdict == "insufficient" else _turning_cell(rec),
            _num_cell(rec.get("best_metric")),
            _num_cell(rec.get("worst_metric")),
        ]
        rows.append(row)
    caption = ""
    if not several_metrics and "metric_name" in verdicts.columns and len(verdicts):
        caption = f"Metric: {metric_label(verdicts['metric_name'].iloc[0])}."
    caption = " ".join([caption, *(f"{n}." for n in polarity_notes(verdicts))]).strip()
    return Table(header=header, rows=rows, caption=caption)


def cube_slope_table(slopes: pd.DataFrame) -> Table:
    """Per-level length slopes and the length × knob interaction from the cube."""
    header = [
        ("task", "text"),
        ("model", "text"),
        ("budget mode", "text"),
        ("knob level", "text"),
        ("slope vs length [95% CI]", "num"),
        ("interaction slope", "num"),
        ("interaction p", "num"),
    ]
    rows = [
        [
            _text_cell(rec.get("task")),
            _text_cell(rec.get("model")),
            _text_cell(rec.get("budget_mode", "")),
            _text_cell(level_label(rec.get("knob"), rec.get("level"))),
            _ci_cell(rec.get("slope"), rec.get("slope_low"), rec.get("slope_high")),
            _num_cell(rec.get("interaction_slope")),
            _num_cell(rec.get("interaction_p")),
        ]
        for rec in slopes.to_dict(orient="records")
    ]
    return Table(header=header, rows=rows)


def ab_table(ab: pd.DataFrame) -> Table:
    """Controlled vs natural budgets per question, at matched length and at each budget."""
    header = [
        ("task", "text"),
        ("model", "text"),
        ("knob level", "text"),
        ("natural vs", "text"),
        ("at", "text"),
        ("natural", "num"),
        ("controlled", "num"),
        ("natural − controlled [95% CI]", "num"),
        ("base items", "num"),
    ]
    rows = []
    for rec in ab.to_dict(orient="records"):
        matched = rec.get("comparison") == "matched"
        at = "matched length" if matched else f"budget {fmt_num(rec.get('budget_tokens'))}"
        rows.append(
            [
                _text_cell(rec.get("task")),
                _text_cell(rec.get("model")),
                _text_cell(level_label(rec.get("knob"), rec.get("level"))),
                _text_cell(rec.get("controlled_mode")),
                _text_cell(at),
                _num_cell(rec.get("natural_metric")),
                _num_cell(rec.get("controlled_metric")),
                _ci_cell(rec.get("diff"), rec.get("diff_low"), rec.get("diff_high")),
                _num_cell(rec.get("n_items")),
            ]
        )
    caption = (
        "Paired per question; intervals are question-clustered bootstrap CIs over base "
        "items. Matched length compares each question's natural run with its controlled "
        "budget of the nearest observed length."
    )
    return Table(header=header, rows=rows, caption=caption)


def drift_table(drift: pd.DataFrame) -> Table:
    """Spurious-feature drift: the weights the predictions behave as if they used, per
    feature and budget, next to the true generating weights."""
    header = [
        ("task", "text"),
        ("model", "text"),
        ("budget", "text"),
        ("level", "text"),
        ("feature", "text"),
        ("true weight", "num"),
        ("model's implied weight", "num"),
        ("weight drift", "num"),
        ("corr(prediction, feature)", "num"),
        ("corr(true grade, feature)", "num"),
        ("n", "num"),
    ]
    rows = [
        [
            _text_cell(rec.get("task")),
            _text_cell(rec.get("model")),
            _text_cell(f"{rec.get('budget_mode')}:{rec.get('budget_tokens')}"),
            _text_cell(rec.get("level")),
            _text_cell(rec.get("feature")),
            _num_cell(rec.get("true_weight")),
            _num_cell(rec.get("pred_weight")),
            _num_cell(rec.get("weight_drift")),
            _num_cell(rec.get("pred_corr")),
            _num_cell(rec.get("true_corr")),
            _num_cell(rec.get("n")),
        ]
        for rec in drift.to_dict(orient="records")
    ]
    caption = (
        "Only study hours cause grades; a non-zero implied weight on another feature means "
        "the predictions follow a spurious feature. Implied weights are a least-squares fit "
        "on all six features at once: with fewer than ~10 rows (n) per feature they are "
        "noisy, so compare them with the correlations and run more samples."
    )
    return Table(header=header, rows=rows, caption=caption)
