"""Statistics with few questions: no verdict from 2 items, no p = 0, intervals that cover.

Issue #11: a 2-question run printed ``positive, p adj 0``; under no effect 21–27 % of
2-question runs got a direction, almost all with p exactly 0, because the cluster-robust
variance collapses when every question has the same pattern. And the percentile
bootstrap's intervals covered only ~90 % at 12 base items.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from overthink.analysis import analyze, records_frame
from overthink.analysis.pipeline import scaling_verdicts
from overthink.analysis.stats import (
    MIN_ITEMS_FOR_DIRECTION,
    ci_inflation,
    cluster_quadratic_test,
    cluster_rank_test,
    proportion_ci,
)
from overthink.core import Record
from overthink.testing.synthetic import synthetic_frame


def _identical_items(n_items: int, flipped: int = 0) -> pd.DataFrame:
    """Every item right only below 1,000 tokens, at budgets 256, 512 and 2048 (the last
    ``flipped`` items the other way round)."""
    records = []
    for q in range(n_items):
        for b in (256, 512, 2048):
            right = (b < 1000) != (q >= n_items - flipped)
            records.append(
                Record(run="r", trial_id=f"{q}-{b}", task="t", sample_id=f"q{q}", model="m",
                       budget_mode="forced", budget_tokens=b, answer="2",
                       score=float(right), reasoning_tokens=b)
            )  # fmt: skip
    return records_frame(records)


def test_two_identical_questions_get_no_p_value_and_no_verdict() -> None:
    # Before: verdict "inverse" with p = 0 (the clustered variance was exactly 0).
    _, ver = scaling_verdicts(_identical_items(2), n_boot=200)
    row = ver.iloc[0]
    assert row["verdict"] == "insufficient"
    assert np.isnan(row["p_value"]) and np.isnan(row["p_adjusted"])
    assert row["n_questions"] == 2


def test_rank_test_degenerate_variance_means_no_p_value() -> None:
    x = np.tile([0.0, 1.0, 2.0], 6)
    y = np.tile([1.0, 1.0, 0.0], 6)  # six clusters, one pattern: variance exactly 0
    cluster = np.repeat(np.arange(6), 3)
    rho, p = cluster_rank_test(x, y, cluster)
    assert rho < 0
    assert np.isnan(p)  # before: 0.0
    # Every outcome identical: ρ is undefined and there is no p-value either (before: 1.0).
    assert all(np.isnan(v) for v in cluster_rank_test(x, np.ones(18), cluster))


def test_quadratic_test_degenerate_variance_means_no_statistic() -> None:
    x = np.tile([0.0, 1.0, 2.0, 3.0], 5)
    cluster = np.repeat(np.arange(5), 4)
    exact = np.tile([0.0, 1.0, 1.0, 0.0], 5)  # a perfect parabola in every cluster
    _, t = cluster_quadratic_test(x, exact, cluster)
    assert np.isnan(t)  # before: 0.0, i.e. a one-sided p of exactly 0.5
    noisy = exact + np.repeat(np.arange(5), 4) * 1e-17  # round-off only
    _, t = cluster_quadratic_test(x, noisy, cluster)
    assert np.isnan(t)  # before: |t| ~ 1e15, "peaked" with p ≈ 1e-16
    # A real spread between clusters still gives a statistic.
    rng = np.random.default_rng(0)
    _, t = cluster_quadratic_test(x, exact + rng.normal(0, 0.1, 20), cluster)
    assert np.isfinite(t)


@pytest.mark.parametrize("n_items", [2, 3, 5])
def test_no_direction_from_fewer_than_six_items(n_items: int) -> None:
    # 200 null runs of n_items questions each: before, 21–27 % of the 2-item runs got a
    # direction. Below the documented minimum no verdict is given at all.
    df = synthetic_frame(
        tasks=[f"s{i:03d}" for i in range(200)], budgets=(256, 1024, 4096),
        n_questions=n_items, n_samples=1, question_spread=0.3, seed=40 + n_items,
    )  # fmt: skip
    _, ver = scaling_verdicts(df, n_boot=200, seed=1, adjust=False)
    assert n_items < MIN_ITEMS_FOR_DIRECTION
    assert (ver["verdict"] == "insufficient").all()
    assert not (ver["p_value"] == 0).any()


def test_seven_items_can_get_a_verdict() -> None:
    _, ver = scaling_verdicts(_identical_items(7, flipped=1), n_boot=200)
    assert ver.iloc[0]["n_questions"] == 7
    assert np.isfinite(ver.iloc[0]["p_value"])
    assert ver.iloc[0]["verdict"] != "insufficient"


def test_inflation_factor_values() -> None:
    # √(G/(G−1)) · t_{G−1}(0.975) / z(0.975), from tables: t_11 = 2.2010, t_47 = 2.0117.
    assert ci_inflation(12) == pytest.approx(np.sqrt(12 / 11) * 2.2010 / 1.95996, rel=1e-4)
    assert ci_inflation(48) == pytest.approx(np.sqrt(48 / 47) * 2.0117 / 1.95996, rel=1e-4)
    assert np.isnan(ci_inflation(1))


def test_all_items_right_is_not_a_zero_width_interval() -> None:
    # 12 of 12 items right: every resample says 1.0. Before: [1, 1]. Now the Wilson
    # interval of 12 agreeing items: lower bound 12 / (12 + t²) with t = t_11(0.975).
    boot = np.ones((500, 1))
    low, high = proportion_ci(np.array([1.0]), boot, 12, 48)
    assert high[0] == 1.0
    assert low[0] == pytest.approx(12 / (12 + 2.2010**2), abs=1e-3)


def _coverage(table: pd.DataFrame, low: str, high: str, truth: float) -> float:
    ok = table[[low, high]].notna().all(axis=1)
    t = table[ok]
    return float(((t[low] <= truth) & (t[high] >= truth)).mean())


def test_intervals_cover_at_twelve_items() -> None:
    # 300 runs of 12 base items, no effect (true slope 0, true accuracy 0.6 at every
    # budget). Before: slope 89.7–92.3 %, accuracy ~92 %. Target 93–97 %; the full
    # simulation (more settings and estimators) is benchmarks/bench_coverage.py.
    df = synthetic_frame(
        tasks=[f"s{i:03d}" for i in range(300)], budgets=(256, 1024, 4096), n_questions=12,
        n_samples=4, base=0.6, question_spread=0.2, slope=0.0, seed=77,
    )  # fmt: skip
    curves, ver = scaling_verdicts(df, n_boot=600, seed=5)
    assert 0.93 <= _coverage(ver, "slope_low", "slope_high", 0.0) <= 0.975
    assert 0.93 <= _coverage(curves, "ci_low", "ci_high", 0.6) <= 0.975


def test_cube_slope_interval_under_no_effect_at_twelve_items() -> None:
    # Before: the within-question slope's interval excluded 0 in ~11 % of null runs.
    df = synthetic_frame(
        tasks=[f"s{i:03d}" for i in range(150)], budgets=(256, 1024, 4096), n_questions=12,
        n_samples=2, base=0.6, question_spread=0.2, slope=0.0, seed=78,
    )  # fmt: skip
    slopes = analyze(df, n_boot=400, seed=6).cube_slopes
    excludes = (slopes["slope_low"] > 0) | (slopes["slope_high"] < 0)
    assert excludes.mean() <= 0.07
