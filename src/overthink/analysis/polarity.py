"""Reading a matching-behaviour rate: which direction is safe, and what a verdict may claim.

Risk tasks score the **matching-behaviour rate** (``matching_rate``): the share of answers
that pick the option a model "exhibiting the behaviour" would pick. Whether that is good
depends on the file (``meta.polarity``, see :mod:`overthink.tasks.mwe_polarity`):

* ``matching_is_safe`` — higher is better; the safe rate equals the matching rate;
* ``matching_is_unsafe`` — lower is better; the safe rate is ``1 - matching``;
* ``unknown`` (or records that disagree) — no safety claim: there is no safe rate, and a
  significant trend is reported as ``rises`` / ``falls`` instead of ``positive`` /
  ``inverse`` (turning points and best → worst then only order the rate, high first).

:func:`annotate` adds ``polarity`` to the curve and verdict tables and the ``safe_rate``
(with its interval) to the curves where the direction is known.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "MATCHING_RATE",
    "METRIC_MEANINGS",
    "annotate",
    "group_polarity",
    "higher_is_better",
    "metric_rows",
    "polarity_notes",
    "task_polarity",
]

MATCHING_RATE = "matching_rate"
"""Metric family (and metric name) of risk tasks."""
_SAFE, _UNSAFE, _UNKNOWN = "matching_is_safe", "matching_is_unsafe", "unknown"
METRIC_MEANINGS = {
    "accuracy": "accuracy (fraction correct, higher is better)",
    "matching_rate": "matching-behaviour rate (fraction of answers exhibiting the behaviour)",
    "mae": "mean absolute error (answer units, lower is better)",
    "rmse": "RMSE (answer units, lower is better)",
}
"""What each metric name means (a matching rate's direction: see its polarity)."""

# Neutral words for a significant trend of a rate whose good direction is unknown.
_NEUTRAL = {"positive": "rises", "inverse": "falls"}


def higher_is_better(family: str, polarity: str = _UNKNOWN) -> bool:
    """Whether a higher value of the metric is better.

    Regression errors fall when better; a matching rate falls when matching is unsafe.
    With unknown polarity this returns True, which only orders the rate (see module doc).
    """
    if family == "regression":
        return False
    return not (family == MATCHING_RATE and polarity == _UNSAFE)


def _one(values: Any) -> str:
    """The single polarity of some records (``unknown`` if absent, mixed or unrecognised)."""
    known = {str(v) for v in pd.unique(pd.Series(values).dropna())}
    if len(known) == 1:
        (value,) = known
        if value in (_SAFE, _UNSAFE):
            return value
    return _UNKNOWN


def group_polarity(frame: pd.DataFrame, positions: Any) -> str:
    """Polarity of the records at ``positions`` of ``frame`` (``meta.polarity``)."""
    if "meta.polarity" not in frame.columns:
        return _UNKNOWN
    return _one(frame["meta.polarity"].to_numpy()[positions])


def task_polarity(frame: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """``(polarity, measures)`` per task of a records frame (tasks that record a polarity;
    ``measures``, what a high rate means, is "" unless every record agrees on it)."""
    if frame.empty or "meta.polarity" not in frame.columns:
        return {}
    has = frame[frame["meta.polarity"].notna()]
    out = {}
    for task, sub in has.groupby("task", sort=True):
        measures = ""
        if "meta.measures" in sub.columns:
            said = {str(v) for v in pd.unique(sub["meta.measures"].dropna())}
            measures = said.pop() if len(said) == 1 else ""
        out[str(task)] = (_one(sub["meta.polarity"]), measures)
    return out


def _column(table: pd.DataFrame, polarity: dict[str, tuple[str, str]], part: int) -> pd.Series:
    """Per row: the task's polarity (``part`` 0) or measures (1); "" for other metrics."""
    is_rate = table["metric_name"].astype(str) == MATCHING_RATE
    task = table["task"].astype(str)
    default = (_UNKNOWN, "")
    values = [
        polarity.get(t, default)[part] if r else "" for t, r in zip(task, is_rate, strict=True)
    ]
    return pd.Series(values, index=table.index, dtype=object)


def annotate(
    curves: pd.DataFrame, verdicts: pd.DataFrame, polarity: dict[str, tuple[str, str]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Curves and verdicts with ``polarity`` and ``measures`` columns ("" for other
    metrics); curves also get ``safe_rate``/``safe_low``/``safe_high`` (NaN unless the
    direction is known), and verdicts of unknown direction say ``rises``/``falls``."""
    curves = curves.copy()
    verdicts = verdicts.copy()
    nan = np.full(len(curves), np.nan)
    for part, name in enumerate(("polarity", "measures")):
        curves[name] = _column(curves, polarity, part) if len(curves) else pd.Series(dtype=object)
    safe, low, high = nan.copy(), nan.copy(), nan.copy()
    if len(curves):
        pol = curves["polarity"].to_numpy()
        metric = pd.to_numeric(curves["metric"], errors="coerce").to_numpy(dtype=float)
        lo = pd.to_numeric(curves["ci_low"], errors="coerce").to_numpy(dtype=float)
        hi = pd.to_numeric(curves["ci_high"], errors="coerce").to_numpy(dtype=float)
        is_safe, is_unsafe = pol == _SAFE, pol == _UNSAFE
        safe = np.where(is_safe, metric, np.where(is_unsafe, 1.0 - metric, np.nan))
        low = np.where(is_safe, lo, np.where(is_unsafe, 1.0 - hi, np.nan))
        high = np.where(is_safe, hi, np.where(is_unsafe, 1.0 - lo, np.nan))
    curves["safe_rate"], curves["safe_low"], curves["safe_high"] = safe, low, high
    if len(verdicts):
        verdicts["polarity"] = _column(verdicts, polarity, 0)
        verdicts["measures"] = _column(verdicts, polarity, 1)
        unknown = verdicts["polarity"] == _UNKNOWN
        verdicts.loc[unknown, "verdict"] = verdicts.loc[unknown, "verdict"].map(
            lambda v: _NEUTRAL.get(str(v), v)
        )
    else:
        verdicts["polarity"] = pd.Series(dtype=object)
        verdicts["measures"] = pd.Series(dtype=object)
    return curves, verdicts


def metric_rows(curves: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per (task, metric): its name, direction, polarity and meaning in words."""
    from overthink.tasks.mwe_polarity import describe_polarity

    if curves.empty:
        return []
    cols = ["task", "metric_name", "higher_is_better", "polarity", "measures"]
    present = [c for c in cols if c in curves.columns]
    out = []
    for row in curves[present].drop_duplicates(["task", "metric_name"]).to_dict("records"):
        name, pol = str(row["metric_name"]), str(row.get("polarity", "") or "")
        meaning = METRIC_MEANINGS.get(name, name)
        if name == MATCHING_RATE:
            measures = str(row.get("measures", "") or "")
            meaning = f"{meaning}; {describe_polarity(pol or _UNKNOWN, measures)}"
        better: bool | None = bool(row["higher_is_better"])
        if name == MATCHING_RATE and pol not in (_SAFE, _UNSAFE):
            better = None  # no direction is claimed
        out.append({
            "task": str(row["task"]), "metric_name": name,
            "higher_is_better": better, "polarity": pol,
            "meaning": meaning,
        })  # fmt: skip
    return out


def polarity_notes(verdicts: pd.DataFrame) -> list[str]:
    """One note per risk task in a verdict frame: how to read its matching-behaviour rate
    (its polarity). Shared by the report's captions and the terminal verdict table, and
    kept here so the terminal table never loads the report (and its matplotlib)."""
    from overthink.tasks.mwe_polarity import describe_polarity

    if "polarity" not in verdicts.columns:
        return []
    rows = verdicts[verdicts["polarity"].astype(str) != ""]
    pairs = (
        rows[["task", "polarity", "measures"]]
        if "measures" in rows
        else rows.assign(measures="")[["task", "polarity", "measures"]]
    )
    return [
        f"{task}: {describe_polarity(str(pol), str(what))}"
        for task, pol, what in pairs.drop_duplicates().itertuples(index=False)
    ]
