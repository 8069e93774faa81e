"""Run one trial's generation under its budget, on whatever engine it targets.

The budget layer picks the enforcement the engine can honour and refuses (before any call
is made) a budget the engine cannot enforce, rather than silently sending something else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from overthink.core import BudgetMode, Trial
from overthink.engines.base import Engine, Message
from overthink.errors import ConfigError
from overthink.reasoning.forcing import force_answer, force_thinking

__all__ = ["ANSWER_DIRECTLY", "Generation", "build_messages", "check_supported", "generate"]

ANSWER_DIRECTLY = "Answer directly with the final answer only. Do not explain."
THINK_FIRST = "Think step by step before you answer."


@dataclass
class Generation:
    """Text and token accounting of one trial, before scoring."""

    reasoning: str
    response: str
    prompt_tokens: int
    reasoning_tokens: int
    """Observed reasoning tokens; -1 when the server neither reports nor counts them."""
    answer_tokens: int
    finish_reason: str | None
    truncated_in_reasoning: bool
    enforced_cap: int | None
    """The reasoning cap we actually enforced (None when nothing was enforced)."""
    resolved: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    latency_s: float = 0.0


def check_supported(engine: Engine, mode: BudgetMode) -> None:
    """Raise ConfigError when ``engine`` cannot honour budget ``mode``."""
    if mode not in engine.capabilities:
        honoured = ", ".join(sorted(m.value for m in engine.capabilities))
        raise ConfigError(
            f"model {engine.name!r} cannot enforce budget mode {mode.value!r} "
            f"(it honours: {honoured})"
        )


def build_messages(trial: Trial, system: str | None) -> list[Message]:
    """The chat messages for a trial: optional system prompt, then the question."""
    parts = [p for p in (system, trial.sample.system) if p]
    messages: list[Message] = []
    if parts:
        messages.append({"role": "system", "content": "\n".join(parts)})
    messages.append({"role": "user", "content": trial.sample.prompt})
    return messages


async def _forced(engine: Engine, trial: Trial, cap: int, system: str) -> Generation:
    budget = trial.budget
    prefix = await engine.render_chat(build_messages(trial, system)) + engine.think_open + "\n"
    trace = await force_thinking(
        engine,
        prefix,
        cap=cap,
        min_tokens=budget.min_tokens,
        max_waits=budget.max_waits,
        wait_word=budget.wait_word,
        temperature=trial.temperature,
        seed=trial.seed,
    )
    response, answer_tokens, finish, answer_request, answer_retries = await force_answer(
        engine, trace, max_tokens=trial.max_answer_tokens, temperature=trial.temperature,
        seed=trial.seed,
    )  # fmt: skip
    prompt_tokens = trace.prompt_tokens or await engine.count_tokens(prefix)
    return Generation(
        reasoning=trace.reasoning.strip(),
        response=response,
        prompt_tokens=prompt_tokens,
        reasoning_tokens=trace.tokens,
        answer_tokens=answer_tokens,
        finish_reason=finish,
        truncated_in_reasoning=trace.hit_cap,
        enforced_cap=cap,
        resolved={
            "enforcement": "forced" if budget.mode is BudgetMode.FORCED else "natural-capped",
            "reasoning_cap": cap,
            "min_tokens": budget.min_tokens,
            "max_waits": budget.max_waits,
            "waits_used": trace.waits,
            "think_markers": [engine.think_open, engine.think_close],
            "thinking_requests": trace.requests,
            "answer_request": answer_request,
        },
        retries=trace.retries + answer_retries,
    )


async def _chat(
    engine: Engine, trial: Trial, system: str, max_tokens: int, enforced: int | None
) -> Generation:
    result = await engine.chat(
        build_messages(trial, system),
        max_tokens=max_tokens,
        temperature=trial.temperature,
        seed=trial.seed,
    )
    reasoning_tokens = result.reasoning_tokens
    counted = "usage"
    if reasoning_tokens is None:
        counted = "tokenizer"
        try:
            reasoning_tokens = await engine.count_tokens(result.reasoning)
        except (NotImplementedError, RuntimeError):
            # Never guess: an unknown count is recorded as -1 and flagged in `resolved`.
            reasoning_tokens, counted = -1, "unknown"
    answer_tokens = max(0, result.completion_tokens - max(reasoning_tokens, 0))
    truncated = result.finish_reason == "length" and not result.text
    return Generation(
        reasoning=result.reasoning,
        response=result.text,
        prompt_tokens=result.prompt_tokens,
        reasoning_tokens=reasoning_tokens,
        answer_tokens=answer_tokens,
        finish_reason=result.finish_reason,
        truncated_in_reasoning=truncated,
        enforced_cap=enforced,
        resolved={
            "enforcement": "chat",
            "request": result.request,
            "system": system,
            "reasoning_tokens_from": counted,
        },
        retries=result.retries,
    )


async def generate(engine: Engine, trial: Trial) -> Generation:
    """Generate one trial's reasoning and answer under its budget."""
    budget = trial.budget
    check_supported(engine, budget.mode)
    started = time.perf_counter()
    if budget.mode is BudgetMode.NONE:
        gen = await _chat(engine, trial, ANSWER_DIRECTLY, trial.max_answer_tokens, 0)
    elif budget.mode is BudgetMode.FORCED:
        gen = await _forced(engine, trial, budget.tokens, THINK_FIRST)
    elif budget.mode is BudgetMode.NATURAL and engine.can_complete:
        # Same thinking segment as forced mode, with only a safety cap, so natural and
        # forced runs on one model measure the same kind of reasoning.
        gen = await _forced(engine, trial, trial.max_reasoning_tokens, THINK_FIRST)
    elif budget.mode is BudgetMode.NATURAL:
        gen = await _chat(
            engine, trial, THINK_FIRST, trial.max_reasoning_tokens + trial.max_answer_tokens, None
        )
    else:
        raise ConfigError(f"budget mode {budget.mode.value!r} is not implemented yet")
    gen.latency_s = time.perf_counter() - started
    gen.resolved = {**engine.describe(), "budget": budget.label, **gen.resolved}
    return gen
