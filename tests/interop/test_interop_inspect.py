"""`overthink import inspect`: real inspect_ai logs (mockllm, made in this session) → records.

The imported curve is checked against numbers computed straight from the logs with
inspect_ai's own reader and its own score→float mapping, for both of our readers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from overthink.analysis.pipeline import scaling_verdicts
from overthink.cli import app
from overthink.core import Record
from overthink.errors import OverthinkError
from overthink.experiment.store import Store
from overthink.interop.inspect_import import (
    choose_budget_field,
    import_inspect,
    requested_budget,
)
from overthink.interop.inspect_log import ReaderName
from overthink.interop.sources import file_sha256


def _records(run: Path) -> list[Record]:
    with Store.of_run(run) as store:
        return list(store.records())


def _direct_curve(paths: list[Path]) -> dict[int, tuple[float, float, int]]:
    """budget -> (accuracy, mean reasoning tokens, n) computed with inspect_ai itself."""
    from inspect_ai.log import read_eval_log
    from inspect_ai.scorer import value_to_float

    to_float = value_to_float()
    values: dict[int, list[float]] = defaultdict(list)
    tokens: dict[int, list[int]] = defaultdict(list)
    for path in paths:
        log = read_eval_log(str(path))
        budget = int(log.plan.config.reasoning_tokens or -1)
        for sample in log.samples or []:
            assert sample.scores is not None
            values[budget].append(to_float(sample.scores["match"].value))
            tokens[budget].append(sample.model_usage["mockllm/model"].reasoning_tokens or 0)
    return {
        b: (sum(values[b]) / len(values[b]), sum(tokens[b]) / len(tokens[b]), len(values[b]))
        for b in values
    }


@pytest.mark.parametrize("reader", ["inspect_ai", "direct"])
def test_imported_curve_equals_the_one_computed_from_the_logs(
    inspect_logs: dict[str, Path], tmp_path: Path, reader: ReaderName
) -> None:
    paths = list(inspect_logs.values())
    run = tmp_path / "run"
    report = import_inspect(paths, run, reader=reader, tokenizer="none")
    assert report.added == 3 * 12 * 2 and report.created
    curves, verdicts = scaling_verdicts(run, by="all", n_boot=200)
    expected = _direct_curve(paths)
    assert sorted(expected) == [64, 128, 256]
    got = curves[curves["level"].astype(str) == "all"].set_index("budget_tokens")
    assert sorted(got.index) == [64, 128, 256]
    for budget, (acc, tok, n) in expected.items():
        assert got.loc[budget, "metric"] == pytest.approx(acc)
        assert got.loc[budget, "x_tokens"] == pytest.approx(tok)
        assert got.loc[budget, "n"] == n
    # The mock overthinks: accuracy falls as the budget grows, and the verdict says so.
    assert expected[64][0] > expected[256][0]
    assert verdicts.iloc[0]["verdict"] == "inverse"


def test_both_readers_give_the_same_records(inspect_logs: dict[str, Path], tmp_path: Path) -> None:
    paths = list(inspect_logs.values())
    import_inspect(paths, tmp_path / "a", reader="inspect_ai", tokenizer="none")
    import_inspect(paths, tmp_path / "b", reader="direct", tokenizer="none")

    def norm(rec: Record) -> dict[str, object]:
        data = rec.model_dump()
        data["resolved"].pop("reader")
        data.pop("run")
        return data

    a = sorted((norm(r) for r in _records(tmp_path / "a")), key=lambda d: str(d["trial_id"]))
    b = sorted((norm(r) for r in _records(tmp_path / "b")), key=lambda d: str(d["trial_id"]))
    assert a == b and len(a) == 72


def test_field_mapping_and_provenance(inspect_logs: dict[str, Path], tmp_path: Path) -> None:
    # The three flavours really are what they claim to be.
    with zipfile.ZipFile(inspect_logs["zstd"]) as zf:
        assert {i.compress_type for i in zf.infolist()} == {93}
    with zipfile.ZipFile(inspect_logs["deflate"]) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}
    run = tmp_path / "run"
    import_inspect(list(inspect_logs.values()), run, reader="direct", tokenizer="none")
    records = _records(run)
    formats = {r.resolved["source"]["format"] for r in records}
    assert formats == {"inspect-eval/zstd", "inspect-eval/deflate", "inspect-json"}
    hashes = {str(p): file_sha256(p) for p in inspect_logs.values()}
    for rec in records:
        source = rec.resolved["source"]
        assert hashes[source["file"]] == source["sha256"]
        assert rec.task == "mock_counting" and rec.model == "mockllm/model"
        assert rec.budget_mode == "native" and rec.resolved["budget_field"] == "reasoning_tokens"
        assert rec.sample_index == rec.resolved["epoch"] - 1
        assert rec.meta["distractors"] == int(rec.sample_id[1:]) % 3
        assert rec.truncated_in_reasoning == (rec.finish_reason == "max_tokens")
        assert rec.reasoning_tokens == len(rec.reasoning.split())  # the mock's usage
        assert rec.reasoning_tokens <= rec.budget_tokens
        assert rec.score == (1.0 if rec.resolved["score_value"] == "C" else 0.0)
    assert {r.sample_index for r in records} == {0, 1}
    assert any(r.truncated_in_reasoning for r in records)
    with Store.of_run(run) as store:
        imports = store.get_meta("manifest")["imports"]
    assert sorted(i["sha256"] for i in imports) == sorted(hashes.values())


def test_reimport_is_idempotent_and_a_second_log_adds(
    inspect_logs: dict[str, Path], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    first = import_inspect([inspect_logs["zstd"]], run, tokenizer="none")
    assert (first.added, first.already, first.created) == (24, 0, True)
    again = import_inspect([inspect_logs["zstd"]], run, tokenizer="none")
    assert (again.added, again.already, again.created) == (0, 24, False)
    second = import_inspect([inspect_logs["deflate"]], run, tokenizer="none")
    assert second.added == 24
    everything = import_inspect(list(inspect_logs.values()), run, tokenizer="none")
    assert (everything.added, everything.already) == (24, 48)
    records = _records(run)
    assert len(records) == 72 == len({r.trial_id for r in records})
    assert sorted({r.budget_tokens for r in records}) == [64, 128, 256]


def test_budget_axis_is_the_field_that_varies() -> None:
    configs = [
        {"max_tokens": 4096, "reasoning_effort": "low"},
        {"max_tokens": 4096, "reasoning_effort": "high"},
    ]
    assert choose_budget_field(configs) == "reasoning_effort"
    assert requested_budget(configs[1], "reasoning_effort", Path("x")) == ("native", 4)
    assert choose_budget_field([{"max_tokens": 10}, {"max_tokens": 10}]) == "max_tokens"
    assert choose_budget_field([{}, {}]) is None
    assert requested_budget({}, None, Path("x")) == ("natural", -1)


@pytest.mark.engine
def test_reasoning_without_usage_is_counted_with_the_tokenizer(
    inspect_logs: dict[str, Path], tmp_path: Path, embedded_server: object
) -> None:
    doc = json.loads(inspect_logs["json"].read_text())
    for sample in doc["samples"]:
        for usage in [*sample["model_usage"].values(), sample["output"]["usage"]]:
            usage["reasoning_tokens"] = None
    log = tmp_path / "no_reasoning_tokens.json"
    log.write_text(json.dumps(doc))
    report = import_inspect([log], tmp_path / "run", reader="direct", tokenizer="embedded")
    assert any("counted with tokenizer:embedded" in n for n in report.notes)
    records = _records(tmp_path / "run")
    assert all(
        r.resolved["reasoning_tokens_source"].startswith("tokenizer:embedded") for r in records
    )
    # SmolLM2 splits "w12" into more than one token: the count is the tokenizer's, not words.
    assert all(r.reasoning_tokens > len(r.reasoning.split()) for r in records)
    report = import_inspect([log], tmp_path / "unknown", reader="direct", tokenizer="none")
    assert any("length is unknown" in n for n in report.notes)
    assert {r.reasoning_tokens for r in _records(tmp_path / "unknown")} == {-1}


# --- bad input: one line, exit 2, nothing imported -----------------------------------------


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "overthink", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=120,
    )  # fmt: skip


def _bad_logs(inspect_logs: dict[str, Path], folder: Path) -> dict[str, tuple[Path, str]]:
    folder.mkdir()
    truncated = folder / "truncated.eval"
    data = inspect_logs["zstd"].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    doc = json.loads(inspect_logs["json"].read_text())
    future = folder / "future.json"
    future.write_text(json.dumps({**doc, "version": 99}))
    no_usage = folder / "no_usage.json"
    sample = doc["samples"][5]
    sample["model_usage"] = {}
    sample["output"]["usage"] = None
    no_usage.write_text(json.dumps(doc))
    return {
        "truncated zip": (truncated, "truncated"),
        "unknown version": (future, "version 99"),
        "sample with no usage": (no_usage, "no token usage"),
    }


@pytest.mark.parametrize("case", ["truncated zip", "unknown version", "sample with no usage"])
def test_bad_log_is_one_line_and_nothing_imported(
    inspect_logs: dict[str, Path], tmp_path: Path, case: str
) -> None:
    path, expected = _bad_logs(inspect_logs, tmp_path / "bad")[case]
    # Into a new run: no folder is left behind.
    with pytest.raises(OverthinkError) as info:
        import_inspect([path], tmp_path / "new", tokenizer="none")
    message = str(info.value)
    assert "\n" not in message and expected in message and path.name in message
    assert not (tmp_path / "new").exists()
    assert not list(tmp_path.glob(".new.importing*"))
    # Into an existing run, after a good log: the good log's records are not added either.
    run = tmp_path / "run"
    import_inspect([inspect_logs["zstd"]], run, tokenizer="none")
    good = Path(shutil.copy(inspect_logs["deflate"], tmp_path / "good.eval"))
    with pytest.raises(OverthinkError, match=expected):
        import_inspect([good, path], run, tokenizer="none")
    assert len(_records(run)) == 24


def test_cli_bad_log_exits_2_with_one_line(inspect_logs: dict[str, Path], tmp_path: Path) -> None:
    path, expected = _bad_logs(inspect_logs, tmp_path / "bad")["truncated zip"]
    result = _cli(["import", "inspect", str(path), "--out", "new", "--reader", "direct"], tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "new").exists()


def test_cli_import_then_analyze(inspect_logs: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    for path in inspect_logs.values():
        shutil.copy(path, folder / path.name)
    runner = CliRunner()
    out = tmp_path / "sweep"
    result = runner.invoke(app, ["import", "inspect", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "72 records imported" in result.stdout
    assert "report:" in result.stdout and (out / "report.html").stat().st_size > 10_000
    result = runner.invoke(app, ["analyze", str(out), "--by", "all", "--n-boot", "200"])
    assert result.exit_code == 0, result.output
    assert "inverse" in result.stdout and "mock_counting" in result.stdout
