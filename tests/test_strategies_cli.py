"""``overthink verify`` and ``overthink analyze --strategy`` on a stored run (no model)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import overthink.cli  # noqa: F401  (registers every command on the app)
from overthink.cli.app import app
from overthink.core import Record
from overthink.experiment.store import Store

runner = CliRunner()

# Per question, the 4 samples' answers at each budget. q0 at 128: 3 of 4 share one
# mistake; q1 at 128: right plurality among scattered mistakes.
ANSWERS: dict[tuple[str, int], list[str | None]] = {
    ("q0", 32): ["2", "3", "2", "2"],
    ("q0", 128): ["3", "3", "2", "3"],
    ("q1", 32): ["5", "2", "4", "2"],
    ("q1", 128): ["2", "7", "2", "9"],
    ("q2", 32): ["2", None, "2", "1"],
    ("q2", 128): ["4", "2", "2", "2"],
}


def _records() -> list[Record]:
    out = []
    for (q, budget), answers in ANSWERS.items():
        for i, answer in enumerate(answers):
            out.append(
                Record(
                    run="r", trial_id=f"{q}-{budget}-{i}", task="misleading_math",
                    sample_id=q, model="embedded", budget_mode="forced",
                    budget_tokens=budget, sample_index=i, seed=i, answer=answer,
                    score=float(answer == "2"), target="2", kind="numeric",
                    prompt="How many types of fruit? Answer with a single number.",
                    reasoning=f"... so {answer}" if answer else "hmm",
                    response=f"Final answer: {answer or ''}", prompt_tokens=30,
                    reasoning_tokens=budget, answer_tokens=3, latency_s=0.1 * (i + 1),
                    created_at=100.0 + i, meta={"distractors": 1},
                )
            )  # fmt: skip
    return out


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    path = tmp_path / "run"
    path.mkdir()
    with Store(path / "store.sqlite") as store:
        store.add_many(_records())
    return path


def _stored(path: Path) -> list[Record]:
    with Store.of_run(path) as store:
        return list(store.records())


def test_verify_scores_samples_and_writes_strategy_records(run_dir: Path) -> None:
    result = runner.invoke(app, ["verify", str(run_dir), "--verifier", "rubric,self_consistency"])
    assert result.exit_code == 0, result.output
    assert "verifier rubric: 24 scored, 0 reused, 0 failed" in result.output
    records = _stored(run_dir)
    singles = [r for r in records if r.strategy == "single"]
    assert all(r.verifier == "rubric+self_consistency" for r in singles)
    strat = {(r.sample_id, r.budget_tokens, r.strategy): r for r in records if r not in singles}
    assert len(strat) == 6 * 4
    # Majority votes on answers: the shared mistake wins, the right plurality wins.
    assert strat[("q0", 128, "majority@4")].answer == "3"
    assert strat[("q0", 128, "majority@4")].score == 0.0
    assert strat[("q1", 128, "majority@4")].score == 1.0
    assert strat[("q1", 32, "majority@4")].resolved["strategy"]["tie"] is False
    # Verifying again reuses the rubric and rewrites nothing.
    again = runner.invoke(app, ["verify", str(run_dir), "--verifier", "rubric"])
    assert "verifier rubric: 0 scored, 24 reused" in again.output
    assert len(_stored(run_dir)) == len(records)


def test_analyze_strategy_shows_pool_tables_without_writing(run_dir: Path) -> None:
    before = (run_dir / "store.sqlite").read_bytes()
    result = runner.invoke(
        app, ["analyze", str(run_dir), "--strategy", "majority,first", "--n-boot", "50"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "misleading_math · embedded — majority" in result.output
    assert "majority@4 records" in result.output and "first@4 records" in result.output
    assert "k=1 (single)" in result.output and "k=4" in result.output
    # Computed in memory: the run's store is untouched (only analysis/*.csv written).
    assert (run_dir / "store.sqlite").read_bytes() == before
    pareto = (run_dir / "analysis" / "pareto.csv").read_text()
    assert "majority@4" in pareto and ",records," in pareto


def test_analyze_strategy_needing_a_verifier_says_so(run_dir: Path) -> None:
    result = runner.invoke(
        app, ["analyze", str(run_dir), "--strategy", "weighted", "--n-boot", "20"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "strategy weighted not applied: no sample has a verifier score" in result.output


def test_bad_names_are_one_line_errors(run_dir: Path, tmp_path: Path) -> None:
    bad = runner.invoke(app, ["analyze", str(run_dir), "--strategy", "vote"])
    assert bad.exit_code != 0 and "unknown strategy 'vote'" in str(bad.exception)
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = runner.invoke(app, ["verify", str(empty), "--verifier", "rubric"])
    assert missing.exit_code != 0 and "not a run folder" in str(missing.exception)
    shutil.rmtree(empty)
