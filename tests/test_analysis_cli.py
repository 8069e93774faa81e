"""``overthink analyze RUN_DIR``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from overthink.analysis.cost import load_prices, load_shapes
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
        app, ["analyze", str(run_dir), "--n-boot", "100"], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    assert "misleading_math" in result.output
    assert "Does thinking longer hurt" in result.output
    result = runner.invoke(
        app,
        ["analyze", str(run_dir), "--json", "--n-boot", "100", "--cost", "eflops"],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
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
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # one line, however long
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


def _embedded_run(tmp_path: Path, model: str) -> Path:
    path = tmp_path / model.replace("/", "_")
    path.mkdir()
    records = [
        Record(run="r", trial_id=f"{q}-{b}", task="misleading_math", sample_id=f"q{q}",
               model=model, budget_mode="forced", budget_tokens=b, reasoning_tokens=b // 2,
               prompt_tokens=40, answer_tokens=4, answer="2", score=float(q % 3 > 0))
        for q in range(6)
        for b in (0, 32, 64)
    ]  # fmt: skip
    with Store.of_run(path, readonly=False) as store:
        store.add_many(records)
    return path


def test_eflops_knows_the_embedded_model_and_takes_a_shapes_file(tmp_path: Path) -> None:
    import pandas as pd

    # The default engine's name carries no model name: the bundled SmolLM2 is built in.
    run = _embedded_run(tmp_path, "embedded")
    result = runner.invoke(app, ["analyze", str(run), "--n-boot", "20", "--cost", "eflops"])
    assert result.exit_code == 0, result.output
    assert "no model shape" not in result.output
    pareto = pd.read_csv(run / "analysis" / "pareto.csv")
    assert pareto["cost"].notna().all() and (pareto["cost"] > 0).all()

    # An unknown model: the warning names the CLI flag, and a shapes file fixes it.
    mine = _embedded_run(tmp_path, "openai-api/my-model")
    result = runner.invoke(app, ["analyze", str(mine), "--n-boot", "20", "--cost", "eflops"],
                           env={"COLUMNS": "300"})  # fmt: skip
    assert "--shapes FILE" in " ".join(result.output.split())
    shapes = tmp_path / "shapes.yaml"
    shapes.write_text("my-model: {params: 7.6e9, layers: 28, heads: 28, kv_heads: 4, "
                      "head_dim: 128}\n")  # fmt: skip
    small = runner.invoke(app, ["analyze", str(mine), "--n-boot", "20", "--cost", "eflops",
                                "--shapes", str(shapes)])  # fmt: skip
    assert small.exit_code == 0, small.output
    big_cost = pd.read_csv(mine / "analysis" / "pareto.csv")["cost"]
    shapes.write_text("my-model: {params: 7.6e10, layers: 28, heads: 28, kv_heads: 4, "
                      "head_dim: 128}\n")  # fmt: skip
    runner.invoke(app, ["analyze", str(mine), "--n-boot", "20", "--cost", "eflops",
                        "--shapes", str(shapes)])  # fmt: skip
    bigger = pd.read_csv(mine / "analysis" / "pareto.csv")["cost"]
    assert (bigger.to_numpy() > big_cost.to_numpy()).all()  # 10x the parameters costs more


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("m: {params: 1e9, layers: 2}\n", "missing field(s) heads, kv_heads, head_dim"),
        ("m: {params: 1e9, layers: 2, heads: 2, kv_heads: 2, head_dim: 8, experts: 4}\n",
         "unknown field(s) experts"),
        ("m: {params: -1, layers: 2, heads: 2, kv_heads: 2, head_dim: 8}\n",
         "params is -1, expected a positive number"),
        ("- m\n", "must map model names"),
        ("m: [1, 2\n", "not valid YAML"),
    ],
)  # fmt: skip
def test_bad_shapes_files_name_the_model_and_field(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "shapes.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_shapes(path)
    assert needle in str(exc.value) and str(path) in str(exc.value)


def _strict_json(text: str) -> object:
    """Parse as jq would: NaN / Infinity are not JSON."""

    def reject(name: str) -> object:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=reject)


def test_json_flag_prints_only_json_on_stdout(run_dir: Path) -> None:
    """`overthink analyze RUN --json | jq .` works: stdout is one JSON document (issue #10)."""
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "overthink", "analyze", str(run_dir), "--json", "--n-boot", "50"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    payload = _strict_json(proc.stdout)
    assert isinstance(payload, dict)
    assert payload["verdicts"] and payload["verdicts"][0]["metric_name"] == "accuracy"
    assert payload["metrics"] == [
        {"task": "misleading_math", "metric_name": "accuracy", "higher_is_better": True,
         "polarity": "", "meaning": "accuracy (fraction correct, higher is better)"}
    ]  # fmt: skip
    assert "written to" in proc.stderr and "written to" not in proc.stdout
    on_disk = _strict_json((run_dir / "analysis" / "analysis.json").read_text())
    assert on_disk == payload
