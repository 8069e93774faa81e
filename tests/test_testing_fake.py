"""overthink.testing.FakeEngine: scripted replies, every budget mode, usage counts — and
the runner's own logic (prefix sharing, resuming, concurrency) on it, with no llama.cpp."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from overthink.core import Record
from overthink.testing import FakeEngine, FakeReply, FakeRequest, run_experiment

TASK = {"tasks": [{"name": "misleading_math", "knobs": {"distractors": [0, 2]}}], "samples": 2}
WORDS = " ".join(f"w{i}" for i in range(20))


def _cfg(tmp_path: Path, name: str = "run", **over: Any) -> dict[str, Any]:
    return {**TASK, "out": str(tmp_path / name), "report": False, **over}


def _by_trial(records: list[Record]) -> dict[str, Record]:
    return {r.trial_id: r for r in records}


def test_forced_budgets_cut_the_scripted_reasoning(tmp_path: Path) -> None:
    engine = FakeEngine(reply=FakeReply(reasoning=WORDS, answer="2"))
    run = run_experiment(_cfg(tmp_path, budgets="forced:4,forced:8,forced:32"), engine)
    assert run.stats.errors == 0 and len(run.records) == 12
    for r in run.records:
        spent = min(r.budget_tokens, 20)
        assert r.reasoning_tokens == spent
        assert r.reasoning == " ".join(WORDS.split()[:spent])
        assert r.truncated_in_reasoning is (r.budget_tokens < 20)
        assert r.response == "Final answer: 2" and r.answer == "2" and r.score == 1.0
        assert not r.budget_violation


def test_every_budget_mode_runs_its_own_path(tmp_path: Path) -> None:
    engine = FakeEngine(reply=FakeReply(reasoning=WORDS, answer="3"))
    run = run_experiment(_cfg(tmp_path, budgets="none,natural,prompt:5,native:6,forced:3"), engine)
    by_mode = {r.budget_mode: r for r in run.records}
    assert {m: r.reasoning_tokens for m, r in by_mode.items()} == {
        "none": 0, "natural": 20, "prompt": 20, "native": 6, "forced": 3,
    }  # fmt: skip
    assert {m: r.resolved["enforcement"] for m, r in by_mode.items()} == {
        "none": "none-prefilled", "natural": "natural-capped", "prompt": "prompt",
        "native": "native", "forced": "forced",
    }  # fmt: skip
    # The fake ignores a stated budget, as models do: flagged, not excused.
    assert by_mode["prompt"].budget_violation and not by_mode["forced"].budget_violation
    assert by_mode["native"].resolved["provider_params"] == {"reasoning_budget": 6}
    assert all(r.answer == "3" and r.score == 0.0 for r in run.records)


def test_waits_extend_short_thinking_within_the_cap(tmp_path: Path) -> None:
    engine = FakeEngine(reply=FakeReply(reasoning="one two three four five", answer="2"))
    run = run_experiment(_cfg(tmp_path, budgets="forced:20", min_tokens=12, max_waits=3), engine)
    for r in run.records:
        assert r.resolved["waits_used"] == 3
        assert r.reasoning == "one two three four five Wait Wait Wait"
        assert r.reasoning_tokens == 8 <= r.budget_tokens


def test_the_answer_can_depend_on_the_thinking_spent(tmp_path: Path) -> None:
    seen: list[FakeRequest] = []

    def reply(request: FakeRequest) -> FakeReply:
        seen.append(request)
        return FakeReply(reasoning=WORDS, answer=lambda spent: "2" if spent <= 8 else "5")

    run = run_experiment(
        _cfg(tmp_path, budgets="forced:4,forced:8,forced:16"), FakeEngine(reply=reply)
    )
    assert {r.budget_tokens: r.answer for r in run.records} == {4: "2", 8: "2", 16: "5"}
    assert all("How many" in req.question for req in seen)


def test_usage_is_counted(tmp_path: Path) -> None:
    engine = FakeEngine(reply=FakeReply(reasoning=WORDS, answer="2"))
    run = run_experiment(_cfg(tmp_path, budgets="natural,none"), engine)
    # natural: one thinking call and one answer call per trial; none: one call.
    assert engine.calls == len(engine.requests) == 4 * 2 + 4
    assert engine.generated_tokens == run.stats.generated_tokens
    assert engine.generated_tokens == sum(r.reasoning_tokens + r.answer_tokens for r in run.records)
    assert all(req["endpoint"] == "completion" for req in engine.requests)


def test_prefix_shared_sweep_equals_separate_runs(tmp_path: Path) -> None:
    kwargs = {"budgets": "0,4,8,16,32", "samples": 3}
    engine = FakeEngine(reply=FakeReply(reasoning=WORDS, answer="2"))
    shared = run_experiment(_cfg(tmp_path, "shared", **kwargs), engine)
    calls_shared = engine.calls
    separate = run_experiment(_cfg(tmp_path, "separate", prefix_sharing=False, **kwargs), engine)
    s, p = _by_trial(shared.records), _by_trial(separate.records)
    assert s.keys() == p.keys() and len(s) == 30
    for tid in s:
        assert s[tid].resolved["prefix_shared"] is True
        assert "prefix_shared" not in p[tid].resolved
        for field in ("reasoning", "response", "reasoning_tokens", "truncated_in_reasoning"):
            assert getattr(s[tid], field) == getattr(p[tid], field), (tid, field)
    # One trace per question instead of one per budget.
    assert shared.stats.generated_tokens < separate.stats.generated_tokens
    assert calls_shared < engine.calls - calls_shared


def test_a_second_run_resumes_and_generates_nothing(tmp_path: Path) -> None:
    first = run_experiment(_cfg(tmp_path, budgets="none,8"), FakeEngine())
    again = FakeEngine()
    second = run_experiment(_cfg(tmp_path, budgets="none,8"), again)
    assert first.stats.done == 8 and second.stats.skipped == 8 and second.stats.done == 0
    assert again.calls == 0
    assert _by_trial(first.records).keys() == _by_trial(second.records).keys()


def test_concurrency_is_never_exceeded(tmp_path: Path) -> None:
    engine = FakeEngine(latency_s=0.005, concurrency=3)
    run_experiment(_cfg(tmp_path, budgets="none,natural", samples=6), engine)
    assert engine.max_inflight == 3


def test_default_replies_differ_by_seed_and_repeat_exactly(tmp_path: Path) -> None:
    kwargs = {"budgets": "natural", "samples_per_question": 3, "temperature": 0.7}
    a = run_experiment(_cfg(tmp_path, "a", **kwargs), FakeEngine())
    b = run_experiment(_cfg(tmp_path, "b", **kwargs), FakeEngine())
    ra, rb = _by_trial(a.records), _by_trial(b.records)
    assert ra.keys() == rb.keys()
    assert all(ra[t].reasoning == rb[t].reasoning for t in ra)
    assert len({r.reasoning for r in a.records}) > 1  # seeds and questions differ


def test_engine_protocol_directly() -> None:
    engine = FakeEngine(reply=FakeReply(reasoning="a b c", answer="x y"))

    async def go() -> None:
        chat = await engine.chat([{"role": "user", "content": "q?"}], max_tokens=4, temperature=0.0)
        assert (chat.reasoning, chat.text, chat.finish_reason) == ("a b c", "x", "length")
        assert await engine.count_tokens(" a  b\nc ") == 3
        prompt = await engine.render_chat([{"role": "user", "content": "q?"}])
        first = await engine.complete(prompt + "<think>\n", max_tokens=2, temperature=0.0,
                                      want_tokens=True)  # fmt: skip
        assert (first.text, first.finish_reason, first.token_bytes) == (
            " a b", "length", [b" a", b" b"],
        )  # fmt: skip

    asyncio.run(go())
