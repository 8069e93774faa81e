"""Prompt budgets and the ``none`` prefill on the real embedded SmolLM2 (shared server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import run_experiment
from overthink.engines.embedded import EmbeddedServer
from overthink.reasoning.prompts import PROMPT_VARIANTS

pytestmark = pytest.mark.engine

ONE = {"tasks": [{"name": "misleading_math", "knobs": {"distractors": [0]}}], "samples": 1}


def test_prompt_budget_is_stated_and_audited(
    embedded_server: EmbeddedServer, tmp_path: Path
) -> None:
    common = {**ONE, "budgets": "prompt:12", "max_reasoning_tokens": 16, "deterministic": True}
    _, _, (neutral,) = run_experiment(tmp_path / "n", **common)
    _, _, (brief,) = run_experiment(tmp_path / "b", prompt_variant="urge-brevity", **common)
    for record, variant in ((neutral, "neutral"), (brief, "urge-brevity")):
        assert record.error is None
        r = record.resolved
        assert r["enforcement"] == "prompt" and r["prompt_variant"] == variant
        assert r["system"] == PROMPT_VARIANTS[variant].format(budget=12)
        assert r["stated_budget"] == 12
        # The safety cap leaves room to overshoot the statement (2 × 12 > 16).
        assert r["reasoning_cap"] == 24
        assert 0 <= record.reasoning_tokens <= 24
        # Violations are measured against the stated budget.
        assert record.budget_violation == (record.reasoning_tokens > 12 * 1.1)
    # The statement reached the model: different system text, different prompt length.
    assert neutral.prompt_tokens != brief.prompt_tokens


def test_none_prefills_an_empty_thinking_segment_when_markers_are_known(
    embedded_server: EmbeddedServer, tmp_path: Path
) -> None:
    # SmolLM2's template has no thinking markers: 'none' stays a plain chat...
    _, _, (plain,) = run_experiment(tmp_path / "plain", budgets="none", **ONE)
    assert plain.resolved["enforcement"] == "chat"
    assert plain.resolved["think_markers_from"] == "default"
    # ...unless markers are configured: then the segment is prefilled, empty.
    _, _, (filled,) = run_experiment(
        tmp_path / "filled", budgets="none", think_open="<think>", think_close="</think>", **ONE
    )
    r = filled.resolved
    assert filled.error is None
    assert r["enforcement"] == "none-prefilled" and r["think_markers_from"] == "config"
    assert r["prefill"] == "<think>\n\n</think>\n\n"
    assert r["answer_request"]["endpoint"] == "completions"
    assert r["answer_request"]["max_tokens"] == 16  # the answer allowance only
    # The prefill reached the model: same messages, plus the empty segment's tokens.
    assert filled.prompt_tokens > plain.prompt_tokens
    # Thinking that the model starts anyway would be counted, and flagged.
    assert filled.budget_violation == (filled.reasoning_tokens > 0)
