"""Core vocabulary: budget parsing, trial identity, the SQLite store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from overthink.core import Budget, BudgetMode, Record, Sample, Trial
from overthink.experiment.store import Store


def _sample(prompt: str = "How many?") -> Sample:
    return Sample(id="q1", task="t", prompt=prompt, target="2", meta={"distractors": 1})


@pytest.mark.parametrize(
    ("text", "mode", "tokens"),
    [
        ("128", BudgetMode.FORCED, 128),
        ("0", BudgetMode.FORCED, 0),
        ("natural", BudgetMode.NATURAL, -1),
        ("-1", BudgetMode.NATURAL, -1),
        ("none", BudgetMode.NONE, 0),
        ("prompt:256", BudgetMode.PROMPT, 256),
        (" Forced:64 ", BudgetMode.FORCED, 64),
    ],
)
def test_budget_parse(text: str, mode: BudgetMode, tokens: int) -> None:
    budget = Budget.parse(text)
    assert (budget.mode, budget.tokens) == (mode, tokens)


@pytest.mark.parametrize("text", ["", "abc", "forced:x", "-5", "turbo:3"])
def test_budget_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        Budget.parse(text)


def test_trial_id_is_a_content_hash() -> None:
    budget = Budget.parse("64")
    a = Trial(sample=_sample(), model="embedded", budget=budget)
    b = Trial(sample=_sample(), model="embedded", budget=Budget.parse("64"))
    assert a.trial_id == b.trial_id
    assert (
        a.trial_id != Trial(sample=_sample(), model="embedded", budget=Budget.parse("32")).trial_id
    )
    assert a.trial_id != Trial(sample=_sample("Other?"), model="embedded", budget=budget).trial_id
    assert a.trial_id != a.model_copy(update={"sample_index": 1}).trial_id


def _record(trial_id: str, error: str | None = None, score: float = 1.0) -> Record:
    return Record(
        run="r", trial_id=trial_id, task="t", sample_id="q", model="m",
        budget_mode="forced", budget_tokens=8, score=score, error=error, created_at=1.0,
    )  # fmt: skip


def test_store_keeps_first_success_and_replaces_errors(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    with Store(path) as store:
        store.put(_record("a", error="boom"))
        assert store.successful_trial_ids() == set()
        store.put(_record("a", score=1.0))
        store.put(_record("a", score=0.0))  # a success is never overwritten
        records = list(store.records())
    assert len(records) == 1
    assert records[0].error is None and records[0].score == 1.0
    # WAL journal: survives a crashed writer.
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_store_meta_roundtrip(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        store.set_meta("manifest", {"name": "x", "n": 3})
        assert store.get_meta("manifest") == {"name": "x", "n": 3}
        assert store.get_meta("missing", 5) == 5


def test_readonly_store_needs_a_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Store(tmp_path / "nope.sqlite", readonly=True)


def test_embedded_thread_count_override_and_idle_sampling(monkeypatch: pytest.MonkeyPatch) -> None:
    from overthink.engines.embedded import THREADS_ENV, pick_threads
    from overthink.errors import EngineUnavailable

    monkeypatch.setenv(THREADS_ENV, "3")
    assert pick_threads() == 3
    monkeypatch.setenv(THREADS_ENV, "zero")
    with pytest.raises(EngineUnavailable, match=THREADS_ENV):
        pick_threads()
    monkeypatch.delenv(THREADS_ENV)
    import os

    assert 1 <= pick_threads(sample_s=0.05) <= (os.cpu_count() or 1)
