"""Inverse-scaling verdicts on synthetic curves with known truth.

Each synthetic task is an independent simulated curve with its own resampling stream, so
one call analyses many simulations at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from overthink.analysis.pipeline import scaling_verdicts
from overthink.testing.synthetic import synthetic_frame

BUDGETS = (256, 512, 1024, 2048, 4096)


def _tasks(n: int) -> list[str]:
    return [f"sim{i:03d}" for i in range(n)]


def test_planted_inverse_slope_is_found_with_its_size() -> None:
    truth = -0.05  # accuracy lost per doubling of reasoning
    df = synthetic_frame(tasks=_tasks(40), n_questions=60, n_samples=4, slope=truth, seed=11)
    _, ver = scaling_verdicts(df, n_boot=400, seed=1)
    assert (ver["verdict"] == "inverse").mean() >= 0.95
    covered = (ver["slope_low"] <= truth) & (ver["slope_high"] >= truth)
    assert covered.mean() >= 0.85
    assert abs(ver["slope"].mean() - truth) < 0.01
    assert (ver["rho"] < 0).all()
    # The best budget is the smallest one.
    assert (ver["turning_point"] <= 512).mean() >= 0.9


def test_planted_positive_slope_is_positive() -> None:
    df = synthetic_frame(tasks=_tasks(20), n_questions=60, n_samples=4, slope=0.05, seed=12)
    _, ver = scaling_verdicts(df, n_boot=300, seed=2)
    assert (ver["verdict"] == "positive").mean() >= 0.95


def test_no_effect_false_positive_rate_at_most_7_percent() -> None:
    # 200 null curves: accuracy does not depend on the budget at all.
    df = synthetic_frame(
        tasks=_tasks(200), n_questions=40, n_samples=2, slope=0.0, question_spread=0.25, seed=13
    )
    _, ver = scaling_verdicts(df, n_boot=300, seed=3, adjust=False)
    assert len(ver) == 200
    # The trend test on its own, and the whole verdict (trend or peak), both unadjusted.
    assert (ver["p_value"] < 0.05).mean() <= 0.07
    assert (ver["verdict"] != "flat").mean() <= 0.07
    # With the run-wide Benjamini–Hochberg correction (the default) it can only drop.
    _, ver_bh = scaling_verdicts(df, n_boot=300, seed=3)
    assert (ver_bh["verdict"] != "flat").mean() <= (ver["verdict"] != "flat").mean()
    assert (ver_bh["p_adjusted"] >= ver_bh["p_verdict"] - 1e-12).all()
    _assert_directions_rest_on_the_trend_test(ver_bh)


def test_rise_then_fall_is_peaked_with_its_turning_point() -> None:
    df = synthetic_frame(
        tasks=_tasks(30), n_questions=60, n_samples=4, base=0.75, curvature=0.04, peak=1024,
        seed=14,
    )  # fmt: skip
    _, ver = scaling_verdicts(df, n_boot=400, seed=4)
    assert (ver["verdict"] == "peaked").mean() >= 0.9
    inside = (ver["tp_low"] <= 1024) & (ver["tp_high"] >= 1024)
    assert inside.mean() >= 0.9
    assert (ver["tp_low"] > 256).all() and (ver["tp_high"] < 4096).all()
    _assert_directions_rest_on_the_trend_test(ver)


def _assert_directions_rest_on_the_trend_test(ver: pd.DataFrame) -> None:
    """A direction is only read from a ρ whose own (adjusted) test is significant."""
    directional = ver["verdict"].isin(["inverse", "positive"])
    assert (ver.loc[directional, "p_adjusted"] < 0.05).all(), ver[directional]
    assert (ver["p_adjusted"] >= ver["p_value"] - 1e-12).all()
    gate = np.fmin(ver["p_adjusted"], ver["p_peak_adjusted"])
    np.testing.assert_allclose(ver["p_verdict"], gate)


def test_a_bend_alone_never_gives_a_direction() -> None:
    # A mild rise-then-fall: with 40 questions the peak test often passes while the trend
    # test does not. Those curves must not get a direction from their ρ.
    df = synthetic_frame(
        tasks=_tasks(30), n_questions=40, n_samples=2, base=0.6, curvature=0.03, peak=1024,
        seed=14,
    )  # fmt: skip
    _, ver = scaling_verdicts(df, n_boot=200, seed=8)
    only_bend = (ver["p_peak_adjusted"] < 0.05) & (ver["p_adjusted"] >= 0.05)
    assert only_bend.sum() >= 5  # the case under test really occurs
    assert set(ver.loc[only_bend, "verdict"]) <= {"peaked", "flat"}
    _assert_directions_rest_on_the_trend_test(ver)
    peaked = ver["verdict"] == "peaked"
    assert (
        (ver.loc[peaked, "turning_point"] > 256) & (ver.loc[peaked, "turning_point"] < 4096)
    ).all()


def test_regression_error_growing_with_thinking_is_inverse() -> None:
    df = synthetic_frame(
        tasks=_tasks(10), n_questions=60, n_samples=2, regression=True, base=1.0, slope=0.15,
        seed=15,
    )  # fmt: skip
    curves, ver = scaling_verdicts(df, n_boot=300, seed=5)
    assert set(ver["metric_name"]) == {"mae", "rmse"}
    assert not ver["higher_is_better"].any()
    assert (ver["verdict"] == "inverse").all()
    assert (ver["slope"] > 0).all()  # error rises per doubling
    mae = curves[curves["metric_name"] == "mae"]
    rmse = curves[curves["metric_name"] == "rmse"]
    assert (rmse["metric"].to_numpy() >= mae["metric"].to_numpy()).all()


def test_single_budget_is_insufficient() -> None:
    df = synthetic_frame(budgets=(1024,), n_questions=30, seed=16)
    _, ver = scaling_verdicts(df, n_boot=100)
    assert ver["verdict"].tolist() == ["insufficient"]


def test_natural_runs_are_judged_within_questions() -> None:
    # Within a question, its longer samples are worse: natural overthinking.
    df = synthetic_frame(
        tasks=_tasks(5), budgets=(), natural=True, n_questions=150, n_samples=6, slope=-0.15,
        seed=17,
    )  # fmt: skip
    _, ver = scaling_verdicts(df, n_boot=300, seed=6)
    assert set(ver["basis"]) == {"natural_rank"}
    assert (ver["verdict"] == "inverse").all()


def test_hard_questions_thinking_longer_is_not_overthinking() -> None:
    # Questions that think longer are harder, but no question gets worse by thinking
    # longer: a between-question length plot slopes down, the within-question ranks don't.
    df = synthetic_frame(
        tasks=_tasks(30), budgets=(), natural=True, n_questions=100, n_samples=4,
        length_confound=0.25, question_spread=0.05, seed=18,
    )  # fmt: skip
    _, ver = scaling_verdicts(df, n_boot=200, seed=7, adjust=False)
    assert (ver["verdict"] != "flat").mean() <= 0.15
    # ... while the naive pooled correlation of length and correctness is clearly negative.
    naive = pd.Series(df["reasoning_tokens"]).corr(pd.Series(df["value"]), method="spearman")
    assert naive < -0.1


def test_results_are_reproducible_and_seed_dependent() -> None:
    df = synthetic_frame(n_questions=40, slope=-0.03, seed=19)
    a = scaling_verdicts(df, n_boot=200, seed=5)[1]
    b = scaling_verdicts(df, n_boot=200, seed=5)[1]
    c = scaling_verdicts(df, n_boot=200, seed=6)[1]
    pd.testing.assert_frame_equal(a, b)
    assert not np.isclose(a["slope_low"].iloc[0], c["slope_low"].iloc[0])


def test_a_plateau_is_not_a_peak() -> None:
    """Accuracy that rises and then stays level (tied budgets) is positive, not peaked."""
    from overthink.analysis import analyze, records_frame
    from overthink.core import Record

    records = []
    for q in range(30):
        for b in (0, 32, 64, 128, 256):
            correct = b > 0 and q % 6 != 0  # identical answers at every budget >= 32
            records.append(
                Record(
                    run="r",
                    trial_id=f"{q}-{b}",
                    task="misleading_math",
                    sample_id=f"q{q}",
                    model="m",
                    budget_mode="forced",
                    budget_tokens=b,
                    reasoning_tokens=b,
                    score=float(correct),
                    answer="2" if correct else "3",
                    meta={"distractors": 0},
                )
            )
    result = analyze(records_frame(records), n_boot=300)
    row = result.verdicts[result.verdicts["knob"] == ""].iloc[0]
    assert row["verdict"] == "positive"
    assert row["tp_high"] == 256
