"""Benchmark: a forced budget sweep with and without prefix sharing on the embedded engine.

Runs the sweep {0, 32, 64, 128, 256} over 40 misleading_math questions (10 per distractor
level) twice through the tool itself — ``prefix_sharing`` off (one thinking trace per
budget) and on (one trace per question at the largest cap, cut at the smaller caps) —
and prints generated tokens and wall time for both and their ratios.

A shared sweep should generate about the largest budget's tokens per question, not the
sum over budgets. That is checked against the separate run itself: one largest-cap trace
per question plus every forced answer, within 10 % (exit 1 outside it). Traces stop early
when the model closes its thinking segment, so absolute token counts depend on how often
SmolLM2 does that, not only on the caps.

Reference, measured with a bare client on this kind of machine (4 slots, prompt cache on,
largest trace first): separate 117–132 s / ~19.1 k generated tokens, shared 70–71 s /
~10.7 k. Those counts are close to the sum of the caps, so that client's traces seem to
have run to the cap; the tool's are shorter. Wall times and the shared/separate ratios
are printed next to the reference; wall time depends on machine load, which is printed.

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
from overthink.experiment.store import Store

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


def _largest_plus_answers(run_dir: Path, largest: int) -> int:
    """What a shared sweep should generate, read off the separate run's records.

    One trace at the largest cap (the separate run's reasoning tokens at that cap) plus
    every forced answer (all budgets). Both runs stop thinking early at ``</think>``
    when the model closes its segment, so this, not the sum of the caps, is the target.
    """
    with Store.of_run(run_dir) as store:
        records = [r for r in store.records() if r.error is None]
    thinking = sum(r.reasoning_tokens for r in records if r.budget_tokens == largest)
    return thinking + sum(r.answer_tokens for r in records)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=10, help="questions per distractor level")
    parser.add_argument("--budgets", default="0,32,64,128,256")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--keep", type=Path, help="write both runs here and keep them")
    parser.add_argument(
        "--shared-first",
        action="store_true",
        help="run the shared sweep first (default: separate first). The second run meets "
        "a prompt cache warmed by the first; swap the order to see how much that matters.",
    )
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    # Start the server before timing: both runs share it, and startup is not the sweep.
    EmbeddedServer.shared(slots=args.concurrency)
    load_before = os.getloadavg()
    results: dict[str, RunStats] = {}
    prompts: dict[str, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        root = args.keep or Path(tmp)
        order = [("separate", False), ("shared", True)]
        if args.shared_first:
            order.reverse()
        for label, shared in order:
            results[label], *seen = _run(root / label, args, shared=shared)
            prompts[label] = (seen[0], seen[1])
        target = _largest_plus_answers(root / "separate", max(budgets))
        caps_sum = sum(budgets) * 4 * args.samples
    load_after = os.getloadavg()
    EmbeddedServer.stop_all()

    questions = 4 * args.samples
    sep, sha = results["separate"], results["shared"]
    print(f"sweep:        forced {{{args.budgets}}} × {questions} misleading_math questions")
    print(f"engine:       embedded SmolLM2, {args.concurrency} slots, prompt cache on")
    first = "shared" if args.shared_first else "separate"
    print(f"order:        {first} first (the second run starts with a warm prompt cache)")
    print(f"load average: {load_before[0]:.1f} before, {load_after[0]:.1f} after (1 min)")
    print(f"{'':10}{'tokens':>9}{'wall s':>9}{'tok/q':>7}{'tok/s':>7}   bare-client reference")
    ok = True
    for label, stats in results.items():
        lo, hi = REF_WALL_S[label]
        print(
            f"{label:10}{stats.generated_tokens:>9,}{stats.wall_s:>9.1f}"
            f"{stats.generated_tokens / questions:>7.0f}{stats.tokens_per_s:>7.0f}"
            f"   ~{REF_TOKENS[label]:,} tokens, {lo:.0f}–{hi:.0f} s"
        )
        if stats.errors:
            print(f"  {stats.errors} trials failed")
            ok = False
    for label, (sent, cached) in prompts.items():
        share = cached / sent if sent else 0.0
        print(f"{label}: {sent:,} prompt tokens sent, {share:.0%} served from the prompt cache")
    token_ratio = sha.generated_tokens / max(sep.generated_tokens, 1)
    time_ratio = sha.wall_s / max(sep.wall_s, 1e-9)
    ref_tokens = REF_TOKENS["shared"] / REF_TOKENS["separate"]
    ref_time = (sum(REF_WALL_S["shared"]) / 2) / (sum(REF_WALL_S["separate"]) / 2)
    print(
        f"shared/separate: tokens {token_ratio:.2f} (reference {ref_tokens:.2f}), "
        f"wall time {time_ratio:.2f} (reference {ref_time:.2f})"
    )
    # The claim: a shared sweep generates about the largest budget's tokens per question
    # (plus the answers), not the sum over budgets.
    near = abs(sha.generated_tokens - target) <= TOLERANCE * target
    print(
        f"shared generated {sha.generated_tokens:,} tokens; one largest-cap trace per "
        f"question plus every answer = {target:,} "
        f"({'within' if near else 'OUTSIDE'} ±10 %); the caps alone sum to {caps_sum:,}"
    )
    ok = ok and near
    if args.samples == 10 and args.budgets == "0,32,64,128,256":
        for label, stats in results.items():
            verdict = "within" if _within(stats.wall_s, *REF_WALL_S[label]) else "outside"
            print(f"{label}: wall time {verdict} ±10 % of the reference (depends on load)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
