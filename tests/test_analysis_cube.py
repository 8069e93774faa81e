"""The cube (metric × length × knob) and the knob interaction test; natural-length tables."""

from __future__ import annotations

import numpy as np
import pytest

from overthink.analysis import analyze
from overthink.analysis.cube import interaction_test
from overthink.testing.synthetic import synthetic_frame

LEVELS = (0, 1, 3, 5)


def test_more_distractors_make_longer_thinking_worse() -> None:
    # Slope per doubling: −0.01 at 0 distractors, −0.01 − 0.015·d at d distractors.
    df = synthetic_frame(
        levels=LEVELS, n_questions=80, n_samples=4, slope=-0.01, interaction=-0.015, seed=31
    )
    result = analyze(df, by="distractors", n_boot=400)
    slopes = result.cube_slopes
    per_level = slopes[slopes["knob"] == "distractors"].set_index("level")
    assert list(per_level.index) == list(LEVELS)
    assert per_level["slope"].is_monotonic_decreasing
    assert per_level["interaction_slope"].iloc[0] == pytest.approx(-0.015, abs=0.007)
    assert per_level["interaction_p"].iloc[0] < 0.01
    truth = -0.01 - 0.015 * np.asarray(LEVELS)
    covered = (per_level["slope_low"] <= truth) & (per_level["slope_high"] >= truth)
    assert covered.sum() >= 3
    cube = result.cube[result.cube["knob"] == "distractors"]
    assert set(cube["level"]) == set(LEVELS)
    assert cube["length_bin"].nunique() == 5


def test_no_interaction_is_not_reported_as_one() -> None:
    pvals = []
    for seed in range(20):
        df = synthetic_frame(
            levels=LEVELS, n_questions=30, n_samples=2, slope=-0.03, seed=100 + seed
        )
        s = analyze(df, by="distractors", n_boot=200, seed=seed).cube_slopes
        pvals.append(s.loc[s["knob"] == "distractors", "interaction_p"].iloc[0])
    assert np.mean(np.asarray(pvals) < 0.05) <= 0.15  # nominal 5 %: 1 of 20 expected


def test_interaction_test_numeric_and_categorical() -> None:
    d, p = interaction_test([0, 1, 2], np.array([0.0, -0.1, -0.2]), np.array([0.01] * 3))
    assert d == pytest.approx(-0.1) and p < 1e-6
    d, p = interaction_test(["a", "b"], np.array([0.1, 0.1]), np.array([0.05, 0.05]))
    assert np.isnan(d) and p == pytest.approx(1.0)
    d, p = interaction_test([0, 1], np.array([0.1, np.nan]), np.array([0.05, 0.05]))
    assert np.isnan(d) and np.isnan(p)


def test_natural_rank_and_bins_tables() -> None:
    df = synthetic_frame(
        budgets=(), natural=True, levels=(0, 3), n_questions=80, n_samples=5, slope=-0.1, seed=32
    )
    result = analyze(df, n_boot=200)
    ranks = result.natural_rank
    overall = ranks[ranks["level"] == "all"].sort_values("rank")
    assert overall["rank"].tolist() == [1, 2, 3, 4, 5]
    assert overall["mean_tokens"].is_monotonic_increasing
    assert (overall["n_questions"] == 160).all()
    assert overall["metric"].iloc[0] > overall["metric"].iloc[-1]
    bins = result.natural_bins
    assert set(bins["level"]) == {"all", 0, 3}
    assert (bins["bin_low"] <= bins["mean_tokens"]).all()
    assert (bins["mean_tokens"] <= bins["bin_high"]).all()
    assert bins.loc[bins["level"] == "all", "n"].sum() == len(df)
    natural = result.verdicts[result.verdicts["budget_mode"] == "natural"]
    assert set(natural["basis"]) == {"natural_rank"}
