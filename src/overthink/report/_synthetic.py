"""Synthetic runs for the report's tests and benchmark (no model needed).

Accuracy falls with reasoning length and with the distractor count, so every section of the
report has something to show; reasoning text length follows the reasoning token count so
size checks see realistic text volumes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from overthink.core import Record
from overthink.experiment.store import Store

__all__ = ["PAYLOAD", "synthetic_records", "write_synthetic_run"]

PAYLOAD = (
    "</script><script>window.__pwned = 1</script>"
    '<img src=x onerror="window.__pwned = 2"><!-- <b>bold?</b> &amp;'
)
"""Markup planted in model/task text: the report must show it as text and run none of it."""

_SENTENCE = (
    "so the total is then wait let me recount the apples first and check each step again "
    "because the distractor says something about cats which is irrelevant here"
)
_WORDS: tuple[str, ...] = tuple(_SENTENCE.split())

_BUDGETS: tuple[tuple[str, int], ...] = (
    ("none", 0),
    ("forced", 64),
    ("forced", 128),
    ("forced", 256),
    ("forced", 512),
    ("natural", -1),
)


def _text(rng: np.random.Generator, tokens: int) -> str:
    # ~1.3 words per token is close enough for size estimates.
    count = max(0, int(tokens / 1.3))
    return " ".join(_WORDS[i] for i in rng.integers(0, len(_WORDS), count))


def synthetic_records(
    n: int, *, seed: int = 0, payload_at: int | None = 0, run: str = "synthetic"
) -> list[Record]:
    """About ``n`` records over two tasks, three distractor levels and six budgets.

    The record at index ``payload_at`` carries :data:`PAYLOAD` in its prompt, reasoning,
    response, answer and meta (None plants nothing).
    """
    rng = np.random.default_rng(seed)
    tasks = ("misleading_math", "zebra_puzzles")
    levels = (0, 2, 4)
    natural_k = 4
    per_question = len(_BUDGETS) - 1 + natural_k
    questions = max(1, math.ceil(n / per_question))
    out: list[Record] = []
    for q in range(questions):
        task = tasks[q % len(tasks)]
        level = levels[(q // len(tasks)) % len(levels)]
        sample_id = f"{task[:4]}-{q:06d}-d{level}"
        prompt = f"Question {q}: you have {q % 17 + 2} apples and {level} distracting facts. " * 3
        target = str(q % 17 + 2)
        for mode, tokens in _BUDGETS:
            for index in range(natural_k if mode == "natural" else 1):
                if len(out) >= n:
                    return out
                if mode == "none":
                    used = int(rng.integers(0, 3))
                elif mode == "natural":
                    used = int(rng.lognormal(5.5, 0.7))
                else:
                    used = int(tokens * rng.uniform(0.6, 1.15))
                p_correct = max(0.05, 0.9 - 0.08 * math.log2(1 + used) / 3 - 0.07 * level)
                correct = bool(rng.random() < p_correct)
                parse_fail = bool(rng.random() < 0.03)
                answer = None if parse_fail else (target if correct else str(int(target) + 1))
                error = "TimeoutError: engine did not answer" if rng.random() < 0.005 else None
                cut = mode == "forced" and used >= tokens
                meta: dict[str, Any] = {"distractors": level}
                reasoning = _text(rng, used)
                response = f"The answer is {answer}." if answer is not None else "I am unsure."
                record_prompt = prompt
                if len(out) == payload_at:
                    reasoning = PAYLOAD + reasoning
                    response = PAYLOAD
                    answer = PAYLOAD
                    record_prompt = PAYLOAD + prompt
                    meta = {"distractors": level, "note": PAYLOAD}
                out.append(
                    Record(
                        run=run,
                        trial_id=f"t{len(out):08d}",
                        task=task,
                        sample_id=sample_id,
                        model="smollm2-135m",
                        budget_mode=mode,
                        budget_tokens=tokens,
                        sample_index=index,
                        prompt=record_prompt,
                        prompt_tokens=len(prompt) // 4,
                        reasoning_tokens=used,
                        answer_tokens=6,
                        reasoning=reasoning,
                        response=response,
                        answer=answer,
                        target=target,
                        kind="numeric",
                        score=None if error else (1.0 if correct and not parse_fail else 0.0),
                        meta=meta,
                        finish_reason="length" if cut else "stop",
                        truncated_in_reasoning=cut,
                        empty_answer=cut and parse_fail,
                        budget_violation=mode == "forced" and used > 1.1 * tokens,
                        latency_s=round(0.002 * used + 0.05, 3),
                        error=error,
                        created_at=1_764_000_000.0 + len(out),
                    )
                )
    return out


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
                "tasks": ["misleading_math", "zebra_puzzles"],
                "budgets": [m if t <= 0 else f"{m}:{t}" for m, t in _BUDGETS],
            },
        )
    return run_dir
