"""Statistical primitives against their textbook/scipy definitions."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats as sps

from overthink.analysis.stats import (
    average_ranks,
    bh_adjust,
    cluster_rank_test,
    cluster_weights,
    ols_slope,
    percentile_ci,
    rng_for,
)


def test_cluster_weights_are_multinomial_counts() -> None:
    w = cluster_weights(37, 2000, np.random.default_rng(0))
    assert w.shape == (2000, 37)
    assert np.all(w.sum(axis=1) == 37)
    assert np.all(w >= 0) and np.all(w == np.round(w))
    # Each cluster is drawn Binomial(37, 1/37) times: mean 1, variance 36/37.
    assert abs(w.mean() - 1.0) < 0.01
    assert abs(w.var() - 36 / 37) < 0.03


def test_percentile_ci_matches_nanquantile() -> None:
    rng = np.random.default_rng(1)
    boot = rng.normal(size=(999, 4, 3))
    boot[rng.random(boot.shape) < 0.2] = np.nan
    boot[:, 1, 2] = np.nan
    low, high = percentile_ci(boot)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.allclose(low, np.nanquantile(boot, 0.025, axis=0), equal_nan=True)
        assert np.allclose(high, np.nanquantile(boot, 0.975, axis=0), equal_nan=True)


def test_ols_slope_rowwise_and_nan_points() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([[1.0, 3.0, 5.0, 7.0], [2.0, 2.0, 2.0, 2.0], [1.0, np.nan, 5.0, 7.0]])
    assert np.allclose(ols_slope(x, y), [2.0, 0.0, 2.0])
    assert np.isnan(ols_slope(np.array([1.0, 1.0]), np.array([0.0, 1.0])))


def test_bh_matches_scipy_and_keeps_nans() -> None:
    p = np.array([0.01, 0.04, np.nan, 0.03, 0.5])
    out = bh_adjust(p)
    assert np.isnan(out[2])
    ok = ~np.isnan(p)
    assert np.allclose(out[ok], sps.false_discovery_control(p[ok]))


def test_average_ranks_match_scipy() -> None:
    rng = np.random.default_rng(2)
    for v in (rng.integers(0, 4, 300).astype(float), rng.normal(size=50), np.array([2.0, 2.0])):
        assert np.allclose(average_ranks(v), sps.rankdata(v))


def test_rank_test_rho_is_spearman_and_detects_a_trend() -> None:
    rng = np.random.default_rng(3)
    cluster = np.repeat(np.arange(200), 5)
    x = np.tile(np.arange(5.0), 200)
    y = (rng.random(1000) < 0.8 - 0.1 * x).astype(float)
    rho, p = cluster_rank_test(x, y, cluster)
    assert np.isclose(rho, sps.spearmanr(x, y).statistic)
    assert rho < 0 and p < 1e-6


def test_rank_test_respects_clustering() -> None:
    # x is constant within a question and questions differ a lot: few effective samples.
    # A naive Spearman test counts 2000 records; the clustered one counts 40 questions.
    rng = np.random.default_rng(4)
    naive, clustered = 0, 0
    for _ in range(200):
        q = np.repeat(np.arange(40), 50)
        x = rng.normal(size=40)[q]
        y = rng.normal(size=40)[q] + rng.normal(size=2000) * 0.1
        naive += sps.spearmanr(x, y).pvalue < 0.05
        clustered += cluster_rank_test(x, y, q)[1] < 0.05
    assert naive > 100  # the naive test is badly anti-conservative here
    assert clustered <= 16  # ≈ 5 % of 200, with room for sampling noise


def test_rng_for_is_stable_per_key() -> None:
    a = rng_for(0, "task", "model").random(3)
    b = rng_for(0, "task", "model").random(3)
    c = rng_for(0, "task", "other").random(3)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_single_threaded_blas_restores_the_setting() -> None:
    from overthink.analysis._blas import _controls, _loaded_openblas, single_threaded_blas

    controls = [c for c in (_controls(p) for p in _loaded_openblas()) if c is not None]
    before = [get() for _, get in controls]
    with single_threaded_blas():
        assert all(get() == 1 for _, get in controls)
        a = np.arange(12.0).reshape(3, 4)
        assert np.allclose(a @ a.T, np.einsum("ij,kj->ik", a, a))
    assert [get() for _, get in controls] == before
