"""analyze(): the contract the CLI and the HTML report build on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from frames import rows_of
from overthink.analysis import TABLES, analyze, records_frame
from overthink.core import Record
from overthink.errors import ConfigError
from overthink.experiment.store import Store
from overthink.testing.synthetic import synthetic_frame

CONTRACT = {
    "curves": "task model budget_mode knob level budget_tokens x_tokens metric_name "
    "higher_is_better metric ci_low ci_high n n_questions parse_failures truncated errors",
    "verdicts": "task model budget_mode knob level metric_name verdict slope slope_low "
    "slope_high rho p_value p_adjusted turning_point tp_low tp_high best_metric worst_metric",
    "natural_rank": "task model knob level rank mean_tokens metric ci_low ci_high n",
    "natural_bins": "task model knob level bin bin_low bin_high mean_tokens metric ci_low "
    "ci_high n",
    "cube": "task model knob level length_bin bin_low bin_high metric ci_low ci_high n",
    "cube_slopes": "task model knob level slope slope_low slope_high interaction_slope "
    "interaction_p",
    "pools": "task model budget_mode budget_tokens level estimator k metric ci_low ci_high "
    "mean_cost",
    "pareto": "label task model budget_mode budget_tokens n strategy cost_axis cost metric "
    "on_front dominated",
}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    df = synthetic_frame(
        levels=(0, 2), n_questions=25, n_samples=3, natural=True, slope=-0.04, verifier=True,
        parse_failure_rate=0.05, seed=51,
    )  # fmt: skip
    # A few trials failed outright: they must be counted, not scored.
    failed = df.index[:7]
    df.loc[failed, "error"] = "timeout"
    return records_frame(rows_of(df.drop(columns=["question", "failed", "parse_failure", "value",
                                                  "valid", "total_tokens"])))  # fmt: skip


def test_every_table_has_the_contract_columns(frame: pd.DataFrame) -> None:
    result = analyze(frame, n_boot=100)
    for name, cols in CONTRACT.items():
        table = getattr(result, name)
        assert not table.empty, name
        missing = set(cols.split()) - set(table.columns)
        assert not missing, (name, missing)
    assert {"threshold", "criterion"} <= set(result.cheapest.columns)
    assert set(result.verdicts["verdict"]) <= {
        "inverse",
        "positive",
        "flat",
        "peaked",
        "insufficient",
    }
    assert set(result.curves["level"]) == {"all", 0, 2}
    assert set(result.curves.loc[result.curves["level"] == "all", "knob"]) == {""}


def test_failures_are_counted_and_excluded(frame: pd.DataFrame) -> None:
    result = analyze(frame, n_boot=50)
    overall = result.curves[result.curves["level"] == "all"]
    assert overall["errors"].sum() == 7
    assert overall["parse_failures"].sum() == int(frame["parse_failure"].sum())
    assert (overall["n"] + overall["errors"]).sum() == len(frame)
    assert any("7 of" in w and "errored" in w for w in result.warnings)
    assert any("no parseable answer" in w for w in result.warnings)


def test_forced_cap_hits_are_not_reported_as_lost_output(frame: pd.DataFrame) -> None:
    df = frame.copy()
    forced = df.index[df["budget_mode"] == "forced"][:5]
    natural = df.index[df["budget_mode"] == "natural"][:3]
    assert len(forced) == 5 and len(natural) == 3
    df["truncated_in_reasoning"] = False
    df.loc[forced, "truncated_in_reasoning"] = True
    df.loc[natural, "truncated_in_reasoning"] = True
    warnings = analyze(df, n_boot=20).warnings
    assert any("5 of" in w and "hit their forced cap" in w for w in warnings), warnings
    assert any("3 of" in w and "cut off inside their reasoning" in w for w in warnings), warnings


def test_auto_detected_and_explicit_knobs(frame: pd.DataFrame) -> None:
    auto = analyze(frame, n_boot=50)
    assert set(auto.curves["knob"]) == {"", "distractors"}  # meta.question is not a knob
    pooled = analyze(frame, by="all", n_boot=50)
    assert set(pooled.curves["knob"]) == {""}
    with pytest.raises(ConfigError, match="distractors"):
        analyze(frame, by="grid", n_boot=50)
    with pytest.raises(ConfigError, match="tokens, usd, latency, eflops"):
        analyze(frame, cost="watts", n_boot=50)


def test_registered_task_knobs_come_from_the_registry() -> None:
    df = synthetic_frame(tasks=("misleading_math",), levels=(0, 3), n_questions=10, seed=52)
    df["meta.category"] = np.where(df["sample_index"] % 2 == 0, 1, 2)  # varies, not a knob
    result = analyze(df, n_boot=20)
    assert set(result.curves["knob"]) == {"", "distractors"}


def test_json_and_csv_outputs(frame: pd.DataFrame, tmp_path: Path) -> None:
    result = analyze(frame, n_boot=50, seed=3)
    payload = json.loads(result.to_json())
    assert set(TABLES) <= set(payload)
    assert payload["params"]["n_boot"] == 50
    assert len(payload["verdicts"]) == len(result.verdicts)
    paths = result.write_csv(tmp_path)
    assert {p.name for p in paths} == {f"{t}.csv" for t in TABLES} | {
        "warnings.txt",
        "conclusion.txt",
    }
    back = pd.read_csv(tmp_path / "curves.csv")
    assert len(back) == len(result.curves)


def test_same_seed_same_numbers(frame: pd.DataFrame) -> None:
    a = analyze(frame, n_boot=60, seed=9)
    b = analyze(frame, n_boot=60, seed=9)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))


def test_run_folder_input(tmp_path: Path) -> None:
    records = [
        Record(
            run="r",
            trial_id=f"{q}-{b}",
            task="t",
            sample_id=f"q{q}",
            model="m",
            budget_mode="forced",
            budget_tokens=b,
            answer="2",
            score=float((q + b) % 3 > 0),
            reasoning_tokens=b,
            meta={"distractors": q % 2},
        )
        for q in range(12)
        for b in (64, 128, 256)
    ]
    with Store.of_run(tmp_path, readonly=False) as store:
        store.add_many(records)
    result = analyze(tmp_path, n_boot=50)
    assert result.curves.loc[result.curves["level"] == "all", "n"].sum() == 36
    with pytest.raises(ConfigError, match="does not exist"):
        analyze(tmp_path / "missing")


def test_empty_frame_gives_empty_tables() -> None:
    empty = records_frame([])
    result = analyze(empty, n_boot=10)
    for name in TABLES:
        assert getattr(result, name).empty


def test_unknown_token_counts_are_left_out_not_counted_as_minus_one() -> None:
    df = synthetic_frame(natural=True, n_questions=20, n_samples=3, seed=53)
    known = analyze(df, n_boot=20)
    unknown = df.copy()
    unknown.loc[unknown.index[::5], "reasoning_tokens"] = -1  # the engine could not count
    result = analyze(unknown, n_boot=20)
    assert any("no reasoning token count" in w for w in result.warnings)
    curves = result.curves[result.curves["level"] == "all"].set_index("budget_tokens")
    mask = (unknown["reasoning_tokens"] >= 0) & (unknown["budget_mode"] == "forced")
    want = unknown[mask].groupby("budget_tokens")["reasoning_tokens"].mean()
    assert np.allclose(curves.loc[want.index, "x_tokens"], want)
    # Scores still count: only lengths are unknown.
    assert (curves["n"].to_numpy() == known.curves.set_index("budget_tokens")["n"].to_numpy()).all()
    assert result.natural_rank["mean_tokens"].min() > 0
