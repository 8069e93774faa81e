"""Verifiers (rubric, judge, self_consistency) and how their scores land on records."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from overthink.core import Record
from overthink.engines.base import ChatResult, Engine, Message
from overthink.errors import ConfigError
from overthink.experiment.store import Store
from overthink.strategies import (
    Verdict,
    Verifier,
    VerifierError,
    apply_to_store,
    make_verifiers,
    parse_verifiers,
    verify_records,
)
from overthink.strategies.verifiers import judge as judge_module
from overthink.strategies.verifiers.judge import JudgeVerifier, judge_messages, parse_judge_score
from overthink.strategies.verifiers.rubric import RubricVerifier, rubric_for
from overthink.strategies.verifiers.self_consistency import SelfConsistencyVerifier


def rec(index: int = 0, answer: str | None = "2", **kw: Any) -> Record:
    fields: dict[str, Any] = {
        "run": "r", "trial_id": f"t{index}", "task": "misleading_math", "sample_id": "q0",
        "model": "m", "budget_mode": "forced", "budget_tokens": 64, "sample_index": index,
        "prompt": "You have an apple and a pear. How many types of fruit?\n"
                  "Answer with a single number.",
        "target": "2", "kind": "numeric", "answer": answer,
        "reasoning": "An apple and a pear are two fruits, so 2.",
        "response": f"Final answer: {answer}" if answer is not None else "Final answer:",
        "score": float(answer == "2"),
    }  # fmt: skip
    fields.update(kw)
    return Record(**fields)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


class ScriptedEngine(Engine):
    """An engine whose chat replies are scripted (or raise), counting calls."""

    name = "scripted"

    def __init__(self, replies: Sequence[str | Exception]) -> None:
        self.replies = list(replies)
        self.calls: list[list[Message]] = []

    async def chat(
        self,
        messages: list[Message],
        *,
        max_tokens: int | None,
        temperature: float,
        seed: int | None = None,
        stop: list[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> ChatResult:
        self.calls.append(messages)
        reply = self.replies[(len(self.calls) - 1) % len(self.replies)]
        if isinstance(reply, Exception):
            raise reply
        return ChatResult(reply, "", 40, 3, None, "stop")


# --- rubric ------------------------------------------------------------------------


def score(verifier: Verifier, record: Record, peers: Sequence[Record] = ()) -> Verdict:
    result: Verdict = run(verifier.verify(record, peers))
    return result


def test_rubric_rewards_well_formed_consistent_answers() -> None:
    rubric = RubricVerifier()
    good = score(rubric, rec())
    assert good.score == 1.0
    assert good.detail["checks"] == {
        "answer_present": True, "one_number": True, "count": True,
        "finished_thinking": True, "reasoning_agrees": True,
    }  # fmt: skip
    # The reasoning concluded 2 but the answer says 3: one check of five fails.
    drift = score(rubric, rec(answer="3"))
    assert drift.score == pytest.approx(4 / 5)
    assert drift.detail["checks"]["reasoning_agrees"] is False
    hedge = score(rubric, rec(answer="2", response="Final answer: 2 or 3"))
    assert hedge.detail["checks"]["one_number"] is False
    cut = score(rubric, rec(truncated_in_reasoning=True, reasoning="Let me count: 1,"))
    assert cut.detail["checks"]["finished_thinking"] is False
    assert score(rubric, rec(answer=None)).score == 0.0
    assert score(rubric, rec(answer="-1.5")).detail["checks"]["count"] is False


def test_rubric_is_declared_per_task_with_kind_defaults() -> None:
    grades = rec(task="grades_regression", kind="regression", answer="12", reasoning="",
                 response="Final answer: 12")  # fmt: skip
    verdict = score(RubricVerifier(), grades)
    assert verdict.detail["checks"]["in_range"] is False
    assert verdict.detail["checks"]["reasoning_agrees"] is None  # no reasoning: not applicable
    assert verdict.score == pytest.approx(3 / 4)
    other = rec(task="jsonl:/tmp/x.jsonl", kind="choice", answer="D",
                prompt="Q?\n(A) x\n(B) y\n(C) z\nAnswer ... inside answer tags.",
                response="<answer>D</answer>", reasoning="I pick (D).")  # fmt: skip
    checks = score(RubricVerifier(), other).detail["checks"]
    assert checks["valid_option"] is False and checks["tagged"] is True
    assert checks["reasoning_agrees"] is None  # (D) is not an option of this prompt
    zebra = rec(task="zebra", kind="exact", answer="boxing or skiing",
                meta={"options": "skiing,football,boxing"})  # fmt: skip
    assert score(RubricVerifier(), zebra).detail["checks"]["one_option"] is False
    assert [c.name for c in rubric_for(zebra)][:2] == ["answer_present", "one_option"]


# --- self-consistency --------------------------------------------------------------


def test_self_consistency_is_leave_one_out_agreement() -> None:
    group = [rec(0, "2"), rec(1, "2.0"), rec(2, "3"), rec(3, None), rec(4, "2")]
    sc = SelfConsistencyVerifier()
    assert score(sc, group[0], group).score == pytest.approx(2 / 4)
    assert score(sc, group[2], group).score == 0.0
    assert score(sc, group[3], group).score == 0.0
    with pytest.raises(VerifierError):
        score(sc, group[0], [group[0]])


# --- judge -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Score: 7", 0.7),
        ("**Score:** 10", 1.0),
        ("score = 3/5", 0.6),
        ("I'd give it 8 out of 10.", 0.8),
        ("9", 0.9),
        ("0.25", 0.25),
        ("80%", 0.8),
        ("Yes, that is right.", 1.0),
        ("No.", 0.0),
        ("The answer is incorrect because...", 0.0),
        ("The proposed answer is correct.", 1.0),
        ("<think>hmm, 2 apples</think>Score: 4", 0.4),
        ("The proposed final answer is incorrect. The correct answer is 2.", 0.0),
        # Seen from SmolLM2: "correct" here names the answer, it is not a verdict.
        ("The correct answer is 6.", 1.0),
        ("The correct answer is 5.", 0.0),
        ("The right answer would be six", 1.0),
    ],
)
def test_judge_score_parsing(reply: str, expected: float) -> None:
    parsed = parse_judge_score(reply, answer="6", kind="numeric")
    assert parsed is not None and parsed[0] == pytest.approx(expected)


@pytest.mark.parametrize(
    "reply",
    ["", "   ", "Banana banana.", "Score: 42", "17", "###", "The correct answer is 6."],
)
def test_judge_garbage_is_none(reply: str) -> None:
    # Without the proposed answer, a stated answer cannot be compared: garbage.
    assert parse_judge_score(reply) is None


def test_judge_prompt_never_shows_the_target_and_is_documented() -> None:
    r = rec(answer="3", target="TARGET-XYZ")
    text = " ".join(m["content"] for m in judge_messages(r))
    assert "TARGET-XYZ" not in text and "Proposed final answer: 3" in text
    assert r.reasoning not in text
    assert r.reasoning in " ".join(m["content"] for m in judge_messages(r, show_reasoning=True))
    # The module docstring quotes the prompt verbatim (modulo line wrapping).
    doc = " ".join((judge_module.__doc__ or "").split())
    template = " ".join(judge_module.JUDGE_TEMPLATE.split())
    assert template in doc and judge_module.JUDGE_SYSTEM in doc


def test_judge_garbage_gives_null_score_and_counted_warning_never_a_crash() -> None:
    engine = ScriptedEngine(["Score: 8", "I like turtles", RuntimeError("server exploded")])
    records = [rec(i, "2", trial_id=f"t{i}") for i in range(3)] + [rec(3, None)]
    out, report = run(verify_records(records, [JudgeVerifier(engine)]))
    scores = [r.verifier_score for r in out]
    assert scores == [0.8, None, None, 0.0]  # no answer: 0 without a call
    assert len(engine.calls) == 3
    assert report.failed["judge"] == 2 and report.scored["judge"] == 2
    assert out[1].resolved["verifier_errors"]["judge"].startswith("no score in the judge's reply")
    assert "RuntimeError: server exploded" in out[2].resolved["verifier_errors"]["judge"]
    (warning,) = report.warnings()
    assert "judge: 2 of 4 samples got no score" in warning
    assert report.verifier_tokens == 43  # the parsed reply: 40 prompt + 3 completion tokens
    assert out[0].resolved["verifier_details"]["judge"]["reply"] == "Score: 8"


# --- verify_records ------------------------------------------------------------------


class CountingVerifier(Verifier):
    name: ClassVar[str] = "rubric"

    def __init__(self, value: float = 0.5) -> None:
        self.calls = 0
        self.value = value

    async def verify(self, record: Record, peers: Sequence[Record]) -> Verdict:
        self.calls += 1
        return Verdict(self.value)


def test_scores_are_stored_combined_and_reused() -> None:
    engine = ScriptedEngine(["Score: 10"])
    group = [rec(0, "2"), rec(1, "3")]
    verifiers = [RubricVerifier(), JudgeVerifier(engine), SelfConsistencyVerifier()]
    out, report = run(verify_records(group, verifiers))
    first = out[0]
    assert first.verifier == "rubric+judge+self_consistency"
    assert first.resolved["verifiers"] == {"rubric": 1.0, "judge": 1.0, "self_consistency": 0.0}
    assert first.verifier_score == pytest.approx(2 / 3)
    assert report.changed == ["t0", "t1"]
    # Second pass: rubric and judge reused (no call), self_consistency recomputed.
    again, report2 = run(verify_records(out, verifiers))
    assert len(engine.calls) == 2 and report2.reused["judge"] == 2
    assert report2.scored["self_consistency"] == 2 and report2.changed == []
    assert again == out
    # Asking for one verifier only re-points the combined score, keeping the others.
    judge_only, _ = run(verify_records(out, [JudgeVerifier(engine)]))
    assert judge_only[1].verifier == "judge" and judge_only[1].verifier_score == 1.0
    assert judge_only[1].resolved["verifiers"]["rubric"] == pytest.approx(0.8)


def test_out_of_range_and_crashing_verifiers_are_failures() -> None:
    class Broken(Verifier):
        name: ClassVar[str] = "rubric"

        async def verify(self, record: Record, peers: Sequence[Record]) -> Verdict:
            if record.sample_index == 0:
                return Verdict(1.5)
            raise KeyError("bug")

    out, report = run(verify_records([rec(0), rec(1)], [Broken()]))
    assert [r.verifier_score for r in out] == [None, None]
    assert report.failed["rubric"] == 2
    assert set(report.reasons["rubric"]) == {"score 1.5 outside [0, 1]", "KeyError: 'bug'"}


def test_errored_and_strategy_records_are_not_verified() -> None:
    counting = CountingVerifier()
    records = [rec(0, error="boom"), rec(1, strategy="majority@2"), rec(2)]
    out, report = run(verify_records(records, [counting]))
    assert counting.calls == 1 and report.errored_records == 1
    assert out[0].verifier_score is None and out[1].verifier_score is None
    assert out[2].verifier_score == 0.5


def test_verifier_names_and_factory() -> None:
    assert parse_verifiers("rubric, judge") == ["rubric", "judge"]
    with pytest.raises(ConfigError, match="unknown verifier"):
        parse_verifiers("oracle")
    with pytest.raises(ConfigError, match="judge verifier needs an engine"):
        make_verifiers(["judge"])
    built = make_verifiers(["self-consistency", "rubric"])
    assert [v.name for v in built] == ["self_consistency", "rubric"]
    assert all(inspect.getdoc(type(v)) for v in built)


def test_interrupted_verification_keeps_the_records_it_finished(tmp_path: Path) -> None:
    class Interrupting(Verifier):
        name: ClassVar[str] = "rubric"

        async def verify(self, record: Record, peers: Sequence[Record]) -> Verdict:
            if record.sample_index == 3:
                await asyncio.sleep(0.05)  # a slow judge call...
                raise KeyboardInterrupt  # ...during which the user pressed Ctrl-C
            return Verdict(0.5)

    with Store(tmp_path / "store.sqlite") as store:
        store.add_many([rec(i, trial_id=f"t{i}") for i in range(6)])
        with pytest.raises(KeyboardInterrupt):
            run(apply_to_store(store, verifiers=[Interrupting()], strategies=[], concurrency=1))
        scored = {r.trial_id: r.verifier_score for r in store.records()}
    assert scored == {"t0": 0.5, "t1": 0.5, "t2": 0.5, "t3": None, "t4": None, "t5": None}
