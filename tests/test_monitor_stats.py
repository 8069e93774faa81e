"""Sequential statistics of the monitor: validity under continuous peeking, power, and
the formulas against independent references (numerical quadrature, the ``savvi`` package)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from overthink.monitor.engine import Monitor, MonitorConfig
from overthink.monitor.sequential import (
    av_lm_log_bf,
    ebh,
    mixture_log_e,
    mixture_radius,
    optimal_rho2,
)
from overthink.monitor.trackers import CausalTracker, SlopeTracker, ipw_scores, mean_sd
from overthink.testing.traffic import step_effect, synthetic_events

ALPHA = 0.05
N_STREAMS = 1000
N_EVENTS = 5000
MIN_N = 200  # MonitorConfig.min_n: no alarm before this many labelled slice events


def _null_streams(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1,000 randomised-slice streams with no effect: quality ~ Bernoulli(0.7) in both arms."""
    high = rng.random((N_STREAMS, N_EVENTS)) < 0.5
    quality = (rng.random((N_STREAMS, N_EVENTS)) < 0.7).astype(np.float64)
    arm = np.where(high, 1.0, -1.0)
    return quality, arm, np.full_like(quality, 0.5)


def _running_scores(
    quality: np.ndarray, arm: np.ndarray, prob: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t, mean, sd) after every event, with the tracker's predictable baseline (the mean
    quality before the event), i.e. the monitor checked after every single event."""
    t = np.arange(1, quality.shape[1] + 1, dtype=np.float64)
    before = np.concatenate(
        [np.full((quality.shape[0], 1), 0.5), np.cumsum(quality, axis=1)[:, :-1] / t[:-1]],
        axis=1,
    )
    psi = ipw_scores(quality, arm, prob, before)
    mean, sd = mean_sd(t, np.cumsum(psi, axis=1), np.cumsum(psi * psi, axis=1))
    return np.broadcast_to(t, mean.shape), mean, sd


def test_false_alarms_under_continuous_peeking_stay_below_alpha() -> None:
    """1,000 null streams × 5,000 events, looked at after every event.

    The confidence sequence alarms (upper bound < 0) in at most α of the streams (within
    Monte-Carlo error); a fixed-sample z-test looked at the same way alarms far more often.
    """
    rng = np.random.default_rng(2024)
    quality, arm, prob = _null_streams(rng)
    t, mean, sd = _running_scores(quality, arm, prob)
    rho2 = optimal_rho2(ALPHA, 5000.0)
    active = t >= MIN_N
    upper = mean + sd * mixture_radius(t[0], ALPHA, rho2)
    cs_share = float(((upper < 0) & active).any(axis=1).mean())
    # The alarm the monitor raises is the e-value form of the same CS: identical decisions.
    log_e = mixture_log_e(t, mean, sd, rho2)
    e_share = float(((log_e >= math.log(1 / ALPHA)) & (mean < 0) & active).any(axis=1).mean())
    z = stats.norm.ppf(1 - ALPHA)  # a one-sided 5 % test, re-run after every event
    naive_share = float(((mean + z * sd / np.sqrt(t) < 0) & active).any(axis=1).mean())
    final_share = float((mean[:, -1] + z * sd[:, -1] / math.sqrt(N_EVENTS) < 0).mean())
    mc_error = 3 * math.sqrt(ALPHA * (1 - ALPHA) / N_STREAMS)
    print(
        f"\never alarmed under continuous peeking: confidence sequence {cs_share:.3f}, "
        f"fixed-sample z-test {naive_share:.3f} (same test once at n={N_EVENTS}: "
        f"{final_share:.3f}); alpha={ALPHA}"
    )
    assert cs_share == e_share
    assert cs_share <= ALPHA + mc_error
    assert naive_share > 3 * ALPHA  # peeking breaks the fixed-sample test
    assert final_share <= ALPHA + mc_error  # ...which is fine when looked at once


def test_tracker_matches_the_vectorised_path() -> None:
    """The streaming CausalTracker (one event per check) gives the vectorised numbers."""
    rng = np.random.default_rng(7)
    quality, arm, prob = (a[:3, :600] for a in _null_streams(rng))
    _, mean, sd = _running_scores(quality, arm, prob)
    rho2 = optimal_rho2(ALPHA, 5000.0)
    for s in range(3):
        tracker = CausalTracker(ALPHA, 5000.0, min_n=MIN_N, min_arm=1)
        for i in range(600):
            tracker.update(quality[s, i : i + 1], arm[s, i : i + 1], prob[s, i : i + 1])
        res = tracker.result()
        radius = sd[s, -1] * mixture_radius(600.0, ALPHA, rho2)
        assert res.estimate == pytest.approx(mean[s, -1], abs=1e-12)
        assert res.upper == pytest.approx(mean[s, -1] + radius, abs=1e-12)
        assert res.log_e == pytest.approx(
            float(mixture_log_e(600.0, mean[s, -1], sd[s, -1], rho2)), abs=1e-9
        )


def test_ipw_estimate_is_unbiased_with_unequal_probabilities() -> None:
    rng = np.random.default_rng(3)
    n = 200_000
    high = rng.random(n) < 0.2
    y = np.where(high, rng.random(n) < 0.5, rng.random(n) < 0.7).astype(np.float64)
    tracker = CausalTracker(ALPHA, 5000.0, min_n=MIN_N, min_arm=30)
    for lo in range(0, n, 10_000):
        sl = slice(lo, lo + 10_000)
        tracker.update(y[sl], np.where(high[sl], 1.0, -1.0), np.where(high[sl], 0.2, 0.8))
    res = tracker.result()
    assert res.lower < -0.2 < res.upper
    assert res.estimate == pytest.approx(-0.2, abs=0.01)
    assert res.upper < 0 and res.active


def test_mixture_formulas_match_numerical_quadrature() -> None:
    """Reference: integrate the Gaussian-mixture martingale ∫ exp(λS − λ²t/2) N(λ; 0, ρ²)
    dλ numerically; its log is the e-value and its 1/α level set is the CS boundary."""
    rho2 = optimal_rho2(ALPHA, 1000.0)

    def log_mixture(s: float, t: float) -> float:
        # Integrate around the integrand's peak, in log space so large S cannot overflow.
        prec = t + 1.0 / rho2
        peak = s / prec
        width = 40.0 / math.sqrt(prec)

        def g(lam: float) -> float:
            log_prior = float(stats.norm.logpdf(lam, scale=math.sqrt(rho2)))  # scipy: untyped
            return lam * s - lam * lam * t / 2 + log_prior

        g_peak = g(peak)
        val = integrate.quad(
            lambda lam: math.exp(g(lam) - g_peak),
            peak - width,
            peak + width,
            epsabs=0,
            epsrel=1e-11,
            limit=200,
            points=[peak],
        )[0]
        return g_peak + math.log(val)

    for t, mean in ((50.0, 0.3), (1000.0, -0.05), (20_000.0, 0.01)):
        s = t * mean
        assert mixture_log_e(t, mean, 1.0, rho2) == pytest.approx(log_mixture(s, t), abs=1e-6)
        boundary = optimize.brentq(
            lambda x, t=t: log_mixture(x, t) - math.log(1 / ALPHA), 0.0, 50 * math.sqrt(t)
        )
        assert mixture_radius(t, ALPHA, rho2) == pytest.approx(boundary / t, rel=1e-6)
    # The paper's closed-form rho makes the CS (near-)tightest at n_opt.
    n_opt = 1000.0
    best = optimize.minimize_scalar(
        lambda lr: mixture_radius(n_opt, ALPHA, math.exp(lr)), bounds=(-20, 5), method="bounded"
    )
    assert mixture_radius(n_opt, ALPHA, rho2) == pytest.approx(best.fun, rel=1e-3)


def test_anytime_regression_matches_savvi_reference() -> None:
    """Lindon et al.'s anytime-valid t-test: our batch OLS vs ``savvi.LinearRegression``
    (recursive least squares), same data, same φ."""
    savvi_lr = pytest.importorskip("savvi.linear_regression")
    rng = np.random.default_rng(11)
    n, phi = 400, 1.0
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    y = 0.5 - 0.15 * x1 + 0.3 * x2 + rng.normal(size=n)
    design = np.column_stack([np.ones(n), x1, x2])
    ref = savvi_lr.LinearRegression(alpha=ALPHA, p=3, phi=phi)
    for i in range(n):
        ref.update(np.concatenate([[y[i]], design[i]]))
    ref_p = ref.calculate_p_value()
    ref_ci = ref.calculate_conf_int()
    ours = SlopeTracker(3, ALPHA, phi, min_n=10, change_window=10_000, change_threshold=20.0)
    ours.update(design, y)
    res = ours.result()
    assert res.slope == pytest.approx(ref.beta[1], rel=1e-4)
    assert math.exp(-res.log_bf) == pytest.approx(ref_p[1], rel=1e-3)
    assert (res.lower, res.upper) == pytest.approx((ref_ci[1, 0], ref_ci[1, 1]), rel=1e-3)
    # And the Bayes factor formula on a hand-checked value: t²=4, ν=10, φ=1, z²=9.
    expected = 0.5 * math.log(0.1) + 5.5 * (math.log(1.4) - math.log(1.04))
    assert float(av_lm_log_bf(4.0, 10.0, 1.0, 9.0)) == pytest.approx(expected, rel=1e-12)


def test_ebh_on_a_worked_example() -> None:
    # K = 4, alpha = 0.1: thresholds K/(alpha k) = 40, 20, 13.3, 10.
    e = np.array([50.0, 15.0, 21.0, 1.0])
    assert ebh(e, 0.1).tolist() == [True, True, True, False]  # e_(3) = 15 >= 13.3
    assert ebh(np.array([30.0, 15.0, 1.0, 1.0]), 0.1).tolist() == [False] * 4
    assert ebh(np.array([np.nan, 25.0]), 0.1).tolist() == [False, True]
    assert ebh(np.array([]), 0.1).tolist() == []


def test_power_alarm_after_the_effect_turns_negative_at_event_50000() -> None:
    """End to end through Monitor: Δ = 0 until event 50,000, then −0.1 (slice-only
    traffic). No causal alarm before the change; an alarm within 15,000 events after."""
    monitor = Monitor(MonitorConfig(check_every=500, slope_alerts=False))
    events = synthetic_events(
        70_000,
        seed=5,
        effect=step_effect(0.0, -0.1, 50_000),
        slice_fraction=1.0,
        truncate_share=0.0,
    )
    fired_at = None
    for ev in events:
        monitor.ingest(ev)
        if monitor.alerts and fired_at is None:
            causal = [a for a in monitor.alerts if a.test == "causal_effect"]
            if causal:
                fired_at = causal[0].event_index
                break
    print(f"\ncausal alarm at event {fired_at} (change at 50,000)")
    assert fired_at is not None, "no causal alarm 20,000 events after the change"
    assert 50_000 < fired_at <= 65_000


def test_confounded_constant_slope_raises_no_causal_alarm_over_a_million_events() -> None:
    """Hard questions think longer and fail more (a strongly negative observational slope),
    thinking longer does not hurt (Δ = 0): 1,000,000 events, 10 % in the slice, checked
    every 1,000 events. The slope test is significant; the causal test never alarms."""
    rng = np.random.default_rng(99)
    causal = CausalTracker(ALPHA, 5000.0, min_n=MIN_N, min_arm=30)
    slope = SlopeTracker(3, ALPHA, 1.0, min_n=MIN_N, change_window=2000, change_threshold=20)
    batch, ever = 1000, False
    for _ in range(1_000_000 // batch):
        hard = rng.random(batch)
        in_slice = rng.random(batch) < 0.1
        high = rng.random(batch) < 0.5
        log_tokens = 7 + 4 * hard + rng.normal(0, 0.5, batch)
        log_tokens += np.where(in_slice, np.where(high, 1.5, -1.5), 0.0)
        y = (rng.random(batch) < 0.9 - 0.6 * hard).astype(np.float64)
        urls = np.log1p(rng.poisson(0.5 + 2 * hard))
        causal.update(
            y[in_slice], np.where(high[in_slice], 1.0, -1.0), np.full(in_slice.sum(), 0.5)
        )
        slope.update(np.column_stack([np.ones(batch), log_tokens, urls]), y)
        res = causal.result()
        ever = ever or (res.active and res.log_e >= math.log(1 / ALPHA) and res.upper < 0)
    s = slope.result()
    print(
        f"\nobservational slope {s.slope:+.4f} (p={s.p_value:.1e}); causal Δ "
        f"{res.estimate:+.4f} [{res.lower:+.4f}, {res.upper:+.4f}], n={res.n}"
    )
    assert s.upper < 0 and s.p_value < 1e-6  # the trap is there...
    assert not ever  # ...and the causal alarm does not fall into it
    assert res.lower < 0 < res.upper


def _slice_batches(
    rng: np.random.Generator, n: int, batch: int, before: float, after: float, at: int
) -> Any:
    """Slice events in batches: tiers 50/50, quality ~ Bernoulli(0.6 ± Δ/2), Δ = ``before``
    for events < ``at`` and ``after`` from then on."""
    for lo in range(0, n, batch):
        idx = np.arange(lo, lo + batch)
        high = rng.random(batch) < 0.5
        d = np.where(idx < at, before, after)
        p = 0.6 + np.where(high, d / 2, -d / 2)
        y = (rng.random(batch) < p).astype(np.float64)
        yield lo + batch, y, np.where(high, 1.0, -1.0), np.full(batch, 0.5)


def _first_alarm(tracker: CausalTracker, batches: Any) -> int | None:
    for seen, y, arm, prob in batches:
        tracker.update(y, arm, prob)
        r = tracker.result()
        if r.active and r.log_e >= math.log(1 / ALPHA) and r.upper < 0:
            return int(seen)
    return None


def test_epochs_catch_a_change_after_a_long_opposite_history() -> None:
    """Δ = +0.1 for 105,000 slice events, then −0.1. The cumulative CS is still diluted
    by the good history 55,000 events later; restarting every 10,000 events (α spent over
    epochs) alarms within two epochs of the change."""
    cumulative = _first_alarm(
        CausalTracker(ALPHA, 5000.0, MIN_N, 30),
        _slice_batches(np.random.default_rng(1), 160_000, 500, 0.1, -0.1, 105_000),
    )
    epochs = _first_alarm(
        CausalTracker(ALPHA, 5000.0, MIN_N, 30, epoch_events=10_000),
        _slice_batches(np.random.default_rng(1), 160_000, 500, 0.1, -0.1, 105_000),
    )
    print(f"\nchange at 105,000: epochs alarm at {epochs}, cumulative at {cumulative}")
    assert epochs is not None and 105_000 < epochs <= 125_000
    assert cumulative is None


def test_epochs_keep_false_alarms_below_alpha() -> None:
    """200 null streams × 20,000 slice events, epochs of 2,000 (10 restarts), checked
    every 500 events: the share ever alarming stays ≤ α within Monte-Carlo error."""
    rng = np.random.default_rng(5)
    alarms = sum(
        _first_alarm(
            CausalTracker(ALPHA, 5000.0, MIN_N, 30, epoch_events=2000),
            _slice_batches(rng, 20_000, 500, 0.0, 0.0, 0),
        )
        is not None
        for _ in range(200)
    )
    print(f"\nepochs: {alarms} of 200 null streams ever alarmed")
    assert alarms / 200 <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / 200)


def test_alert_fires_then_resolves_on_recovery_without_flapping() -> None:
    """Monitor end to end with epochs: Δ = −0.3 for 12,000 events, then 0 again."""
    cfg = MonitorConfig(check_every=250, epoch_events=2000, slope_alerts=False)
    monitor = Monitor(cfg)
    events = synthetic_events(
        40_000,
        seed=3,
        effect=lambda i: -0.3 if i < 12_000 else 0.0,
        slice_fraction=1.0,
        truncate_share=0.0,
    )
    monitor.ingest_many(events)
    monitor.check()
    causal = [(a.state, a.event_index) for a in monitor.alerts if a.test == "causal_effect"]
    print(f"\ncausal alert transitions: {causal}")
    assert [s for s, _ in causal] == ["firing", "resolved"]
    assert causal[0][1] < 12_000 < causal[1][1]
