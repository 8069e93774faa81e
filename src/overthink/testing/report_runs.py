"""Synthetic runs for the report's tests and benchmark (no model needed).

Accuracy falls with reasoning length and with the distractor count, so every section of the
report has something to show; reasoning text length follows the reasoning token count so
size checks see realistic text volumes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from overthink.core import Record
from overthink.experiment.store import Store

__all__ = [
    "PAYLOAD",
    "SyntheticAnalysis",
    "synthetic_analysis",
    "synthetic_records",
    "synthetic_rows",
    "write_synthetic_run",
]

PAYLOAD = (
    "</script><script>window.__pwned = 1</script>"
    '<img src=x onerror="window.__pwned = 2"><!-- <b>bold?</b> &amp;'
)
"""Markup planted in model/task text: the report must show it as text and run none of it."""

_SENTENCE = (
    "so the total is then wait let me recount the apples first and check each step again "
    "because the distractor says something about cats which is irrelevant here"
)
_CHARS_PER_TOKEN = 4

_BUDGETS: tuple[tuple[str, int], ...] = (
    ("none", 0),
    ("forced", 64),
    ("forced", 128),
    ("forced", 256),
    ("forced", 512),
    ("natural", -1),
)


def _corpus(rng: np.random.Generator, chars: int) -> str:
    """Shuffled words to slice reasoning texts from (slicing is far cheaper than joining)."""
    words = _SENTENCE.split()
    picks = rng.integers(0, len(words), chars // 4)
    return " ".join(words[i] for i in picks)


def synthetic_rows(
    n: int, *, seed: int = 0, payload_at: int | None = 0, run: str = "synthetic"
) -> list[dict[str, Any]]:
    """``n`` records as plain dicts (Record fields) over two tasks, three distractor levels
    and six budgets (four samples per question at the natural budget).

    The record at index ``payload_at`` carries :data:`PAYLOAD` in its prompt, reasoning,
    response, answer and meta (None plants nothing).
    """
    rng = np.random.default_rng(seed)
    corpus = _corpus(rng, 200_000)
    # Drawn up front, one per record: per-call generator overhead dominates otherwise.
    few, natural_len, forced_share = (
        rng.integers(0, 3, n),
        rng.lognormal(5.5, 0.7, n),
        rng.uniform(0.6, 1.15, n),
    )
    luck, parse_luck, offsets = rng.random(n), rng.random(n), rng.random(n)
    tasks = ("misleading_math", "zebra")
    levels = (0, 2, 4)
    natural_k = 4
    per_question = len(_BUDGETS) - 1 + natural_k
    out: list[dict[str, Any]] = []
    for q in range(max(1, math.ceil(n / per_question))):
        task = tasks[q % len(tasks)]
        level = levels[(q // len(tasks)) % len(levels)]
        sample_id = f"{task[:4]}-{q:06d}-d{level}"
        prompt = f"Question {q}: you have {q % 17 + 2} apples and {level} distracting facts. " * 3
        target = str(q % 17 + 2)
        for mode, tokens in _BUDGETS:
            for index in range(natural_k if mode == "natural" else 1):
                if len(out) >= n:
                    return out
                i = len(out)
                if mode == "none":
                    used = int(few[i])
                elif mode == "natural":
                    used = int(natural_len[i])
                else:
                    used = int(tokens * forced_share[i])
                # Inverse scaling that grows with the distractor count: per doubling of
                # thinking past 64 tokens, accuracy drops 1 point at level 0, 13 at level 4.
                doublings = max(math.log2(1 + used) - 6, -6)
                drop = (0.01 + 0.03 * level) * doublings
                p_correct = min(0.97, max(0.05, 0.8 - 0.03 * level - drop))
                correct = bool(luck[i] < p_correct)
                parse_fail = bool(parse_luck[i] < 0.03)
                answer = None if parse_fail else (target if correct else str(int(target) + 1))
                # Every 97th trial fails, so even small runs show the error path.
                error = "TimeoutError: engine did not answer" if i % 97 == 13 else None
                cut = mode == "forced" and used >= tokens
                meta: dict[str, Any] = {"distractors": level}
                chars = min(used * _CHARS_PER_TOKEN, len(corpus) // 2)
                start = int(offsets[i] * (len(corpus) - chars))
                reasoning = corpus[start : start + chars]
                response = f"The answer is {answer}." if answer is not None else "I am unsure."
                record_prompt = prompt
                if i == payload_at:
                    reasoning = PAYLOAD + reasoning
                    response = answer = PAYLOAD
                    record_prompt = PAYLOAD + prompt
                    meta = {"distractors": level, "note": PAYLOAD}
                out.append(
                    {
                        "run": run, "trial_id": f"t{len(out):08d}", "task": task,
                        "sample_id": sample_id, "model": "smollm2-135m", "budget_mode": mode,
                        "budget_tokens": tokens, "sample_index": index, "prompt": record_prompt,
                        "resolved": {"reasoning_cap": tokens} if mode == "forced" else {},
                        "prompt_tokens": len(prompt) // 4, "reasoning_tokens": used,
                        "answer_tokens": 6, "reasoning": reasoning, "response": response,
                        "answer": answer, "target": target, "kind": "numeric",
                        "score": None if error else (1.0 if correct and not parse_fail else 0.0),
                        "meta": meta, "finish_reason": "length" if cut else "stop",
                        "truncated_in_reasoning": cut, "empty_answer": cut and parse_fail,
                        "budget_violation": mode == "forced" and used > 1.1 * tokens,
                        "latency_s": round(0.002 * used + 0.05, 3), "error": error,
                        "created_at": 1_764_000_000.0 + len(out),
                    }
                )  # fmt: skip
    return out


def synthetic_records(
    n: int, *, seed: int = 0, payload_at: int | None = 0, run: str = "synthetic"
) -> list[Record]:
    """:func:`synthetic_rows` as validated Records."""
    return [Record(**row) for row in synthetic_rows(n, seed=seed, payload_at=payload_at, run=run)]


def write_synthetic_run(
    run_dir: Path, n: int, *, seed: int = 0, payload_at: int | None = 0
) -> Path:
    """Create a run folder with a store of ``n`` synthetic records and a manifest."""
    run_dir.mkdir(parents=True, exist_ok=True)
    records = synthetic_records(n, seed=seed, payload_at=payload_at, run=run_dir.name)
    with Store.of_run(run_dir, readonly=False) as store:
        store.add_many(records)
        store.set_meta(
            "manifest",
            {
                "name": f"synthetic {PAYLOAD if payload_at is not None else ''}".strip(),
                "started_at": 1_764_000_000.0,
                "finished_at": 1_764_000_000.0 + 754.2,
                "wall_s": 754.2,
                "tool_version": "0.1.0",
                "models": ["smollm2-135m"],
                "tasks": ["misleading_math", "zebra"],
                "budgets": [m if t <= 0 else f"{m}:{t}" for m, t in _BUDGETS],
            },
        )
    return run_dir


@dataclass
class SyntheticAnalysis:
    """An analysis result built by hand, with exactly the analysis contract's columns.

    Lets the report be tested independently of the analysis numbers; every frame defaults
    to empty, which is also how a section with no data is exercised.
    """

    curves: pd.DataFrame = field(default_factory=pd.DataFrame)
    verdicts: pd.DataFrame = field(default_factory=pd.DataFrame)
    natural_rank: pd.DataFrame = field(default_factory=pd.DataFrame)
    natural_bins: pd.DataFrame = field(default_factory=pd.DataFrame)
    cube: pd.DataFrame = field(default_factory=pd.DataFrame)
    cube_slopes: pd.DataFrame = field(default_factory=pd.DataFrame)
    pools: pd.DataFrame = field(default_factory=pd.DataFrame)
    pareto: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: list[str] = field(default_factory=list)


def synthetic_analysis() -> SyntheticAnalysis:
    """Two tasks, two knob levels, four budgets; accuracy falls with length at level 4."""
    budgets = [(64, 60.0), (128, 118.0), (256, 230.0), (512, 470.0)]
    curves: list[dict[str, Any]] = []
    verdicts: list[dict[str, Any]] = []
    rank: list[dict[str, Any]] = []
    bins: list[dict[str, Any]] = []
    cube: list[dict[str, Any]] = []
    pareto: list[dict[str, Any]] = []
    for task in ("misleading_math", "zebra"):
        for level in (0, 4):
            acc = [0.8 - (0.1 * i if level else 0.01 * i) for i in range(len(budgets))]
            for (req, obs), a in zip(budgets, acc, strict=True):
                curves.append(
                    {
                        "task": task,
                        "model": "m",
                        "budget_mode": "forced",
                        "knob": "distractors",
                        "level": level,
                        "budget_tokens": req,
                        "x_tokens": obs,
                        "metric_name": "accuracy",
                        "higher_is_better": True,
                        "metric": a,
                        "ci_low": a - 0.1,
                        "ci_high": a + 0.1,
                        "n": 40,
                        "n_questions": 40,
                        "parse_failures": 1,
                        "truncated": 2,
                        "errors": 0,
                    }
                )
            verdicts.append(
                {
                    "task": task,
                    "model": "m",
                    "budget_mode": "forced",
                    "knob": "distractors",
                    "level": level,
                    "metric_name": "accuracy",
                    "verdict": "inverse" if level else "flat",
                    "slope": -0.1 if level else -0.01,
                    "slope_low": -0.15,
                    "slope_high": -0.05 if level else 0.02,
                    "rho": -0.9,
                    "p_value": 0.001,
                    "p_adjusted": 0.004,
                    "turning_point": np.nan,
                    "tp_low": np.nan,
                    "tp_high": np.nan,
                    "best_metric": max(acc),
                    "worst_metric": min(acc),
                }
            )
            for r in (1, 2, 3, 4):
                rank.append(
                    {
                        "task": task,
                        "model": "m",
                        "knob": "distractors",
                        "level": level,
                        "rank": r,
                        "mean_tokens": 100.0 * r,
                        "metric": 0.8 - 0.05 * r,
                        "ci_low": 0.6,
                        "ci_high": 0.9,
                        "n": 30,
                    }
                )
                lo, hi = 50.0 * r, 50.0 * (r + 1)
                cell: dict[str, Any] = {
                    "task": task,
                    "model": "m",
                    "knob": "distractors",
                    "level": level,
                    "bin_low": lo,
                    "bin_high": hi,
                    "metric": 0.8 - 0.05 * r,
                    "ci_low": 0.6,
                    "ci_high": 0.9,
                    "n": 30,
                }
                bins.append({**cell, "bin": r - 1, "mean_tokens": (lo + hi) / 2})
                cube.append({**cell, "length_bin": r - 1})
        for i, (req, obs) in enumerate(budgets):
            pareto.append(
                {
                    "label": f"forced:{req}",
                    "task": task,
                    "model": "m",
                    "budget_mode": "forced",
                    "budget_tokens": req,
                    "n": 1,
                    "strategy": "single",
                    "cost_axis": "tokens",
                    "cost": obs + 80,
                    "metric": 0.8 - 0.02 * i,
                    "on_front": i == 0,
                    "dominated": i != 0,
                }
            )
    slopes = pd.DataFrame(
        [
            {
                "task": t,
                "model": "m",
                "knob": "distractors",
                "level": lv,
                "slope": -0.02,
                "slope_low": -0.04,
                "slope_high": 0.0,
                "interaction_slope": -0.01,
                "interaction_p": 0.04,
            }
            for t in ("misleading_math", "zebra")
            for lv in (0, 4)
        ]
    )
    return SyntheticAnalysis(
        curves=pd.DataFrame(curves),
        verdicts=pd.DataFrame(verdicts),
        natural_rank=pd.DataFrame(rank),
        natural_bins=pd.DataFrame(bins),
        cube=pd.DataFrame(cube),
        cube_slopes=slopes,
        pareto=pd.DataFrame(pareto),
        warnings=["<b>analysis</b> warning: 1 curve has fewer than 3 budgets"],
    )
