"""Run one trial's generation under its budget, on whatever engine it targets.

The budget layer picks the enforcement the engine can honour and refuses (before any call
is made) a budget the engine cannot enforce, rather than silently sending something else.

How each mode is carried out:

============  ============================================  ==============================
mode          raw-completion engines (embedded, vllm/...)    chat-only engines (openai/...)
============  ============================================  ==============================
``none``      empty thinking segment prefilled, then the      chat, "answer directly",
              answer — when the model is known to think in    ``max_tokens`` = answer
              markers (template or config); else as chat      allowance, thinking off
``natural``   thinking segment with only the safety cap       chat with the safety cap
``prompt``    budget stated in the system prompt; thinking    same statement, chat
              segment with a safety cap of max(cap, 2B)
``native``    the provider parameter, through chat            the provider parameter
``forced``    s1 forcing: cut at B, "Wait" below min_tokens   refused (ConfigError)
============  ============================================  ==============================
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from overthink.core import Budget, BudgetMode, Trial
from overthink.engines.base import Engine, Message
from overthink.engines.markers import split_think
from overthink.engines.retry import tally_retries
from overthink.errors import ConfigError
from overthink.reasoning.forcing import (
    ForcedTrace,
    force_answer,
    force_thinking,
    thinking_prefix,
)
from overthink.reasoning.prompts import ANSWER_DIRECTLY, THINK_FIRST, ReasoningOptions

__all__ = [
    "ANSWER_DIRECTLY",
    "THINK_FIRST",
    "Generation",
    "ReasoningOptions",
    "answer_forced",
    "build_messages",
    "check_supported",
    "generate",
    "prompt_cap",
]

# Dry-run answer allowance used when validating a native budget before a run.
_CHECK_ANSWER_TOKENS = 16


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
    """The reasoning limit enforced or stated (None when nothing was): budget violations
    are measured against it."""
    resolved: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    latency_s: float = 0.0


def check_supported(engine: Engine, budget: Budget | BudgetMode) -> None:
    """Raise ConfigError when ``engine`` cannot honour ``budget`` (no request is made).

    Given a full Budget, native budgets are also resolved dry, so provider limits (such
    as Anthropic's 1024-token minimum) fail here rather than on the first request.
    """
    mode = budget if isinstance(budget, BudgetMode) else budget.mode
    if mode not in engine.capabilities:
        honoured = ", ".join(sorted(m.value for m in engine.capabilities))
        hint = ""
        if mode is BudgetMode.FORCED and not engine.can_complete:
            hint = " — forced budgets need a raw-completion endpoint, which this API lacks"
        raise ConfigError(
            f"model {engine.name!r} cannot enforce budget mode {mode.value!r} "
            f"(it honours: {honoured}){hint}"
        )
    if isinstance(budget, Budget) and mode is BudgetMode.NATIVE:
        engine.chat_budget(mode, budget.tokens, _CHECK_ANSWER_TOKENS)


def build_messages(trial: Trial, system: str | None) -> list[Message]:
    """The chat messages for a trial: optional system prompt, then the question."""
    parts = [p for p in (system, trial.sample.system) if p]
    messages: list[Message] = []
    if parts:
        messages.append({"role": "system", "content": "\n".join(parts)})
    messages.append({"role": "user", "content": trial.sample.prompt})
    return messages


def prompt_cap(trial: Trial) -> int:
    """Safety cap for a ``prompt`` budget: room to overshoot the stated budget visibly.

    A model that ignores a stated budget of B must be *observed* doing so, not cut at B,
    so the cap is at least twice the statement (and never below the natural safety cap).
    """
    return max(trial.max_reasoning_tokens, 2 * trial.budget.tokens)


async def answer_forced(
    engine: Engine,
    trial: Trial,
    trace: ForcedTrace,
    *,
    enforced_cap: int | None,
    resolved: dict[str, Any],
    retries: int,
) -> Generation:
    """Force the answer after ``trace`` and account for the whole trial.

    Shared by single forced trials and prefix-shared sweeps, so both record the same
    fields: ``resolved`` gains the ``answer_request`` and ``retries`` the answer's own.
    """
    response, answer_tokens, finish, answer_request, answer_retries = await force_answer(
        engine, trace, max_tokens=trial.max_answer_tokens, temperature=trial.temperature,
        seed=trial.seed,
    )  # fmt: skip
    prompt_tokens = trace.prompt_tokens or await engine.count_tokens(trace.prefix)
    return Generation(
        reasoning=trace.reasoning.strip(),
        response=response,
        prompt_tokens=prompt_tokens,
        reasoning_tokens=trace.tokens,
        answer_tokens=answer_tokens,
        finish_reason=finish,
        truncated_in_reasoning=trace.hit_cap,
        enforced_cap=enforced_cap,
        resolved={**resolved, "answer_request": answer_request},
        retries=retries + answer_retries,
    )


async def _forced(
    engine: Engine,
    trial: Trial,
    cap: int,
    system: str,
    *,
    enforcement: str,
    enforced_cap: int | None,
) -> Generation:
    budget = trial.budget
    prefix, template_opened = await thinking_prefix(engine, build_messages(trial, system))
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
    return await answer_forced(
        engine,
        trial,
        trace,
        enforced_cap=enforced_cap,
        resolved={
            "enforcement": enforcement,
            "reasoning_cap": cap,
            "min_tokens": budget.min_tokens,
            "max_waits": budget.max_waits,
            "waits_used": trace.waits,
            "system": system,
            "think_markers": [engine.think_open, engine.think_close],
            "template_opens_thinking": template_opened,
            "thinking_requests": trace.requests,
        },
        retries=trace.retries,
    )


async def _none_prefilled(engine: Engine, trial: Trial) -> Generation:
    """Answer right after an empty thinking segment (what "thinking off" means in-template)."""
    prefix, template_opened = await thinking_prefix(engine, build_messages(trial, ANSWER_DIRECTLY))
    # The same empty segment Qwen3's template writes when thinking is switched off.
    tail = f"\n{engine.think_close}\n\n"
    prompt = prefix + tail
    result = await engine.complete(
        prompt,
        max_tokens=trial.max_answer_tokens,
        temperature=trial.temperature,
        seed=trial.seed,
    )
    # A model may open a new thinking segment anyway: that is reasoning, and it counts.
    reasoning, answer = split_think(result.text, engine.think_open, engine.think_close)
    reasoning_tokens = await engine.count_tokens(reasoning) if reasoning else 0
    return Generation(
        reasoning=reasoning,
        response=answer,
        prompt_tokens=result.prompt_tokens,
        reasoning_tokens=reasoning_tokens,
        answer_tokens=max(0, result.completion_tokens - reasoning_tokens),
        finish_reason=result.finish_reason,
        truncated_in_reasoning=result.finish_reason == "length" and not answer,
        enforced_cap=0,
        resolved={
            "enforcement": "none-prefilled",
            "system": ANSWER_DIRECTLY,
            # What we appended to the rendered template (the open marker only when the
            # template did not write it).
            "prefill": ("" if template_opened else f"{engine.think_open}\n") + tail,
            "think_markers": [engine.think_open, engine.think_close],
            "template_opens_thinking": template_opened,
            "answer_request": result.request,
        },
        retries=result.retries,
    )


async def _chat(
    engine: Engine,
    trial: Trial,
    system: str,
    *,
    cap: int,
    enforcement: str,
    stated_cap: int | None = None,
) -> Generation:
    """One chat request carrying the budget the way the engine's API understands it."""
    mode = trial.budget.mode
    plan = engine.chat_budget(mode, cap, trial.max_answer_tokens)
    result = await engine.chat(
        build_messages(trial, system),
        max_tokens=plan.max_tokens,
        temperature=trial.temperature,
        seed=trial.seed,
        extra=plan.params or None,
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
    resolved: dict[str, Any] = {
        "enforcement": enforcement,
        "request": result.request,
        "system": system,
        "reasoning_tokens_from": counted,
    }
    if plan.params:
        resolved["provider_params"] = plan.params
    if plan.notes:
        resolved["provider_notes"] = plan.notes
    if result.response_meta:
        resolved["response"] = result.response_meta
    return Generation(
        reasoning=result.reasoning,
        response=result.text,
        prompt_tokens=result.prompt_tokens,
        reasoning_tokens=reasoning_tokens,
        answer_tokens=answer_tokens,
        finish_reason=result.finish_reason,
        truncated_in_reasoning=truncated,
        enforced_cap=stated_cap if stated_cap is not None else plan.enforced_cap,
        resolved=resolved,
        retries=result.retries,
    )


async def _dispatch(engine: Engine, trial: Trial, options: ReasoningOptions) -> Generation:
    budget = trial.budget
    mode = budget.mode
    if mode is BudgetMode.NONE:
        if engine.can_complete and engine.markers_from_model:
            return await _none_prefilled(engine, trial)
        return await _chat(engine, trial, ANSWER_DIRECTLY, cap=0, enforcement="chat")
    if mode is BudgetMode.FORCED:
        return await _forced(
            engine, trial, budget.tokens, THINK_FIRST, enforcement="forced",
            enforced_cap=budget.tokens,
        )  # fmt: skip
    if mode is BudgetMode.NATURAL:
        cap = trial.max_reasoning_tokens
        if engine.can_complete:
            # Same thinking segment as forced mode, with only a safety cap, so natural and
            # forced runs on one model measure the same kind of reasoning.
            return await _forced(
                engine, trial, cap, THINK_FIRST, enforcement="natural-capped", enforced_cap=cap
            )
        return await _chat(engine, trial, THINK_FIRST, cap=cap, enforcement="chat")
    if mode is BudgetMode.PROMPT:
        system = options.budget_statement(budget.tokens)
        cap = prompt_cap(trial)
        # The statement is what we asked the model to honour, so violations are measured
        # against it: a model that ignores a stated budget is flagged, not excused.
        if engine.can_complete:
            gen = await _forced(
                engine, trial, cap, system, enforcement="prompt", enforced_cap=budget.tokens
            )
        else:
            gen = await _chat(
                engine, trial, system, cap=cap, enforcement="prompt", stated_cap=budget.tokens
            )
        gen.resolved.update(
            {"prompt_variant": options.prompt_label, "stated_budget": budget.tokens}
        )
        return gen
    if mode is BudgetMode.NATIVE:
        return await _chat(engine, trial, THINK_FIRST, cap=budget.tokens, enforcement="native")
    raise ConfigError(f"budget mode {mode.value!r} is not implemented")


async def generate(
    engine: Engine, trial: Trial, options: ReasoningOptions | None = None
) -> Generation:
    """Generate one trial's reasoning and answer under its budget."""
    budget = trial.budget
    check_supported(engine, budget)
    started = time.perf_counter()
    with tally_retries() as tally:
        gen = await _dispatch(engine, trial, options or ReasoningOptions())
    gen.latency_s = time.perf_counter() - started
    # The tally also sees helper calls (template rendering, token counts) whose results
    # carry no retry count; engines outside our retry loop report through results only.
    gen.retries = max(gen.retries, tally.count)
    gen.resolved = {**engine.describe(), "budget": budget.label, **gen.resolved}
    return gen
