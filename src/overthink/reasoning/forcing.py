"""s1 budget forcing over a raw-completion endpoint (Muennighoff et al. 2025, "s1").

Open a thinking segment, let the model think for at most B tokens (stopping early at the
end-of-thinking marker), then close the segment and force "Final answer:". With a minimum
budget, an early end of thinking is suppressed by appending a word such as "Wait" (up to
``max_waits`` times), and every round's tokens come out of the same budget, so the
reasoning tokens spent never exceed B.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from overthink.engines.base import Engine, Message
from overthink.engines.markers import opens_thinking

__all__ = ["ANSWER_CUE", "ForcedTrace", "force_answer", "force_thinking", "thinking_prefix"]

ANSWER_CUE = "Final answer:"


@dataclass
class ForcedTrace:
    """The thinking segment produced under a cap."""

    prefix: str
    """Rendered chat prompt + opening marker: the text the thinking continues."""
    reasoning: str = ""
    tokens: int = 0
    """Reasoning tokens spent: generated tokens plus inserted wait words."""
    prompt_tokens: int = 0
    hit_cap: bool = False
    waits: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    retries: int = 0


async def thinking_prefix(engine: Engine, messages: list[Message]) -> tuple[str, bool]:
    """The rendered chat prompt with the thinking segment opened, ready to continue.

    Returns (prefix, whether the chat template itself opened the segment). Templates such
    as DeepSeek-R1's end the generation prompt with the open marker already; adding a
    second one would put the model in a state it never saw in training.
    """
    rendered = await engine.render_chat(messages)
    if opens_thinking(rendered, engine.think_open):
        return (rendered if rendered.endswith("\n") else rendered + "\n"), True
    return f"{rendered}{engine.think_open}\n", False


async def force_thinking(
    engine: Engine,
    prefix: str,
    *,
    cap: int,
    min_tokens: int = 0,
    max_waits: int = 0,
    wait_word: str = "Wait",
    temperature: float = 0.0,
    seed: int | None = None,
) -> ForcedTrace:
    """Generate up to ``cap`` reasoning tokens after ``prefix`` (which opens thinking)."""
    trace = ForcedTrace(
        prefix=prefix, reasoning="", tokens=0, prompt_tokens=0, hit_cap=False, waits=0
    )
    if cap <= 0:
        return trace
    wait_text = f" {wait_word}"
    wait_cost = await engine.count_tokens(wait_text) if max_waits > 0 else 0
    while True:
        remaining = cap - trace.tokens
        if remaining <= 0:
            trace.hit_cap = True
            break
        result = await engine.complete(
            prefix + trace.reasoning,
            max_tokens=remaining,
            temperature=temperature,
            seed=seed,
            stop=[engine.think_close],
        )
        if not trace.requests:
            trace.prompt_tokens = result.prompt_tokens
        trace.requests.append(result.request)
        trace.retries += result.retries
        trace.reasoning += result.text
        # The server's own count, unclamped: if it ever overshoots max_tokens, the record
        # shows it (and flags a budget violation) instead of hiding it.
        trace.tokens += result.completion_tokens
        if result.finish_reason == "length" or trace.tokens >= cap:
            trace.hit_cap = True
            break
        # The model ended its thinking early (stop marker or end of sequence).
        if trace.tokens >= min_tokens or trace.waits >= max_waits:
            break
        if trace.tokens + wait_cost >= cap:
            break
        trace.reasoning = trace.reasoning.rstrip() + wait_text
        trace.tokens += wait_cost
        trace.waits += 1
    return trace


async def force_answer(
    engine: Engine,
    trace: ForcedTrace,
    *,
    max_tokens: int,
    temperature: float = 0.0,
    seed: int | None = None,
) -> tuple[str, int, str | None, dict[str, Any], int]:
    """Close the thinking segment and force the answer.

    Returns (response text starting with the answer cue, answer tokens, finish reason,
    request sent, retries).
    """
    prompt = f"{trace.prefix}{trace.reasoning.rstrip()}\n{engine.think_close}\n{ANSWER_CUE}"
    result = await engine.complete(
        prompt, max_tokens=max_tokens, temperature=temperature, seed=seed
    )
    return (
        f"{ANSWER_CUE}{result.text}",
        result.completion_tokens,
        result.finish_reason,
        result.request,
        result.retries,
    )
