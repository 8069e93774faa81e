"""Strategy-level records: one per (group, strategy), shaped like any other record.

Analysis treats them as configurations (``strategy = "majority@8"``), so their fields
follow the same meaning as a single sample's, with these conventions:

* ``trial_id`` — hash of the member trial ids and the strategy name: re-applying a
  strategy to the same samples overwrites its record instead of adding one.
* token counts — **sums** over the N members (errored ones included: they were paid
  for), so every token cost axis prices "N samples at this budget".
* ``latency_s`` — the slowest member: parallel samples finish when the last one does.
* verifier cost — ``best_of_n`` and ``weighted`` cannot choose before a model-based
  verifier (the LLM judge) has graded every member, so the judge's tokens are added
  (its prompt tokens to ``prompt_tokens``, its completion tokens to ``answer_tokens``)
  and its slowest call to ``latency_s`` (members are judged in parallel, after they are
  generated). ``resolved["strategy"]["verifier_cost"]`` keeps the parts. The judge's
  tokens are priced like the generator's on the usd/eFLOPs axes (a judge of another
  size or price is an approximation there). ``majority``/``first`` use no verifier and
  are not charged.
* ``answer``/texts/flags — those of the chosen member. The chosen answer *is* that
  member's answer, scored by the task's own scorer when the sample was generated (risk
  and zebra override ``Task.score``), so nothing is rescored.
* ``score`` — the chosen member's, except on a **tie**: then the mean score over the tied
  classes (or tied samples, for best_of_n), i.e. the expected score of a uniformly random
  tie-break. The first-in-order pick is reproducible but, for one group, pure luck; the
  expectation is what the pool estimators compute, so a strategy record and ``maj@k`` at
  the same k agree instead of differing by tie luck. ``resolved["strategy"]`` keeps the
  pick's own score as ``pick_score``.
* ``verifier``/``verifier_score`` — the chosen member's.
* ``created_at`` — the newest member's, so re-applying gives a byte-identical record.
* ``resolved["strategy"]`` — how the choice was made: members, chosen sample, tally,
  tie, fallback.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from overthink.core import Record, canonical_json
from overthink.strategies.base import StrategyName, strategy_label
from overthink.strategies.registry import get_strategy
from overthink.strategies.vote import Choice
from overthink.tasks.extract import answer_key

__all__ = ["strategy_record", "strategy_trial_id", "verifier_cost"]


def verifier_cost(record: Record) -> tuple[int, int, float]:
    """(prompt tokens, completion tokens, seconds) model-based verifiers spent on a record.

    Read from ``resolved["verifier_details"]`` (the judge records its usage and time
    there); rule-based verifiers report none and cost nothing.
    """
    details = record.resolved.get("verifier_details") or {}
    prompt = completion = 0
    seconds = 0.0
    for detail in details.values():
        if not isinstance(detail, dict):
            continue
        prompt += _count(detail.get("prompt_tokens"))
        completion += _count(detail.get("completion_tokens"))
        # Several verifiers of one sample run concurrently: the slowest sets the time.
        latency = detail.get("latency_s")
        if isinstance(latency, int | float) and latency > 0:
            seconds = max(seconds, float(latency))
    return prompt, completion, seconds


def _count(value: object) -> int:
    return int(value) if isinstance(value, int | float) and value > 0 else 0


def strategy_trial_id(member_ids: Sequence[str], label: str) -> str:
    """Deterministic id of a strategy record (same members and strategy → same id)."""
    ident = {"members": sorted(member_ids), "strategy": label}
    return hashlib.sha256(canonical_json(ident).encode()).hexdigest()[:24]


def strategy_record(group: Sequence[Record], name: str, choice: Choice) -> Record:
    """The record of strategy ``name`` over ``group`` (records in sample order)."""
    label = strategy_label(name, len(group))
    head = group[0]
    chosen = group[choice.index] if choice.index is not None else None
    detail: dict[str, Any] = {
        "name": name,
        "n": len(group),
        "members": [r.trial_id for r in group],
        "chosen": chosen.trial_id if chosen is not None else None,
        "chosen_sample_index": chosen.sample_index if chosen is not None else None,
        "voters": choice.voters,
        "tally": choice.tally,
        "tie": choice.tie,
        "tied": list(choice.tied),
        "fallback": choice.fallback,
        "errored_members": sum(r.error is not None for r in group),
    }
    judge = [0, 0, 0.0]
    if get_strategy(name).needs_verifier:
        for r in group:
            p, c, t = verifier_cost(r)
            judge[0] += p
            judge[1] += c
            judge[2] = max(judge[2], t)
        detail["verifier_cost"] = {
            "prompt_tokens": judge[0], "completion_tokens": judge[1], "latency_s": judge[2],
        }  # fmt: skip
    base: dict[str, Any] = {
        "run": head.run,
        "trial_id": strategy_trial_id([r.trial_id for r in group], label),
        "task": head.task,
        "sample_id": head.sample_id,
        "model": head.model,
        "budget_mode": head.budget_mode,
        "budget_tokens": head.budget_tokens,
        "strategy": label,
        "sample_index": 0,
        "prompt": head.prompt,
        "target": head.target,
        "kind": head.kind,
        "meta": dict(head.meta),
        # -1 means "unknown" on a single record; an unknown member makes the sum unknown.
        "prompt_tokens": sum(r.prompt_tokens for r in group) + int(judge[0]),
        "reasoning_tokens": (
            -1
            if any(r.reasoning_tokens < 0 for r in group)
            else sum(r.reasoning_tokens for r in group)
        ),
        "answer_tokens": sum(r.answer_tokens for r in group) + int(judge[1]),
        "latency_s": max(r.latency_s for r in group) + judge[2],
        "retries": sum(r.retries for r in group),
        "created_at": max(r.created_at for r in group),
        "resolved": {"strategy": detail},
    }
    if chosen is None:
        return Record(**base, error=f"all {len(group)} samples of the group errored")
    score = chosen.score
    if choice.tie and choice.tied:
        detail["pick_score"] = chosen.score
        score = _tied_score(group, name, choice)
    return Record(
        **base,
        seed=chosen.seed,
        reasoning=chosen.reasoning,
        response=chosen.response,
        answer=chosen.answer,
        score=score,
        finish_reason=chosen.finish_reason,
        truncated_in_reasoning=chosen.truncated_in_reasoning,
        empty_answer=chosen.empty_answer,
        budget_violation=chosen.budget_violation,
        verifier=chosen.verifier,
        verifier_score=chosen.verifier_score,
    )


def _tied_score(group: Sequence[Record], name: str, choice: Choice) -> float | None:
    """Mean score over the tied classes (votes) or tied samples (best_of_n)."""
    scores: list[float] = []
    for tied in choice.tied:
        if name == StrategyName.BEST_OF_N and choice.fallback is None:
            members = [r for r in group if str(r.sample_index) == tied and r.error is None]
        else:
            members = [
                r for r in group
                if r.error is None and answer_key(r.answer, r.kind) == tied
            ]  # fmt: skip
        if members and members[0].score is not None:
            scores.append(float(members[0].score))
    if len(scores) != len(choice.tied):
        return group[choice.index].score if choice.index is not None else None
    return sum(scores) / len(scores)
