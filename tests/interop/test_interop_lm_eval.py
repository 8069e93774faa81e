"""`overthink import lm-eval`: lm-eval --log_samples output (SampleResult schema) → records."""

from __future__ import annotations

from pathlib import Path

import pytest

from overthink.analysis.pipeline import scaling_verdicts
from overthink.core import Record
from overthink.errors import OverthinkError
from overthink.experiment.store import Store
from overthink.interop.lm_eval import import_lm_eval, split_thinking

from .make_lm_eval_logs import BUDGETS, make_runs, natural_length, think_response


@pytest.fixture(scope="module")
def lm_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_runs(tmp_path_factory.mktemp("lm_eval"))


def _records(run: Path) -> list[Record]:
    with Store.of_run(run) as store:
        return list(store.records())


def _sweep(lm_runs: dict[str, Path]) -> list[Path]:
    return [lm_runs[f"max{b}"] for b in BUDGETS]


def test_split_thinking() -> None:
    assert split_thinking("<think>a b</think> c", "<think>", "</think>") == ("a b", "c", False)
    assert split_thinking("a b</think>c", "<think>", "</think>") == ("a b", "c", False)
    assert split_thinking("<think>a b", "<think>", "</think>") == ("a b", "", True)
    assert split_thinking("no thinking", "<think>", "</think>") == (None, "no thinking", False)


def test_metric_filter_and_budget_mapping(lm_runs: dict[str, Path], tmp_path: Path) -> None:
    run = tmp_path / "run"
    report = import_lm_eval(
        _sweep(lm_runs), run, metric="exact_match", filter_name="flexible-extract",
        tokenizer="none",
    )  # fmt: skip
    # gsm8k_sc has no flexible-extract filter: said in one line, not guessed.
    assert any("no filter 'flexible-extract' in gsm8k_sc" in n for n in report.notes)
    records = _records(run)
    assert len(records) == 8 * 3 and {r.task for r in records} == {"gsm8k_think"}
    for rec in records:
        budget = rec.budget_tokens
        _, answer = think_response(int(rec.sample_id), budget)
        assert rec.budget_mode == "native" and budget in BUDGETS
        assert rec.resolved["generation_kwargs"]["max_gen_toks"] == budget
        assert rec.resolved["filter"] == "flexible-extract"
        assert rec.score == float(answer == "2")
        # The thinking is the text inside <think>, and a trace longer than the budget is cut.
        words = min(natural_length(int(rec.sample_id)), budget)
        assert len(rec.reasoning.split()) == words
        assert rec.truncated_in_reasoning == (answer is None)
        assert rec.reasoning_tokens == -1  # --tokenizer none: unknown, never guessed
        assert rec.resolved["source"]["file"].endswith(f"{budget:02d}.000000.jsonl")
    strict = import_lm_eval(_sweep(lm_runs), tmp_path / "strict", filter_name="strict-match",
                            tokenizer="none")  # fmt: skip
    assert strict.added == 8 * 3  # gsm8k_sc has no strict-match: skipped
    by_doc = {
        (r.sample_id, r.budget_tokens): r.score
        for r in _records(tmp_path / "strict")
        if r.task == "gsm8k_think"
    }
    assert all(by_doc[(str(d), b)] == 0.0 for d in (1, 3) for b in BUDGETS)  # strict misses


def test_repeats_take_first_and_majority_vote(lm_runs: dict[str, Path], tmp_path: Path) -> None:
    first = import_lm_eval(_sweep(lm_runs), tmp_path / "first", filter_name="score-first",
                           tokenizer="none")  # fmt: skip
    assert any("reduced to one answer" in n for n in first.notes)
    records = [r for r in _records(tmp_path / "first") if r.task == "gsm8k_sc"]
    # take_first: the document's score is the first repeat's; the others have no score.
    assert len(records) == 4 * 3 and {r.sample_index for r in records} == {0}
    assert all(r.strategy == "single" and r.resolved["repeats"] == 3 for r in records)
    assert all(len(r.resolved["other_repeats_reasoning_chars"]) == 2 for r in records)
    vote = import_lm_eval(_sweep(lm_runs), tmp_path / "vote", filter_name="maj@3",
                          tokenizer="none")  # fmt: skip
    assert vote.added == 4 * 3
    votes = _records(tmp_path / "vote")
    # A vote over 3 repeats belongs to the strategy, never to one repeat.
    assert {r.strategy for r in votes} == {"maj@3"}
    for rec in votes:
        answers = [think_response(int(rec.sample_id) + r, rec.budget_tokens)[1] for r in range(3)]
        answers = [a or "[invalid]" for a in answers]
        assert rec.score == float(max(set(answers), key=answers.count) == "2")


def test_stripped_thinking_and_no_budget_axis(lm_runs: dict[str, Path], tmp_path: Path) -> None:
    report = import_lm_eval([lm_runs["stripped"]], tmp_path / "run", tokenizer="none")
    assert any("think_end_token" in n and "stripped" in n for n in report.notes)
    assert any(n.startswith("no budget axis") for n in report.notes)
    records = _records(tmp_path / "run")
    assert len(records) == 8
    assert {r.reasoning_tokens for r in records} == {-1} and {r.reasoning for r in records} == {""}
    assert [r.score for r in sorted(records, key=lambda r: int(r.sample_id))] == [
        float(think_response(d, 256)[1] == "2") for d in range(8)
    ]


def test_reimport_is_idempotent(lm_runs: dict[str, Path], tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert import_lm_eval([lm_runs["max64"]], run, tokenizer="none").added == 8 + 4
    again = import_lm_eval([lm_runs["max64"]], run, tokenizer="none")
    assert (again.added, again.already) == (0, 12)
    assert import_lm_eval(_sweep(lm_runs), run, tokenizer="none").added == 24


def test_empty_samples_file_is_one_line_and_nothing_imported(
    lm_runs: dict[str, Path], tmp_path: Path
) -> None:
    import shutil

    folder = Path(shutil.copytree(lm_runs["max64"], tmp_path / "copy"))
    [samples] = folder.rglob("samples_gsm8k_sc_*.jsonl")
    samples.write_text("")
    with pytest.raises(OverthinkError) as info:
        import_lm_eval([folder], tmp_path / "run", tokenizer="none")
    message = str(info.value)
    assert "empty samples file" in message and samples.name in message and "\n" not in message
    assert not (tmp_path / "run").exists()


@pytest.mark.engine
def test_reasoning_is_counted_and_the_curve_built(
    lm_runs: dict[str, Path], tmp_path: Path, embedded_server: object
) -> None:
    import asyncio

    from overthink.engines.registry import EngineOptions, make_engine

    run = tmp_path / "run"
    import_lm_eval(_sweep(lm_runs), run, filter_name="flexible-extract", tokenizer="embedded")
    records = _records(run)

    async def counts(texts: list[str]) -> list[int]:
        engine = make_engine("embedded", EngineOptions())
        try:
            return [await engine.count_tokens(t) for t in texts]
        finally:
            await engine.aclose()

    assert [r.reasoning_tokens for r in records] == asyncio.run(
        counts([r.reasoning for r in records])
    )
    curves, _ = scaling_verdicts(run, by="all", n_boot=100)
    assert sorted(curves["budget_tokens"]) == list(BUDGETS)
    for budget in BUDGETS:
        mine = [r for r in records if r.budget_tokens == budget]
        row = curves[curves["budget_tokens"] == budget].iloc[0]
        assert row["metric"] == pytest.approx(sum(r.score or 0 for r in mine) / len(mine))
        assert row["x_tokens"] == pytest.approx(sum(r.reasoning_tokens for r in mine) / len(mine))
