"""Budget control without a model: bucketing, markers, prompt statements, audit, retries."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from overthink.core import Budget, BudgetMode, Record
from overthink.engines.anthropic_messages import AnthropicEngine
from overthink.engines.base import ChatResult, Engine, Message
from overthink.engines.markers import markers_in_template, split_think
from overthink.engines.openai_compat import EffortBuckets, OpenAICompatEngine
from overthink.engines.openai_platform import OpenAIEngine
from overthink.engines.retry import EngineCallError, RetryLoop, redact, tally_retries
from overthink.errors import ConfigError
from overthink.reasoning import check_supported
from overthink.reasoning.audit import audit_budgets
from overthink.reasoning.forcing import thinking_prefix
from overthink.reasoning.prompts import PROMPT_VARIANTS, ReasoningOptions


def test_effort_buckets_edges_and_validation() -> None:
    default = EffortBuckets()
    assert [default.level(b) for b in (0, 2047, 2048, 8191, 8192, 10**6)] == [
        "low", "low", "medium", "medium", "high", "high",
    ]  # fmt: skip
    four = EffortBuckets((256, 2048, 8192), ("minimal", "low", "medium", "high"))
    assert [four.level(b) for b in (100, 256, 5000, 9000)] == ["minimal", "low", "medium", "high"]
    with pytest.raises(ConfigError, match="one more entry"):
        EffortBuckets((100,), ("low", "medium", "high"))
    with pytest.raises(ConfigError, match="strictly increasing"):
        EffortBuckets((500, 500), ("low", "medium", "high"))


def test_markers_come_from_the_chat_template() -> None:
    qwen = "{% if enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}"
    assert markers_in_template(qwen) == markers_in_template("<think>x</think>")
    found = markers_in_template(qwen)
    assert found is not None and (found.open, found.close, found.source) == (
        "<think>", "</think>", "chat_template",
    )  # fmt: skip
    magistral = markers_in_template("{{ '[THINK]' + thought + '[/THINK]' }}")
    assert magistral is not None and magistral.open == "[THINK]"
    seed = markers_in_template("<seed:think>{{ t }}</seed:think>")
    assert seed is not None and seed.close == "</seed:think>"
    assert markers_in_template("<|im_start|>assistant\n") is None
    assert markers_in_template(None) is None
    assert split_think("[THINK]a b[/THINK] 42", "[THINK]", "[/THINK]") == ("a b", "42")


class _Template(Engine):
    """An engine whose only skill is rendering a fixed chat template."""

    def __init__(self, suffix: str) -> None:
        self.name = "fake"
        self.suffix = suffix

    async def chat(self, messages: list[Message], **kwargs: Any) -> ChatResult:
        raise NotImplementedError

    async def render_chat(self, messages: list[Message]) -> str:
        return f"<user>{messages[-1]['content']}<assistant>{self.suffix}"


def test_thinking_prefix_never_opens_a_second_segment() -> None:
    msgs: list[Message] = [{"role": "user", "content": "1+1?"}]
    assert asyncio.run(thinking_prefix(_Template(""), msgs)) == (
        "<user>1+1?<assistant><think>\n", False,
    )  # fmt: skip
    # DeepSeek-R1-style templates open the segment themselves (with or without newline).
    for suffix in ("<think>\n", "<think>"):
        prefix, opened = asyncio.run(thinking_prefix(_Template(suffix), msgs))
        assert opened and prefix == "<user>1+1?<assistant><think>\n"


def test_prompt_statements_and_their_validation() -> None:
    assert set(PROMPT_VARIANTS) == {"neutral", "urge-use", "urge-brevity"}
    texts = {v: ReasoningOptions(v).budget_statement(300) for v in PROMPT_VARIANTS}
    assert all("about 300 tokens" in t for t in texts.values())
    assert len(set(texts.values())) == 3
    assert "Use all of it" in texts["urge-use"] and "do not need" in texts["urge-brevity"]
    custom = ReasoningOptions(prompt_template="Budget: {budget}. Go.")
    assert custom.budget_statement(64) == "Budget: 64. Go." and custom.prompt_label == "custom"
    with pytest.raises(ConfigError, match="unknown"):
        ReasoningOptions("shout")
    with pytest.raises(ConfigError, match="placeholder"):
        ReasoningOptions(prompt_template="no budget here")
    with pytest.raises(ConfigError, match=r"only \{budget\} may appear"):
        ReasoningOptions(prompt_template="{budget} and {other}")


def test_impossible_budgets_are_refused_without_a_request() -> None:
    # Constructing these engines makes no request; check_supported makes none either.
    openai = OpenAIEngine("openai/o3", "o3", api_key="sk-x", base_url="http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="raw-completion endpoint"):
        check_supported(openai, Budget.parse("forced:64"))
    check_supported(openai, Budget.parse("native:64"))
    claude = AnthropicEngine("anthropic/c", "c", api_key="sk-ant-x", base_url="http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="minimum thinking budget of 1024"):
        check_supported(claude, Budget.parse("native:1023"))
    check_supported(claude, Budget.parse("native:1024"))
    # A bare OpenAI-compatible server without a native style has no native parameter.
    plain = OpenAICompatEngine("openai-api/x", "x", "http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="cannot enforce budget mode 'native'"):
        check_supported(plain, Budget.parse("native:64"))
    assert BudgetMode.FORCED in plain.capabilities
    for engine in (openai, claude, plain):
        asyncio.run(engine.aclose())


def test_keys_are_redacted_from_error_text() -> None:
    key = "sk-proj-abcdefghijklmnop0123"
    text = f"Incorrect API key provided: {key}; also sk-ab***yz12 and sk-ant-api03-XYZxyz123"
    clean = redact(text, (key,))
    assert "abcdefghijklmnop" not in clean and "XYZxyz" not in clean and "***" not in clean
    assert clean.startswith("Incorrect API key provided: [redacted]")
    assert redact("a custom-secret-token here", ("custom-secret-token",)) == "a [redacted] here"


class _Status(Exception):
    def __init__(self, status_code: int) -> None:
        super().__init__(f"HTTP {status_code} with key sk-live-0000000000secret")
        self.status_code = status_code


def test_retry_loop_counts_retries_and_fails_fast_on_client_errors() -> None:
    loop = RetryLoop(
        "t", transient=(httpx.TransportError,), status_errors=(_Status,), backoff_s=0.001
    )
    calls = {"n": 0}

    async def flaky() -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("dropped")
        if calls["n"] == 2:
            raise _Status(503)
        return "ok"

    async def bad_request() -> str:
        raise _Status(400)

    async def go() -> None:
        with tally_retries() as tally:
            assert await loop(flaky) == ("ok", 2)
            with pytest.raises(EngineCallError) as failed:
                await loop(bad_request)
        assert tally.count == 2
        assert failed.value.status_code == 400 and failed.value.retries == 0
        assert "sk-live" not in str(failed.value)

    asyncio.run(go())


def _record(mode: str, tokens: int, **flags: Any) -> Record:
    return Record(
        run="r", trial_id=f"{mode}{tokens}{flags}", task="t", sample_id="s", model="m",
        budget_mode=mode, budget_tokens=tokens, **flags,
    )  # fmt: skip


def test_budget_audit_summary() -> None:
    records = [
        _record("native", 1024, budget_violation=True, answer="1"),
        _record("native", 1024, budget_violation=True, answer="1", sample_index=1),
        _record("prompt", 256, budget_violation=True, answer="2"),
        _record("none", 0, empty_answer=True),
        # Cut inside thinking with one output limit for both: reasoning ate the answer.
        _record("native", 2048, truncated_in_reasoning=True, answer=None),
        # Forced: the answer had its own request, a cut in thinking is the point.
        _record("forced", 64, truncated_in_reasoning=True, resolved={"reasoning_cap": 64}),
        _record("forced", 32, error="boom", budget_violation=True),
    ]
    audit = audit_budgets(records)
    assert audit.trials == 6
    line = audit.summary()
    assert line is not None
    assert "3 of 6 trials exceeded their enforced budget by more than 10 %" in line
    assert "(native:1024 ×2, prompt:256 ×1)" in line
    assert "2 of 6 trials lost their answer to reasoning" in line
    assert "(native:2048 ×1, none ×1)" in line
    assert audit_budgets([_record("forced", 8, answer="3")]).summary() is None
