"""One rule, written once: votes, ``-T`` parsing, the violation tolerance, number formats."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from overthink.analysis import analyze, records_frame
from overthink.analysis.pools import canonical_answers
from overthink.cli import app
from overthink.core import AnswerKind, Record
from overthink.errors import ConfigError
from overthink.strategies import combine
from overthink.tasks.extract import answer_key
from overthink.tasks.levels import split_knob_args

# Blank, whitespace, punctuation-only, case, trailing punctuation, and number formats
# (decimals, padding, words, thousands separators, non-ASCII digits, a number too large
# for a float) — the answers on which the two used to be able to disagree.
ANSWERS: list[str | None] = [
    None, "", " ", "\t\n", ".", "  ?! ",
    "Paris", "paris.", " PARIS ", "Rome",
    "2", "2.0", " 2 ", "two", "+2", "3", "٣", "1,000", "1000", "1000.5", "1,000.5",
    "9" * 400, "(B)", "b", "B.",
]  # fmt: skip


@pytest.mark.parametrize("kind", [k.value for k in AnswerKind])
def test_pool_codes_and_answer_key_agree(kind: str) -> None:
    keys = [answer_key(a, kind) for a in ANSWERS]
    codes = canonical_answers(np.array(ANSWERS, dtype=object), kind)
    for a, key, code in zip(ANSWERS, keys, codes, strict=True):
        assert (key is None) == (code == -1), (a, key, code)
    for (i, ki), (j, kj) in itertools.combinations(enumerate(keys), 2):
        same_vote = ki is not None and ki == kj
        assert same_vote == (codes[i] == codes[j] != -1), (ANSWERS[i], ANSWERS[j])


def test_blank_answers_do_not_vote() -> None:
    for blank in ("", "   ", "\t", ".", "?!"):
        assert answer_key(blank, "exact") is None
        assert answer_key(blank, "numeric") is None
    assert list(canonical_answers(np.array(["", " ", "."], dtype=object), "exact")) == [-1] * 3


def test_the_classes_themselves() -> None:
    assert answer_key("Boxing.", "exact") == answer_key(" BOXING", "exact") == "boxing"
    num = {answer_key(a, "numeric") for a in ("2", "2.0", " 2 ", "two", "+2")}
    assert num == {repr(2.0)}
    assert answer_key("1,000", "regression") == answer_key("1000", "regression")
    # As text, number formats stay distinct answers.
    assert answer_key("2", "exact") != answer_key("2.0", "exact")


def test_one_knob_parser() -> None:
    assert split_knob_args([" distractors = 0, 1 ,3", "framing=loud"]) == [
        ("distractors", ["0", "1", "3"]),
        ("framing", ["loud"]),
    ]
    for bad, says in [
        (["distractors"], "expected knob=value"),
        (["=1"], "expected knob=value"),
        (["distractors=1,,2"], "empty level"),
        (["distractors="], "empty level"),
        (["k=a", "k=b"], "given twice"),
    ]:
        with pytest.raises(ConfigError, match=says):
            split_knob_args(bad)


@pytest.mark.parametrize(
    "knobs", [["-T", "distractors=0", "-T", "distractors=5"], ["-T", "distractors=0,,5"]]
)
def test_run_and_tasks_reject_bad_knobs_alike(knobs: list[str], tmp_path: Path) -> None:
    run = CliRunner().invoke(
        app, ["run", "--task", "misleading_math", *knobs, "--out", str(tmp_path / "r")]
    )
    show = CliRunner().invoke(app, ["tasks", "show", "misleading_math", *knobs])
    assert isinstance(run.exception, ConfigError) and isinstance(show.exception, ConfigError)
    assert str(run.exception) == str(show.exception)


def test_one_violation_tolerance() -> None:
    from overthink.core import VIOLATION_TOLERANCE, exceeds_budget

    assert pytest.approx(0.10) == VIOLATION_TOLERANCE
    assert not exceeds_budget(110, 100) and exceeds_budget(111, 100)
    assert not exceeds_budget(10**6, -1)  # no limit


def test_one_set_of_number_formatters() -> None:
    from overthink.formatting import MISSING, fmt_fixed, fmt_interval, fmt_spec

    for missing in (None, float("nan"), float("inf"), "n/a", object()):
        assert fmt_spec(missing, "+.3f") == MISSING
        assert fmt_fixed(missing, 2, sign=True) == MISSING
    assert fmt_spec(float("nan"), "+.4f", missing="—") == "—"
    assert fmt_spec(0.1234) == "0.123" and fmt_spec(2, ".0f") == "2"
    assert fmt_fixed(0.5, 2, sign=True) == "+0.50" and fmt_fixed(-3, 0) == "-3"
    assert fmt_fixed(True, 1) == "1.0"  # a JSON bool is a number, as it was in the report
    assert fmt_interval(0.5, 0.1, None) == "+0.500 [+0.100, –]"


def _sample(q: int, i: int, answer: str) -> Record:
    return Record(
        run="r", trial_id=f"q{q}-{i}", task="misleading_math", sample_id=f"q{q}",
        model="embedded", budget_mode="forced", budget_tokens=128, sample_index=i, seed=i,
        answer=answer, target="2", kind="numeric", score=float(answer == "2"),
        prompt_tokens=50, reasoning_tokens=100, answer_tokens=5, latency_s=1.0,
        created_at=1000.0 + i,
    )  # fmt: skip


def test_strategy_and_pool_estimate_agree_when_blanks_outnumber_the_answer() -> None:
    # Two blank answers and one right one per question: blanks do not vote, so the live
    # majority picks "2", and the pool estimator's maj@3 (the whole pool) says the same.
    # Before the rule was shared the estimator counted "" as a class and said 0.
    rows = [_sample(q, i, a) for q in range(12) for i, a in enumerate(["", " ", "2"])]
    chosen, _ = combine(rows, ["majority"])
    assert {r.answer for r in chosen} == {"2"}
    pools = analyze(records_frame(rows), n_boot=20).pools
    maj = pools[(pools["estimator"] == "maj@k") & (pools["level"] == "all")].set_index("k")
    assert maj.loc[3, "metric"] == pytest.approx(1.0)
