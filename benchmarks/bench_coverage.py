"""Coverage of the 95 % intervals and false-direction rates, on simulations with known truth.

Each replication is one synthetic task (its own questions, its own resampling stream) with
5 forced budgets, 2 knob levels that share their base items (``meta.question``), 4 samples
per question and a per-question difficulty (``overthink.testing.synthetic``). The truth of every
statistic is its value on one very large simulation of the same setting (20,000 base
items), so it is the population value of exactly the estimator the analysis computes.

Printed, per number of base items G (12, 24, 48), the share of 95 % intervals that cover
the truth, for: accuracy per budget (``curves``), the verdict slope, pass@k and maj@k
(``pools``, k = 2..4) and the cube's within-question slope (``cube_slopes``). The target is
93–97 %. (Before the small-sample correction, the plain percentile intervals covered
89.7–92.4 % at 12 base items: issue #11.)

Then the false-direction rate under no effect at G = 2, 3, 5, 12: the share of verdict rows
that say ``inverse``, ``positive`` or ``peaked`` when nothing changes with the budget,
with the Benjamini–Hochberg family of one run (each replication judged on its own, as a
user's run is). Below 6 base items no direction is given at all (``MIN_ITEMS_FOR_DIRECTION``).

Run: ``.venv/bin/python benchmarks/bench_coverage.py [--reps 300] [--n-boot 1000]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

from overthink.analysis import analyze
from overthink.analysis.curves import group_curves
from overthink.analysis.pipeline import _grouped
from overthink.analysis.verdict import verdicts
from overthink.testing.synthetic import synthetic_frame

BUDGETS = (256, 512, 1024, 2048, 4096)
LEVELS = (0, 3)
SETTING: dict[str, Any] = {
    "budgets": BUDGETS, "levels": LEVELS, "n_samples": 4, "base": 0.6,
    "question_spread": 0.2,
}  # fmt: skip
TARGET = (0.93, 0.97)


def _frame(n_tasks: int, n_items: int, slope: float, seed: int) -> pd.DataFrame:
    tasks = [f"sim{i:04d}" for i in range(n_tasks)]
    return synthetic_frame(
        tasks=tasks, n_questions=n_items, slope=slope, seed=seed, **SETTING
    )  # fmt: skip


def _truth(slope: float) -> dict[str, pd.DataFrame]:
    """Population values: the same estimators on one simulation with 20,000 base items."""
    big = analyze(_frame(1, 20_000, slope, seed=99), n_boot=2, seed=0)
    return {
        "curves": big.curves.drop(columns=["task"]),
        "verdicts": big.verdicts.drop(columns=["task"]),
        "pools": big.pools.drop(columns=["task"]),
        "cube": big.cube_slopes.drop(columns=["task"]),
    }


def _covered(rows: pd.DataFrame, truth: pd.DataFrame, keys: list[str], value: str,
             low: str, high: str) -> tuple[float, int]:  # fmt: skip
    merged = rows.merge(truth[[*keys, value]], on=keys, suffixes=("", "_true"))
    ok = merged[[low, high]].notna().all(axis=1)
    merged = merged[ok]
    hit = (merged[low] <= merged[f"{value}_true"]) & (merged[f"{value}_true"] <= merged[high])
    return float(hit.mean()), len(merged)


def coverage(n_items: int, reps: int, n_boot: int, slope: float, seed: int) -> dict[str, float]:
    """Coverage of each interval kind over ``reps`` replications of G = ``n_items``."""
    truth = _truth(slope)
    result = analyze(_frame(reps, n_items, slope, seed), n_boot=n_boot, seed=seed)
    level = ["model", "budget_mode", "knob", "level"]
    out: dict[str, float] = {}
    out["accuracy"], _ = _covered(
        result.curves, truth["curves"], [*level, "budget_tokens", "metric_name"], "metric",
        "ci_low", "ci_high",
    )  # fmt: skip
    out["slope"], _ = _covered(
        result.verdicts, truth["verdicts"], [*level, "metric_name"], "slope", "slope_low",
        "slope_high",
    )  # fmt: skip
    pools = result.pools[result.pools["k"] > 1]
    for name in ("pass@k", "maj@k"):
        out[name], _ = _covered(
            pools[pools["estimator"] == name], truth["pools"],
            [*level, "budget_tokens", "estimator", "k"], "metric", "ci_low", "ci_high",
        )  # fmt: skip
    out["cube slope"], _ = _covered(
        result.cube_slopes, truth["cube"], ["model", "budget_mode", "knob", "level"], "slope",
        "slope_low", "slope_high",
    )  # fmt: skip
    return out


def false_directions(n_items: int, reps: int, n_boot: int, seed: int) -> tuple[float, int]:
    """Share of verdict rows with a direction (or a peak) when there is no effect."""
    frame = _frame(reps, n_items, 0.0, seed)
    _, _, groups = _grouped(frame, None, n_boot=n_boot, seed=seed)
    called = total = 0
    for group in groups:  # one replication = one run: its own BH family
        _, fits = group_curves(group)
        table = verdicts(fits)
        called += int(table["verdict"].isin(["inverse", "positive", "peaked"]).sum())
        total += len(table)
    return called / max(total, 1), total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=300, help="replications per setting")
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--slope", type=float, default=-0.03, help="planted slope per doubling")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print(f"coverage of 95 % intervals ({args.reps} replications each; slope {args.slope:+g}; "
          f"target {TARGET[0]:.0%}–{TARGET[1]:.0%})")  # fmt: skip
    inside = consistent = True
    header = None
    for g in (12, 24, 48):
        cov = coverage(g, args.reps, args.n_boot, args.slope, seed=g)
        if header is None:
            header = "".join(f"{name:>12}" for name in cov)
            print(f"{'base items':>10}{header}")
        print(f"{g:>10}" + "".join(f"{v:>12.1%}" for v in cov.values()), flush=True)
        inside &= all(TARGET[0] <= v <= TARGET[1] for v in cov.values())
        slack = 2.0 * float(np.sqrt(0.95 * 0.05 / args.reps))
        consistent &= all(TARGET[0] - slack <= v <= TARGET[1] + slack for v in cov.values())
    print(f"\nfalse directions with no effect ({args.reps} replications each, BH per run)")
    for g in (2, 3, 5, 12):
        rate, rows = false_directions(g, args.reps, args.n_boot, seed=100 + g)
        print(f"{g:>10} base items: {rate:6.2%} of {rows} verdict rows", flush=True)
    # A coverage is itself an estimate from `reps` replications: judge it against the target
    # with its Monte Carlo error (2 standard errors of a share of `reps`).
    se = float(np.sqrt(0.95 * 0.05 / args.reps))
    print(f"\n{time.perf_counter() - started:.0f} s; Monte Carlo SE of a coverage ≈ {se:.1%}; "
          f"all inside {TARGET[0]:.0%}–{TARGET[1]:.0%}: {inside}; "
          f"all within 2 SE of it: {consistent}")  # fmt: skip
    return 0 if consistent else 1


if __name__ == "__main__":
    sys.exit(main())
