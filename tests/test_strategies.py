"""Strategies over a question's N samples: first, majority, best_of_n, weighted."""

from __future__ import annotations

import random
from typing import Any

import pytest

from frames import number_at
from overthink.analysis import analyze, records_frame
from overthink.core import Record
from overthink.errors import ConfigError
from overthink.strategies import (
    choose,
    combine,
    default_strategies,
    parse_strategies,
    split_label,
)
from overthink.strategies.records import strategy_trial_id
from overthink.tasks.extract import answer_key, parse_number


def rec(index: int, answer: str | None, **kw: Any) -> Record:
    """One sample of question q0 at forced:128 (misleading_math, target 2)."""
    target = kw.pop("target", "2")
    kind = kw.pop("kind", "numeric")
    fields: dict[str, Any] = {
        "run": "r", "trial_id": f"t{kw.pop('q', 0)}-{index}-{kw.get('budget_tokens', 128)}",
        "task": "misleading_math", "sample_id": "q0", "model": "embedded",
        "budget_mode": "forced", "budget_tokens": 128, "sample_index": index, "seed": index,
        "answer": answer, "target": target, "kind": kind,
        "prompt_tokens": 50, "reasoning_tokens": 100, "answer_tokens": 5,
        "latency_s": 1.0 + index, "created_at": 1000.0 + index,
    }  # fmt: skip
    fields.update(kw)
    if "score" not in kw:
        if kind == "numeric":
            fields["score"] = float(answer is not None and parse_number(answer) == float(target))
        else:
            fields["score"] = float(answer is not None and answer.lower() == target.lower())
    return Record(**fields)


def group(answers: list[str | None], scores: list[float | None] | None = None) -> list[Record]:
    out = []
    for i, a in enumerate(answers):
        extra = {} if scores is None else {"verifier": "rubric", "verifier_score": scores[i]}
        out.append(rec(i, a, **extra))
    return out


def test_majority_votes_on_answers_not_correctness() -> None:
    # Five of eight samples make the same mistake: the vote must return that mistake
    # (an oracle that keeps any right sample, like pass@k, would not).
    g = group(["3", "3", "2", "3", "2", "3", "2", "3"])
    choice = choose("majority", g)
    assert choice.index is not None and g[choice.index].answer == "3"
    assert choice.tally == {repr(3.0): 5.0, repr(2.0): 3.0} and not choice.tie
    (r,) = [x for x in combine(g, ["majority"])[0]]
    assert r.answer == "3" and r.score == 0.0 and r.strategy == "majority@8"


def test_majority_of_wrong_answers_that_disagree_loses_to_right_plurality() -> None:
    # 3 right and 5 wrong answers spread over 5 values: the right answer is the plurality.
    # A vote over verdicts (5 "wrong" vs 3 "right") would call this question wrong.
    g = group(["2", "4", "2", "5", "2", "6", "7", "8"])
    (r,) = combine(g, ["majority"])[0]
    assert r.answer == "2" and r.score == 1.0


def test_majority_normalises_answers() -> None:
    g = group(["2.0", "two", "3", "3", "2"])
    choice = choose("majority", g)
    assert choice.tally[repr(2.0)] == 3.0 and g[choice.index or 0].answer == "2.0"
    assert answer_key("Boxing.", "exact") == answer_key("boxing", "exact")
    assert answer_key(None, "numeric") is None


def test_tie_goes_to_the_class_seen_first_and_is_counted() -> None:
    g = group(["3", "2", "2", "3"])
    choice = choose("majority", g)
    assert choice.tie and set(choice.tied) == {repr(2.0), repr(3.0)}
    assert g[choice.index or 0].answer == "3"  # "3" appears first (sample 0)
    records, report = combine(g, ["majority"])
    assert report.ties["majority"] == 1
    assert records[0].resolved["strategy"]["tie"] is True
    assert any("ties" in w for w in report.warnings())


def test_unanswered_and_errored_samples_do_not_vote() -> None:
    g = group([None, None, None, "2", "3", "3"])
    g[4] = g[4].model_copy(update={"error": "boom", "answer": None, "score": None})
    choice = choose("majority", g)
    assert choice.voters == 2 and choice.tie  # "2" vs the one surviving "3"
    assert g[choice.index or 0].answer == "2"
    nobody = group([None, None, None])
    assert choose("majority", nobody).index == 0  # answers "no answer": scored wrong
    assert choose("first", g).index == 0


def test_weighted_vote_matches_hand_computation() -> None:
    # Weights per class: "3": 0.2 + 0.1 + 0.3 = 0.6; "2": 0.9; "5": 0.5 + 0.45 = 0.95.
    g = group(["3", "2", "3", "5", "3", "5"], [0.2, 0.9, 0.1, 0.5, 0.3, 0.45])
    choice = choose("weighted", g)
    assert choice.tally == pytest.approx({repr(3.0): 0.6, repr(2.0): 0.9, repr(5.0): 0.95})
    assert g[choice.index or 0].answer == "5" and not choice.tie
    # Majority would pick "3" (3 votes); best_of_n the single 0.9 sample ("2").
    assert g[choose("majority", g).index or 0].answer == "3"
    assert g[choose("best_of_n", g).index or 0].answer == "2"
    records, _ = combine(g, ["majority", "best_of_n", "weighted"])
    by = {r.strategy: r for r in records}
    assert by["majority@6"].score == 0.0
    assert by["best_of_n@6"].score == 1.0 and by["best_of_n@6"].verifier_score == 0.9
    assert by["weighted@6"].answer == "5" and by["weighted@6"].score == 0.0


def test_weighted_float_sums_tie_within_tolerance() -> None:
    g = group(["3", "3", "2"], [0.1, 0.2, 0.3])
    choice = choose("weighted", g)
    assert choice.tie and g[choice.index or 0].answer == "3"


def test_best_of_n_skips_null_scores_and_falls_back_without_any() -> None:
    g = group(["3", "2", "3"], [None, 0.4, None])
    assert g[choose("best_of_n", g).index or 0].answer == "2"
    none = group(["3", "2", "3"], [None, None, None])
    choice = choose("best_of_n", none)
    assert choice.fallback == "majority" and none[choice.index or 0].answer == "3"
    assert choose("weighted", none).fallback == "majority"


def test_strategy_record_costs_are_sums_and_ids_deterministic() -> None:
    g = group(["2", "3", "2", "2"])
    first, _ = combine(g, ["majority"])
    again, _ = combine(list(reversed(g)), ["majority"])
    assert first == again  # order-independent and byte-identical on re-application
    r = first[0]
    assert r.prompt_tokens == 200 and r.reasoning_tokens == 400 and r.answer_tokens == 20
    assert r.total_tokens == 4 * g[0].total_tokens
    assert r.latency_s == 4.0  # the slowest member
    assert r.trial_id == strategy_trial_id([x.trial_id for x in g], "majority@4")
    assert r.trial_id != combine(g, ["first"])[0][0].trial_id
    assert r.resolved["strategy"]["members"] == [x.trial_id for x in g]
    assert split_label(r.strategy) == ("majority", 4) and split_label("single") is None


def test_unknown_reasoning_tokens_stay_unknown() -> None:
    g = group(["2", "2"])
    g[1] = g[1].model_copy(update={"reasoning_tokens": -1})
    assert combine(g, ["first"])[0][0].reasoning_tokens == -1


def test_combine_groups_questions_and_budgets_and_skips_incomplete() -> None:
    records = []
    for budget in (64, 128):
        for q in range(3):
            n = 2 if (q == 2 and budget == 64) else 4  # one interrupted group
            for i in range(n):
                records.append(
                    rec(i, "2", q=q, sample_id=f"q{q}", budget_tokens=budget,
                        trial_id=f"t{q}-{i}-{budget}")
                )  # fmt: skip
    out, report = combine(records, ["first", "majority"])
    assert report.groups == 5 and report.incomplete == 1 and len(out) == 10
    assert {r.budget_tokens for r in out} == {64, 128}
    assert any("missing samples" in w for w in report.warnings())
    # With the expected N given, a larger group is still combined; smaller ones are not.
    out4, report4 = combine(records, ["first"], n=4)
    assert len(out4) == 5 and report4.incomplete == 1


def test_verifier_strategies_need_scores() -> None:
    out, report = combine(group(["2", "2"]), ["majority", "weighted", "best_of_n"])
    assert [r.strategy for r in out] == ["majority@2"]
    assert set(report.skipped) == {"weighted", "best_of_n"}
    assert len(report.warnings()) == 2


def test_all_members_errored_gives_an_errored_strategy_record() -> None:
    g = [
        r.model_copy(update={"error": "x", "answer": None, "score": None})
        for r in group(["2", "2"])
    ]
    (r,) = combine(g, ["majority"])[0]
    assert r.error is not None and r.score is None


def test_single_sample_groups_are_not_combined_and_duplicates_dropped() -> None:
    out, report = combine(group(["2"]), ["majority"])
    assert out == [] and report.single_sample == 1
    g = group(["2", "3"])
    newer = g[1].model_copy(update={"trial_id": "other", "answer": "2", "created_at": 5000.0})
    out, report = combine([*g, newer], ["majority"])
    assert report.duplicates == 1 and out[0].resolved["strategy"]["members"][1] == "other"


def test_strategy_record_keeps_task_score_of_chosen_answer() -> None:
    # Zebra/risk score with their own rules; the strategy record reuses the member's score.
    g = [rec(i, a, kind="behaviour", target="B", score=s)
         for i, (a, s) in enumerate([("A", 0.0), ("B", 1.0), ("B", 1.0)])]  # fmt: skip
    (r,) = combine(g, ["majority"])[0]
    assert r.answer == "B" and r.score == 1.0 and r.kind == "behaviour"


def test_parse_strategy_names() -> None:
    assert parse_strategies("majority, weighted,majority") == ["majority", "weighted"]
    assert parse_strategies(["best-of-n"]) == ["best_of_n"]
    with pytest.raises(ConfigError, match="accepted: first, majority"):
        parse_strategies("vote")
    assert default_strategies(False) == ["first", "majority"]
    assert default_strategies(True) == ["first", "majority", "best_of_n", "weighted"]


def test_strategy_records_agree_with_the_pool_estimators_at_k_equal_n() -> None:
    # Without ties, a strategy over all N samples is exactly the pool estimate at k = N:
    # the same answer classes (numbers compare as numbers) and the same vote.
    rng = random.Random(7)
    records = []
    for q in range(12):
        for i in range(5):  # odd N and two classes: majority never ties
            answer = rng.choice(["2", "3.0", "2.0", "three"])
            records.append(
                rec(i, answer, q=q, sample_id=f"q{q}", trial_id=f"q{q}-{i}",
                    verifier="rubric", verifier_score=rng.random())
            )  # fmt: skip
    combined, report = combine(records, ["majority", "best_of_n", "weighted"])
    assert report.ties["majority"] == 0 and report.ties["weighted"] == 0
    result = analyze(records_frame([*records, *combined]), n_boot=20)
    pools = result.pools[(result.pools["level"] == "all") & (result.pools["k"] == 5)]
    own = result.pareto[result.pareto["source"] == "records"].set_index("strategy")
    for estimator, name in (("maj@k", "majority"), ("best_of_k", "best_of_n"),
                            ("weighted@k", "weighted")):  # fmt: skip
        pool = float(pools[pools["estimator"] == estimator]["metric"].iloc[0])
        assert number_at(own, name, "metric") == pytest.approx(pool, abs=1e-6), name


def test_with_ties_strategy_records_still_agree_with_the_pool_estimators() -> None:
    # Three samples, three different answers: every majority vote is a three-way tie.
    # The pick is the first sample (reproducible), but the record's score is the
    # expectation over the tied classes, as the pool estimator computes it.
    rng = random.Random(11)
    records = []
    for q in range(12):
        for i, answer in enumerate(rng.sample(["2", "3", "4", "5"], 3)):
            records.append(rec(i, answer, q=q, sample_id=f"q{q}", trial_id=f"q{q}-{i}"))
    combined, report = combine(records, ["majority"])
    assert report.ties["majority"] == 12
    for r in combined:
        members = [m for m in records if m.sample_id == r.sample_id]
        assert r.answer == members[0].answer  # the documented tie rule picks
        assert r.resolved["strategy"]["pick_score"] == members[0].score
        assert r.score == pytest.approx(sum(m.score or 0.0 for m in members) / 3)
    result = analyze(records_frame([*records, *combined]), n_boot=20)
    pools = result.pools[(result.pools["level"] == "all") & (result.pools["k"] == 3)]
    pool = float(pools[pools["estimator"] == "maj@k"]["metric"].iloc[0])
    own = result.pareto[result.pareto["source"] == "records"].set_index("strategy")
    assert number_at(own, "majority", "metric") == pytest.approx(pool, abs=1e-6)
