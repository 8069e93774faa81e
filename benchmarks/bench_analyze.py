"""Benchmark: full ``analyze`` on ~1,000,000 synthetic records.

10 tasks × 6 budgets (5 forced budgets + a natural run) × 4 distractor levels × 521
questions × 8 samples = 1,000,320 records, every one with a verifier score, analysed with
1,000 bootstrap resamples: curves, verdicts, natural ranks/bins, the cube, all four pool
estimators for k = 1..8 and the Pareto front on the eFLOPs axis.

Prints wall time and peak memory against the targets (10 s, 2 GB on 2 cores), and — as a
baseline measured in the same run — the question bootstrap of one curve done the naive
way (a Python loop over resamples) against the vectorised one, on the same slice.

Run: ``.venv/bin/python benchmarks/bench_analyze.py [--questions N] [--n-boot B]``.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from overthink.analysis import analyze
from overthink.analysis._blas import single_threaded_blas
from overthink.analysis.stats import cluster_weights, percentile_ci, ratio
from overthink.testing.synthetic import synthetic_frame

TARGET_SECONDS = 10.0
TARGET_BYTES = 2 * 1024**3
BUDGETS = (256, 512, 1024, 2048, 4096)
LEVELS = (0, 1, 3, 5)


def _rss_now_bytes() -> int:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _rss_peak_bytes() -> int:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def naive_curve_bootstrap(
    budget_idx: np.ndarray, value: np.ndarray, question: np.ndarray, n_budgets: int,
    n_boot: int, seed: int,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The textbook loop: per resample, redraw questions, gather their rows, recompute."""
    rng = np.random.default_rng(seed)
    rows_of = [np.flatnonzero(question == q) for q in range(int(question.max()) + 1)]
    out = np.empty((n_boot, n_budgets))
    for b in range(n_boot):
        drawn = rng.integers(0, len(rows_of), len(rows_of))
        rows = np.concatenate([rows_of[q] for q in drawn])
        n = np.bincount(budget_idx[rows], minlength=n_budgets)
        s = np.bincount(budget_idx[rows], weights=value[rows], minlength=n_budgets)
        out[b] = s / n
    return percentile_ci(out)


def vectorised_curve_bootstrap(
    budget_idx: np.ndarray, value: np.ndarray, question: np.ndarray, n_budgets: int,
    n_boot: int, seed: int,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """What the analysis does: one weight matrix, one product with per-question sums."""
    n_q = int(question.max()) + 1
    cell = question * n_budgets + budget_idx
    sums = np.bincount(cell, weights=value, minlength=n_q * n_budgets).reshape(n_q, n_budgets)
    counts = np.bincount(cell, minlength=n_q * n_budgets).reshape(n_q, n_budgets)
    weights = cluster_weights(n_q, n_boot, np.random.default_rng(seed))
    return percentile_ci(ratio(weights @ sums, weights @ counts.astype(float)))


def baseline(df: pd.DataFrame, n_boot: int) -> None:
    """Naive loop vs vectorised bootstrap on one curve (one task, one level, forced)."""
    mask = (df["task"] == "task0") & (df["meta.distractors"] == 0)
    one = df[mask & (df["budget_mode"] == "forced")]
    budget_idx = np.searchsorted(BUDGETS, one["budget_tokens"].to_numpy())
    value = one["value"].to_numpy(dtype=float)
    question = pd.factorize(one["question"])[0]
    args = (budget_idx, value, question, len(BUDGETS), n_boot, 0)
    t0 = time.perf_counter()
    naive = naive_curve_bootstrap(*args)
    t_naive = time.perf_counter() - t0
    t0 = time.perf_counter()
    with single_threaded_blas():  # as inside analyze()
        fast = vectorised_curve_bootstrap(*args)
    t_fast = time.perf_counter() - t0
    diff = max(np.abs(naive[0] - fast[0]).max(), np.abs(naive[1] - fast[1]).max())
    print(
        f"baseline, one curve ({len(one):,} records, {question.max() + 1} questions, "
        f"{n_boot} resamples): naive loop {t_naive:.3f} s, vectorised {t_fast:.4f} s "
        f"-> {t_naive / t_fast:.0f}x faster; same random draws, CI bounds differ by {diff:.1e}"
    )


def main() -> None:
    """Build the records, time ``analyze``, report time and memory against the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=521, help="questions per level")
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the memory pass")
    args = parser.parse_args()

    t0 = time.perf_counter()
    df = synthetic_frame(
        tasks=[f"task{i}" for i in range(10)], models=("qwen3-8b",), budgets=BUDGETS,
        natural=True, levels=LEVELS, n_questions=args.questions, n_samples=8, slope=-0.02,
        interaction=-0.01, verifier=True, parse_failure_rate=0.01, seed=0,
    )  # fmt: skip
    t_build = time.perf_counter() - t0
    print(f"records: {len(df):,} (built in {t_build:.1f} s, not timed below)")
    baseline(df, args.n_boot)

    gc.collect()
    rss_before = _rss_now_bytes()
    t0 = time.perf_counter()
    result = analyze(df, n_boot=args.n_boot, cost="eflops", seed=0)
    wall = time.perf_counter() - t0
    rss_after = _rss_peak_bytes()
    sizes = ", ".join(f"{name} {len(table):,}" for name, table in result.tables().items())
    print(f"analyze: {wall:.2f} s wall ({sizes} rows)")
    print(
        f"process peak RSS: {rss_after / 1024**2:,.0f} MiB (includes building the input; "
        f"RSS just before analyze: {rss_before / 1024**2:,.0f} MiB)"
    )
    peak = None
    if not args.no_tracemalloc:
        del result
        gc.collect()
        tracemalloc.start()
        analyze(df, n_boot=args.n_boot, cost="eflops", seed=0)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"analyze peak allocation (tracemalloc, second run): {peak / 1024**2:,.0f} MiB")
    memory = max(rss_after, peak or 0)
    ok_time, ok_mem = wall < TARGET_SECONDS, memory < TARGET_BYTES
    print(
        f"target: < {TARGET_SECONDS:.0f} s and < {TARGET_BYTES / 1024**3:.0f} GiB -> "
        f"time {'met' if ok_time else 'MISSED'}, memory {'met' if ok_mem else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
