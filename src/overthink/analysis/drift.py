"""Spurious-feature drift on regression tasks (the paper's grades analysis).

In ``grades_regression`` only study hours cause grades; sleep, stress and the rest are
merely correlated with study hours. A model whose predictions correlate with those
features *more* than the true grades do — or whose implied regression weights on them
move away from zero — is drifting to spurious features. These functions compute that
from a DataFrame of records with one row per record and columns ``answer`` (str | None),
``target`` and ``meta.<key>`` for every meta key (``meta.study_hours``...). Rows without
the feature columns (other tasks) are ignored, and so are trials that errored (a
``failed`` column as added by ``analysis.frame``, or a non-empty ``error``): they are not
parse failures.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from overthink.tasks.extract import parse_number
from overthink.tasks.registry import known_weight_sets

__all__ = ["DRIFT_TABLE_COLUMNS", "feature_drift", "regression_errors", "run_drift"]

_DRIFT_COLUMNS = [
    "feature", "n", "n_unparsed", "pred_corr", "true_corr", "corr_drift",
    "true_weight", "pred_weight", "fitted_weight", "weight_drift",
]  # fmt: skip
_ERROR_COLUMNS = ["n", "n_unparsed", "mae", "rmse", "median_ae"]


def _number(value: Any) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    parsed = parse_number(str(value))
    return math.nan if parsed is None else parsed


def _prepared(df: pd.DataFrame, features: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """Rows that carry every feature, with numeric ``_pred``/``_true`` columns added."""
    for col in ("answer", "target"):
        if col not in df.columns:
            raise ValueError(f"records need an {col!r} column")
    cols = [f"meta.{f}" for f in features if f"meta.{f}" in df.columns]
    if not cols:
        wanted = ", ".join(f"meta.{f}" for f in features)
        raise ValueError(f"no feature columns in the records (looked for {wanted})")
    out = _without_failed(df)
    for col in cols:
        out[col] = pd.to_numeric(out[col], errors="coerce")
    out = out.dropna(subset=cols)
    out["_pred"] = [_number(a) for a in out["answer"]]
    out["_true"] = [_number(t) for t in out["target"]]
    return out, cols


def _without_failed(df: pd.DataFrame) -> pd.DataFrame:
    """Drop trials that errored: they have no answer, but they are not parse failures."""
    if "failed" in df.columns:
        return df[~df["failed"].fillna(False).astype(bool)].copy()
    if "error" in df.columns:
        err = df["error"]
        return df[~(err.notna() & (err.astype(str) != ""))].copy()
    return df.copy()


def _groups(df: pd.DataFrame, by: list[str]) -> Iterator[tuple[tuple[Any, ...], pd.DataFrame]]:
    if not by:
        yield (), df
        return
    missing = [c for c in by if c not in df.columns]
    if missing:
        raise ValueError(f"cannot group by missing column(s): {', '.join(missing)}")
    for key, group in df.groupby(by, dropna=False, sort=True):
        yield (key if isinstance(key, tuple) else (key,)), group


def _corr(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> float:
    # Undefined (NaN) with fewer than 3 points or a constant column, rather than a warning.
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def _ols(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Least-squares slopes of ``y`` on the columns of ``x`` (with an intercept).

    NaN when there are too few rows or the design is rank-deficient (e.g. a feature
    constant in the group), since such weights would be arbitrary.
    """
    n, k = x.shape
    if n <= k + 1:
        return np.full(k, math.nan)
    design = np.column_stack([np.ones(n), x])
    coef, _, rank, _ = np.linalg.lstsq(design, y, rcond=None)
    if rank < k + 1:
        return np.full(k, math.nan)
    return np.asarray(coef[1:], dtype=float)


def feature_drift(
    df: pd.DataFrame,
    by: list[str] | None = None,
    *,
    features: Sequence[str] | None = None,
    weights: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Per group and feature: how the model's predictions relate to each feature vs the truth.

    Args:
        df: records, one row each, with ``answer``, ``target`` and ``meta.<feature>``
            columns (see the module docstring).
        by: columns to group by (e.g. ``["model", "budget_tokens", "meta.shots"]``);
            None or ``[]`` for one overall group.
        features: feature names (default: the keys of ``weights``).
        weights: true generating weights (default: those the tasks declare in
            ``Task.known_weights``, i.e. ``grades_regression``'s); features missing from
            it get NaN.

    Returns:
        One row per (group, feature) with the ``by`` columns and:
        ``n`` parsed predictions, ``n_unparsed`` records whose answer was unparseable
        (excluded), ``pred_corr`` = corr(prediction, feature), ``true_corr`` =
        corr(true grade, feature) on the same rows, ``corr_drift`` = pred_corr −
        true_corr, ``true_weight`` from the generating model, ``pred_weight`` = the
        feature's slope in a least-squares fit of the predictions on all features (the
        weights the model behaves as if it used), ``fitted_weight`` = the same fit on the
        true grades (recovers ``true_weight`` given enough rows), ``weight_drift`` =
        pred_weight − true_weight. Undefined statistics are NaN.
    """
    by = list(by or [])
    truth = dict(_declared_weights() if weights is None else weights)
    feats = list(features or truth)
    data, cols = _prepared(df, feats)
    present = [c.removeprefix("meta.") for c in cols]
    rows: list[dict[str, Any]] = []
    for key, group in _groups(data, by):
        parsed = group[group["_pred"].notna() & group["_true"].notna()]
        x = parsed[cols].to_numpy(dtype=float)
        pred = parsed["_pred"].to_numpy(dtype=float)
        true = parsed["_true"].to_numpy(dtype=float)
        pred_w, fit_w = _ols(x, pred), _ols(x, true)
        n_unparsed = int(group["_pred"].isna().sum())
        for j, feat in enumerate(present):
            pc, tc = _corr(pred, x[:, j]), _corr(true, x[:, j])
            tw = truth.get(feat, math.nan)
            rows.append(
                {
                    **dict(zip(by, key, strict=True)),
                    "feature": feat,
                    "n": len(parsed),
                    "n_unparsed": n_unparsed,
                    "pred_corr": pc,
                    "true_corr": tc,
                    "corr_drift": pc - tc,
                    "true_weight": tw,
                    "pred_weight": float(pred_w[j]),
                    "fitted_weight": float(fit_w[j]),
                    "weight_drift": float(pred_w[j]) - tw,
                }
            )
    return pd.DataFrame(rows, columns=[*by, *_DRIFT_COLUMNS])


def _declared_weights() -> dict[str, float]:
    """Every task's declared generating weights, merged (one task declares them today)."""
    merged: dict[str, float] = {}
    for weights in known_weight_sets().values():
        merged.update(weights)
    return merged


def regression_errors(df: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """MAE, RMSE and median absolute error per group; unparseable answers are counted.

    Uses ``answer`` and ``target`` (parsed as numbers), so it works on any regression
    records, not only grades. Rows whose target is not a number are dropped.
    """
    by = list(by or [])
    for col in ("answer", "target"):
        if col not in df.columns:
            raise ValueError(f"records need an {col!r} column")
    data = _without_failed(df)
    data["_pred"] = [_number(a) for a in data["answer"]]
    data["_true"] = [_number(t) for t in data["target"]]
    data = data[data["_true"].notna()]
    rows: list[dict[str, Any]] = []
    for key, group in _groups(data, by):
        ok = group[group["_pred"].notna()]
        err = (ok["_pred"] - ok["_true"]).abs().to_numpy(dtype=float)
        rows.append(
            {
                **dict(zip(by, key, strict=True)),
                "n": len(err),
                "n_unparsed": int(group["_pred"].isna().sum()),
                "mae": float(err.mean()) if len(err) else math.nan,
                "rmse": float(np.sqrt((err**2).mean())) if len(err) else math.nan,
                "median_ae": float(np.median(err)) if len(err) else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=[*by, *_ERROR_COLUMNS])


DRIFT_TABLE_COLUMNS = [
    "task", "model", "budget_mode", "budget_tokens", "level", *_DRIFT_COLUMNS,
]  # fmt: skip
"""Columns of the ``drift`` table of an analysis (``level``: ``all`` or ``shots=N``)."""


def run_drift(single: pd.DataFrame) -> pd.DataFrame:
    """Feature drift per (task, model, budget) of every task whose records carry the
    generating features (``grades_regression`` and files exported from it), pooled over
    knob levels and per ``shots`` level when there is one. Empty when none do."""
    parts: list[pd.DataFrame] = []
    # One pass per distinct set of declared weights (a task with known weights, and any
    # file exported from it, carries that set's features in every record's meta).
    seen: set[tuple[tuple[str, float], ...]] = set()
    for weights in known_weight_sets().values():
        ident = tuple(weights.items())
        if ident in seen:
            continue
        seen.add(ident)
        parts += _drift_of(single, dict(weights))
    if not parts:
        return pd.DataFrame(columns=DRIFT_TABLE_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    return out[DRIFT_TABLE_COLUMNS].reset_index(drop=True)


def _drift_of(single: pd.DataFrame, weights: dict[str, float]) -> list[pd.DataFrame]:
    """Drift tables (pooled, and per ``shots`` level) of the records carrying ``weights``'
    features; none when no record does."""
    wanted = [f"meta.{f}" for f in weights]
    if single.empty or not all(c in single.columns for c in wanted):
        return []
    has_features = single[wanted].notna().all(axis=1)
    data = single[has_features]
    if data.empty:
        return []
    by = ["task", "model", "budget_mode", "budget_tokens"]
    parts = [feature_drift(data, by, weights=weights).assign(level="all")]
    if "meta.shots" in data.columns and data["meta.shots"].notna().any():
        per_shots = feature_drift(data, [*by, "meta.shots"], weights=weights)
        per_shots["level"] = [f"shots={int(v)}" for v in per_shots.pop("meta.shots")]
        parts.append(per_shots)
    return parts
