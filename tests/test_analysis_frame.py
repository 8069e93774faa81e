"""records_frame / load_run: the flat layout every analysis and the report read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from frames import rows_of
from overthink.analysis import load_run, records_frame
from overthink.analysis.frame import RECORD_COLUMNS
from overthink.core import Record
from overthink.errors import ConfigError
from overthink.experiment.store import Store


def _record(i: int, **kw: object) -> Record:
    base: dict[str, object] = {
        "run": "r", "trial_id": f"t{i}", "task": "misleading_math", "sample_id": f"q{i % 3}",
        "model": "m", "budget_mode": "forced", "budget_tokens": 128, "answer": "2",
        "score": 1.0, "meta": {"distractors": i % 2, "category": "fruit"},
        "resolved": {"max_tokens": 128},
    }  # fmt: skip
    base.update(kw)
    return Record.model_validate(base)


def test_every_field_is_a_column_and_meta_is_expanded() -> None:
    df = records_frame([_record(0), _record(1)])
    for col in RECORD_COLUMNS:
        if col != "meta":
            assert col in df.columns, col
    assert "meta" not in df.columns
    assert df["meta.distractors"].tolist() == [0, 1]
    assert df["meta.category"].tolist() == ["fruit", "fruit"]
    assert json.loads(df["resolved"].iloc[0]) == {"max_tokens": 128}
    assert df["question"].tolist() == ["misleading_math/q0", "misleading_math/q1"]


def test_records_and_dicts_give_the_same_frame() -> None:
    recs = [_record(i) for i in range(4)]
    a = records_frame(recs)
    b = records_frame([json.loads(r.model_dump_json()) for r in recs])
    assert a.equals(b)


def test_failures_parse_failures_and_values() -> None:
    recs = [
        _record(0),
        _record(1, answer=None, score=0.0),  # unparseable accuracy answer: wrong, counted
        _record(2, error="timeout", score=None, answer=None),  # failed trial: excluded
        _record(3, kind="regression", answer=None, score=None),  # unparseable regression
        _record(4, kind="regression", answer="3.5", score=1.5),
    ]
    df = records_frame(recs)
    assert df["failed"].tolist() == [False, False, True, False, False]
    assert df["parse_failure"].tolist() == [False, True, False, True, False]
    v = df["value"].to_numpy()
    assert v[0] == 1.0 and v[1] == 0.0 and np.isnan(v[2]) and np.isnan(v[3]) and v[4] == 1.5
    assert df["valid"].tolist() == [True, True, False, False, True]


def test_total_tokens() -> None:
    df = records_frame([_record(0, prompt_tokens=10, reasoning_tokens=100, answer_tokens=5)])
    assert df["total_tokens"].iloc[0] == 115


def test_dict_without_optional_fields_takes_defaults() -> None:
    df = records_frame(
        [
            {
                "run": "r",
                "trial_id": "x",
                "task": "t",
                "sample_id": "s",
                "model": "m",
                "budget_mode": "natural",
                "budget_tokens": -1,
            }
        ]
    )
    assert df["strategy"].iloc[0] == "single"
    assert df["sample_index"].iloc[0] == 0
    assert bool(df["valid"].iloc[0]) is False


def test_load_run_reads_the_store(tmp_path: Path) -> None:
    with Store.of_run(tmp_path, readonly=False) as store:
        store.add_many([_record(i) for i in range(5)])
        store.add(_record(9, strategy="self_consistency@4"))
    df = load_run(tmp_path)
    assert len(df) == 6
    assert set(df["strategy"]) == {"single", "self_consistency@4"}


def test_load_run_errors_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_run(tmp_path / "nope")
    with pytest.raises(ConfigError, match=r"store\.sqlite"):
        load_run(tmp_path)


def test_frame_rows_round_trip() -> None:
    df = records_frame([_record(i) for i in range(4)])
    again = records_frame(rows_of(df))
    pd_cols = [c for c in df.columns]
    assert list(again.columns) == pd_cols
    assert again["resolved"].tolist() == df["resolved"].tolist()
    assert again["meta.distractors"].tolist() == df["meta.distractors"].tolist()
