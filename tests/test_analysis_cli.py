"""``overthink analyze RUN_DIR``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from overthink.cli.analyze import load_prices
from overthink.cli.app import app
from overthink.core import Record
from overthink.errors import ConfigError
from overthink.experiment.store import Store

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("run")
    records = [
        Record(
            run="r",
            trial_id=f"{q}-{b}-{s}",
            task="misleading_math",
            sample_id=f"q{q}-d{q % 2}",
            model="embedded/smollm2-135m",
            budget_mode="forced",
            budget_tokens=b,
            sample_index=s,
            answer="2" if (q + s + b // 64) % 4 else "3",
            score=1.0 if (q + s + b // 64) % 4 else 0.0,
            reasoning_tokens=b,
            prompt_tokens=40,
            answer_tokens=4,
            latency_s=0.2,
            meta={"distractors": q % 2},
        )
        for q in range(16)
        for b in (64, 128, 256)
        for s in range(2)
    ]
    with Store.of_run(path, readonly=False) as store:
        store.add_many(records)
    return path


def test_writes_csv_and_json_and_prints_verdicts(run_dir: Path) -> None:
    result = runner.invoke(
        app,
        ["analyze", str(run_dir), "--json", "--n-boot", "100", "--cost", "eflops"],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    assert "misleading_math" in result.output
    assert "Does thinking longer hurt" in result.output
    out = run_dir / "analysis"
    for name in ("curves", "verdicts", "pools", "pareto", "cube", "cheapest"):
        assert (out / f"{name}.csv").is_file(), name
    payload = json.loads((out / "analysis.json").read_text())
    assert payload["params"]["cost"] == "eflops"
    assert payload["pareto"] and all(row["cost_axis"] == "eflops" for row in payload["pareto"])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--by", "grid"], "distractors"),
        (["--cost", "watts"], "tokens, usd, latency, eflops"),
    ],
)
def test_bad_options_are_config_errors(run_dir: Path, args: list[str], needle: str) -> None:
    result = runner.invoke(app, ["analyze", str(run_dir), "--n-boot", "10", *args])
    assert isinstance(result.exception, ConfigError)
    assert needle in str(result.exception)


def test_missing_run_dir_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from overthink.cli import main

    monkeypatch.setattr(sys, "argv", ["overthink", "analyze", str(tmp_path / "nope")])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert "does not exist" in err and "store.sqlite" in err


def test_prices_file(tmp_path: Path, run_dir: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("embedded/smollm2-135m: 0.5\nother:input: 1\n")
    assert load_prices(prices) == {"embedded/smollm2-135m": 0.5, "other:input": 1.0}
    result = runner.invoke(app, ["analyze", str(run_dir), "--n-boot", "20", "--cost", "usd",
                                 "--prices", str(prices)])  # fmt: skip
    assert result.exit_code == 0, result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("m: cheap\n")
    with pytest.raises(ConfigError, match="not a number"):
        load_prices(bad)
