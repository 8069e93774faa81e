"""Benchmark: a forced budget sweep with and without prefix sharing on the embedded engine.

Runs the sweep {0, 32, 64, 128, 256} over 40 misleading_math questions (10 per distractor
level) twice through the tool itself — ``prefix_sharing`` off (one thinking trace per
budget) and on (one trace per question at the largest cap, cut at the smaller caps) —
and prints generated tokens and wall time for both and their ratios.

A shared sweep should generate about the largest budget's tokens per question, not the
sum over budgets. Reference, measured with a bare client on this kind of machine (4 slots,
prompt cache on, largest trace first): separate 117–132 s / ~19.1 k generated tokens,
shared 70–71 s / ~10.7 k. Tokens are compared with a 10 % tolerance (exit 1 outside it);
wall time is reported against the reference but depends on machine load, which is printed.

    .venv/bin/python benchmarks/bench_budget_sweep.py [--samples 10] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

from overthink.engines.embedded import EmbeddedServer
from overthink.experiment.config import load_config
from overthink.experiment.runner import RunStats
from overthink.experiment.session import execute, prepare_run

REF_TOKENS = {"separate": 19_100, "shared": 10_700}
REF_WALL_S = {"separate": (117.0, 132.0), "shared": (70.0, 71.0)}
TOLERANCE = 0.10


def _run(out: Path, args: argparse.Namespace, *, shared: bool) -> tuple[RunStats, int, int]:
    """One run; returns its stats, prompt tokens sent and prompt tokens served from cache."""
    cfg = load_config(
        None,
        {
            "tasks": [{"name": "misleading_math"}],
            "samples": args.samples,
            "budgets": args.budgets,
            "concurrency": args.concurrency,
            "prefix_sharing": shared,
            "report": False,
            "out": str(out),
        },
    )

    async def go() -> tuple[RunStats, int, int]:
        prepared = await prepare_run(cfg)
        stats = await execute(prepared)
        engines = prepared.engines.values()
        return (
            stats,
            sum(e.prompt_tokens_seen for e in engines),
            sum(e.prompt_tokens_cached for e in engines),
        )

    return asyncio.run(go())


def _within(value: float, lo: float, hi: float) -> bool:
    """True when ``value`` is within 10 % of the range [lo, hi]."""
    return lo * (1 - TOLERANCE) <= value <= hi * (1 + TOLERANCE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=10, help="questions per distractor level")
    parser.add_argument("--budgets", default="0,32,64,128,256")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--keep", type=Path, help="write both runs here and keep them")
    args = parser.parse_args()
    # Start the server before timing: both runs share it, and startup is not the sweep.
    EmbeddedServer.shared(slots=args.concurrency)
    load_before = os.getloadavg()
    results: dict[str, RunStats] = {}
    prompts: dict[str, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        root = args.keep or Path(tmp)
        for label, shared in (("separate", False), ("shared", True)):
            results[label], *seen = _run(root / label, args, shared=shared)
            prompts[label] = (seen[0], seen[1])
    load_after = os.getloadavg()
    EmbeddedServer.stop_all()

    questions = 4 * args.samples
    print(f"sweep:        forced {{{args.budgets}}} × {questions} misleading_math questions")
    print(f"engine:       embedded SmolLM2, {args.concurrency} slots, prompt cache on")
    print(f"load average: {load_before[0]:.1f} before, {load_after[0]:.1f} after (1 min)")
    print(f"{'':12}{'tokens':>10}{'wall s':>10}{'tok/q':>8}   reference")
    ok = True
    for label, stats in results.items():
        lo, hi = REF_WALL_S[label]
        print(
            f"{label:12}{stats.generated_tokens:>10,}{stats.wall_s:>10.1f}"
            f"{stats.generated_tokens / questions:>8.0f}   ~{REF_TOKENS[label]:,} tokens, "
            f"{lo:.0f}–{hi:.0f} s"
        )
        if stats.errors:
            print(f"  {stats.errors} trials failed")
            ok = False
    for label, (sent, cached) in prompts.items():
        share = cached / sent if sent else 0.0
        print(f"{label}: {sent:,} prompt tokens sent, {share:.0%} served from the prompt cache")
    sep, sha = results["separate"], results["shared"]
    token_ratio = sha.generated_tokens / max(sep.generated_tokens, 1)
    time_ratio = sha.wall_s / max(sep.wall_s, 1e-9)
    print(f"shared/separate: tokens {token_ratio:.2f}, wall time {time_ratio:.2f}")
    budgets = [int(b) for b in args.budgets.split(",")]
    print(
        f"shared tokens per question {sha.generated_tokens / questions:.0f} vs largest "
        f"budget {max(budgets)} (+ one forced answer per budget)"
    )
    if args.samples == 10 and args.budgets == "0,32,64,128,256":
        for label, stats in results.items():
            ref = REF_TOKENS[label]
            tokens_ok = _within(stats.generated_tokens, ref, ref)
            time_ok = _within(stats.wall_s, *REF_WALL_S[label])
            print(
                f"{label}: tokens {'within' if tokens_ok else 'OUTSIDE'} ±10 % of the "
                f"reference; wall time {'within' if time_ok else 'outside'} ±10 % "
                "(wall time depends on machine load)"
            )
            ok = ok and tokens_ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
