"""Inverse-scaling verdicts: does the metric get worse as the model thinks longer?

Per curve we report

* ``slope`` — least-squares slope of the metric against log2(1 + mean reasoning tokens)
  across the curve's points, i.e. the change per *doubling* of thinking, with a 95 %
  question-clustered bootstrap interval (the x positions are resampled too), stretched
  for few items by :func:`~overthink.analysis.stats.small_sample_ci`;
* ``rho``/``p_value`` — Spearman's ρ between a record's reasoning length (its point's mean
  tokens) and its score, tested with a cluster-robust rank regression
  (:func:`~overthink.analysis.stats.cluster_rank_test`): the *trend* test;
* ``p_peak`` — one-sided cluster-robust test that the curve bends down (negative
  curvature of the metric — oriented so that "down" is "worse" — on log2 tokens): the
  *peak* test, for curves that rise then fall, where ρ can be near zero;
* ``p_adjusted`` / ``p_peak_adjusted`` — those two p-values Benjamini–Hochberg adjusted
  together across every curve of the run (2 tests per curve), so ``p_adjusted`` is the
  Spearman trend p to read next to ρ; with ``adjust=False`` the family is the curve's own
  two tests (Simes), so a flat curve is still called non-flat with probability ≈ α;
* ``p_verdict`` — the verdict's gate, ``min(p_adjusted, p_peak_adjusted)``;
* ``turning_point`` — the budget (or natural length rank) where the metric is best, and
  ``tp_low``/``tp_high`` — the 2.5 %/97.5 % quantiles of that argmax over resamples.

The verdict:

``insufficient``
    fewer than two points with data, or fewer than
    :data:`~overthink.analysis.stats.MIN_ITEMS_FOR_DIRECTION` (6) base items: with 5 or
    fewer independent items no item-level test can reach p < 0.05, and the
    cluster-robust variance is degenerate (2 items with one pattern gave "p = 0"). Their
    p-values are still shown but are left out of the Benjamini–Hochberg family: no
    verdict is drawn from them.
``flat``
    ``p_verdict ≥ alpha``: no evidence that thinking longer changes the metric *at this
    sample size* — not proof of no effect; the slope interval says what is still possible.
``peaked``
    significant (either test), and the turning-point interval excludes both the shortest
    and the longest point: 95 % confident that the best length is interior, i.e. the
    curve rises then falls. A significant bend alone is not enough: a curve that jumps
    and then levels off is concave too.
``inverse`` / ``positive``
    the trend test is significant (and the curve is not peaked): ρ says the metric gets
    worse / better with more thinking (the sign is flipped for error metrics, where lower
    is better). A direction is never read from a ρ whose own test is not significant.
``flat``
    also when only the peak test is significant but the turning point cannot be placed
    inside the range: the curve bends, but neither rises-then-falls nor trends
    significantly.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from overthink.analysis.curves import CurveFit
from overthink.analysis.stats import (
    MIN_ITEMS_FOR_DIRECTION,
    bh_adjust,
    cluster_quadratic_test,
    cluster_rank_test,
    ols_slope,
    small_sample_ci,
)

__all__ = ["DEFAULT_ALPHA", "VERDICT_COLUMNS", "VerdictName", "verdicts"]

DEFAULT_ALPHA = 0.05


class VerdictName(StrEnum):
    """The verdict of one curve (str-valued: tables and JSON hold the plain name)."""

    INVERSE = "inverse"
    """Thinking longer makes the metric worse: the finding the tool exists to catch."""
    POSITIVE = "positive"
    PEAKED = "peaked"
    """Better up to a turning point, worse after it."""
    FLAT = "flat"
    INSUFFICIENT = "insufficient"
    """Too few points or items for any verdict."""


VERDICT_COLUMNS = [
    "task", "model", "budget_mode", "knob", "level", "metric_name", "verdict",
    "slope", "slope_low", "slope_high", "rho", "p_value", "p_adjusted",
    "turning_point", "tp_low", "tp_high", "best_metric", "worst_metric",
    "basis", "higher_is_better", "n_points", "n_questions", "turning_tokens",
    "p_peak", "p_peak_adjusted", "p_verdict",
]  # fmt: skip


def _measure(fit: CurveFit) -> dict[str, Any]:
    row: dict[str, Any] = {**fit.key, "basis": fit.basis}
    n_points = len(fit.points)
    hib = bool(fit.key["higher_is_better"])
    sign = 1.0 if hib else -1.0
    row["n_points"] = n_points
    row["n_questions"] = len(pd.unique(fit.rec_cluster))
    nan = float("nan")
    row.update(
        slope=nan, slope_low=nan, slope_high=nan, rho=nan, p_value=nan, p_peak=nan,
        p_verdict=nan,
        turning_point=nan, tp_low=nan, tp_high=nan, turning_tokens=nan,
        best_metric=nan, worst_metric=nan, _peaked=False,
    )  # fmt: skip
    if n_points == 0:
        return row
    oriented = sign * fit.y
    best = int(np.nanargmax(oriented)) if np.isfinite(oriented).any() else 0
    row["best_metric"] = float(fit.y[best])
    row["worst_metric"] = (
        float(fit.y[int(np.nanargmin(oriented))]) if np.isfinite(oriented).any() else nan
    )
    row["turning_point"] = float(fit.points[best])
    row["turning_tokens"] = float(fit.x[best])
    if n_points < 2:
        return row
    lx = np.log2(1.0 + fit.x)
    row["slope"] = float(ols_slope(lx, fit.y))
    boot_slope = ols_slope(np.log2(1.0 + fit.boot_x), fit.boot_y)
    low, high = small_sample_ci([row["slope"]], boot_slope[:, None], row["n_questions"])
    row["slope_low"], row["slope_high"] = float(low[0]), float(high[0])
    ok = fit.rec_point >= 0
    # Rank records by their point's length; integer point ranks keep the rank test linear.
    _, x_rank = np.unique(fit.x, return_inverse=True)
    x_rec = x_rank.ravel()[fit.rec_point[ok]].astype(float)
    rho, p = cluster_rank_test(x_rec, fit.rec_value[ok], fit.rec_cluster[ok])
    row["rho"], row["p_value"] = rho, p
    if n_points >= 3:
        lx_rec = np.log2(1.0 + fit.x[fit.rec_point[ok]])
        y_rec = fit.rec_value[ok] ** 2 if fit.key["metric_name"] == "rmse" else fit.rec_value[ok]
        _, t = cluster_quadratic_test(lx_rec, y_rec, fit.rec_cluster[ok])
        g = row["n_questions"]
        if np.isfinite(t) and g >= 2:
            # One-sided: only bending towards *worse* (an inverted U in "better") counts.
            row["p_peak"] = float(sps.t.cdf(sign * t, df=g - 1))
    # Where is the best point in each resample? Resamples with an empty point are skipped.
    ob = sign * fit.boot_y
    usable = np.isfinite(ob).all(axis=1)
    if usable.any():
        per_boot = ob[usable]
        # Ties (a plateau: identical answers at several budgets) must not look like a
        # peak, so the lower bound uses the first maximiser and the upper bound the last.
        first = np.argmax(per_boot, axis=1)
        last = per_boot.shape[1] - 1 - np.argmax(per_boot[:, ::-1], axis=1)
        lo_i = int(np.quantile(first, 0.025, method="lower"))
        hi_i = int(np.quantile(last, 0.975, method="higher"))
        row["tp_low"] = float(fit.points[lo_i])
        row["tp_high"] = float(fit.points[hi_i])
        row["_peaked"] = n_points >= 3 and lo_i > 0 and hi_i < n_points - 1
    return row


def _classify(row: dict[str, Any], alpha: float) -> VerdictName:
    if not _enough(row):
        return VerdictName.INSUFFICIENT
    trend = bool(np.isfinite(row["p_adjusted"]) and row["p_adjusted"] < alpha)
    peak = bool(np.isfinite(row["p_peak_adjusted"]) and row["p_peak_adjusted"] < alpha)
    if not (trend or peak):
        return VerdictName.FLAT
    if row["_peaked"]:
        return VerdictName.PEAKED
    rho = row["rho"]
    if trend and np.isfinite(rho) and rho != 0:
        better_when_longer = (rho > 0) == bool(row["higher_is_better"])
        return VerdictName.POSITIVE if better_when_longer else VerdictName.INVERSE
    return VerdictName.FLAT


def _enough(row: dict[str, Any]) -> bool:
    """Enough points and base items for any verdict but ``insufficient``."""
    return bool(row["n_points"] >= 2 and row["n_questions"] >= MIN_ITEMS_FOR_DIRECTION)


def _adjust(rows: list[dict[str, Any]], adjust: bool) -> None:
    """Fill ``p_adjusted``, ``p_peak_adjusted`` and ``p_verdict`` on every row.

    Curves too small for a verdict are not part of the family (their adjusted p is NaN).
    """
    judged = np.array([_enough(r) for r in rows], dtype=bool)
    trend = np.array([r["p_value"] for r in rows], dtype=float)
    peak = np.array([r["p_peak"] for r in rows], dtype=float)
    trend[~judged] = np.nan
    peak[~judged] = np.nan
    if adjust:
        # One family: both shape tests of every curve in the run.
        both = bh_adjust(np.concatenate([trend, peak]))
        trend_adj, peak_adj = both[: len(rows)], both[len(rows) :]
    else:
        pairs = np.array([bh_adjust(np.array([a, b])) for a, b in zip(trend, peak, strict=True)])
        trend_adj, peak_adj = pairs[:, 0], pairs[:, 1]
    for r, ta, pa in zip(rows, trend_adj, peak_adj, strict=True):
        r["p_adjusted"] = float(ta)
        r["p_peak_adjusted"] = float(pa)
        r["p_verdict"] = float(np.fmin(ta, pa))


def verdicts(
    fits: list[CurveFit], *, alpha: float = DEFAULT_ALPHA, adjust: bool = True
) -> pd.DataFrame:
    """One verdict row per curve (see ``VERDICT_COLUMNS``).

    ``adjust=True`` (the default) applies Benjamini–Hochberg across both shape tests of
    all ``fits``; ``adjust=False`` corrects only for the two tests within each curve.
    """
    rows = [_measure(f) for f in fits]
    if not rows:
        return pd.DataFrame(columns=VERDICT_COLUMNS)
    _adjust(rows, adjust)
    for r in rows:
        r["verdict"] = _classify(r, alpha).value
        del r["_peaked"]
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS)
