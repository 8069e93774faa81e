"""Colours, labels and small formatting helpers shared by the plots and the HTML page.

The palette is Okabe–Ito, chosen because its eight colours stay distinguishable under the
common forms of colour-vision deficiency; series that run past eight colours also change
line style, so no two series rely on hue alone.
"""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd

from overthink.formatting import is_missing

__all__ = [
    "LINESTYLES",
    "MARKERS",
    "OKABE_ITO",
    "VERDICT_COLOURS",
    "LineStyle",
    "budget_labels",
    "budget_order",
    "cost_label",
    "level_label",
    "metric_label",
    "series_colour",
]

# Yellow sits last: it has the weakest contrast on a white background.
OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)

LineStyle = Literal["-", "--", ":", "-."]
LINESTYLES: tuple[LineStyle, ...] = ("-", "--", ":", "-.")
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*")

# Background tints for the verdict column; the verdict word is always printed too.
VERDICT_COLOURS: dict[str, str] = {
    "inverse": "#F4C7A8",  # vermillion tint: the finding the tool exists to catch
    "positive": "#B3DDCD",  # bluish-green tint
    "peaked": "#F6DD9E",  # orange tint
    "flat": "#E3E3E3",
    "insufficient": "#FFFFFF",
    # A matching rate of unknown polarity: a trend, not a finding about safety.
    "rises": "#D6E4F0",
    "falls": "#D6E4F0",
}

_METRIC_LABELS: dict[str, str] = {
    "accuracy": "accuracy (fraction correct, higher is better)",
    "safe_rate": "safe-choice rate (fraction, higher is better)",
    "matching_rate": "matching-behaviour rate (fraction choosing the answer that exhibits "
    "the behaviour; whether higher is safer depends on the file, see polarity)",
    "mae": "mean absolute error (answer units, lower is better)",
    "rmse": "RMSE (answer units, lower is better)",
}

_COST_LABELS: dict[str, str] = {
    "tokens": "cost: tokens per question (log scale)",
    "dollars": "cost: US$ per question (log scale)",
    "usd": "cost: US$ per question (log scale)",
    "latency": "cost: latency per question, s (log scale)",
    "eflops": "cost: KV-aware eFLOPs per question (log scale)",
}


def level_label(knob: Any, level: Any) -> str:
    """``distractors=4``, or ``all`` when the task has no knob."""
    if is_missing(knob) and is_missing(level):
        return "all"
    if is_missing(knob):
        return str(level)
    if is_missing(level):
        return f"{knob}=all"
    if isinstance(level, float) and level.is_integer():
        level = int(level)
    return f"{knob}={level}"


def metric_label(name: Any) -> str:
    """Axis label, with units and direction, for a metric name."""
    text = str(name)
    return _METRIC_LABELS.get(text, text)


def cost_label(axis: Any) -> str:
    """Axis label, with units, for a Pareto cost axis."""
    text = str(axis)
    return _COST_LABELS.get(text, f"cost: {text} (log scale)")


def series_colour(index: int) -> str:
    """Colour of the ``index``-th series."""
    return OKABE_ITO[index % len(OKABE_ITO)]


def budget_order(label: str) -> tuple[int, int, str]:
    """Sort key for budget labels: none, then each mode by tokens, then natural."""
    mode, _, tokens = label.partition(":")
    if mode == "none":
        return (0, 0, label)
    if mode == "natural":
        return (2, 0, label)
    try:
        return (1, int(tokens), mode)
    except ValueError:
        return (1, 0, label)


def budget_labels(records: pd.DataFrame) -> pd.Series:
    """``forced:128``-style label per record, matching ``Budget.label``."""
    modes = records["budget_mode"].astype(str)
    tokens = records["budget_tokens"].astype(int).astype(str)
    plain = modes.isin(["natural", "none"])
    return modes.where(plain, modes + ":" + tokens)
