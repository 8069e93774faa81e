"""grades_regression: the generating model, the shots knob, and the drift analysis."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from frames import number_at
from overthink.analysis.drift import feature_drift, regression_errors
from overthink.core import AnswerKind
from overthink.tasks import get_task
from overthink.tasks.grades_regression import (
    FEATURE_LABELS,
    FEATURES,
    INTERCEPT,
    TRUE_WEIGHTS,
    population,
)


def _ols(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    design = np.column_stack([np.ones(len(y)), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return np.asarray(coef)


def test_fitted_regression_recovers_generating_weights() -> None:
    students = population(4000, seed=11)
    x = np.array([[s.features()[f] for f in FEATURES] for s in students])
    y = np.array([s.grade for s in students])
    coef = _ols(x, y)
    assert coef[0] == pytest.approx(INTERCEPT, abs=0.2)
    for j, feat in enumerate(FEATURES):
        assert coef[j + 1] == pytest.approx(TRUE_WEIGHTS[feat], abs=0.04), feat


def test_non_causal_features_are_correlated_with_grades() -> None:
    # The trap only works if the spurious features *look* predictive on their own.
    students = population(3000, seed=2)
    y = np.array([s.grade for s in students])
    for feat in ("sleep_hours", "stress_level", "social_hours"):
        x = np.array([s.features()[feat] for s in students])
        assert abs(np.corrcoef(x, y)[0, 1]) > 0.25, feat
    assert all(0 <= s.grade <= 10 for s in students)


def test_shots_knob_adds_examples_to_the_same_question() -> None:
    task = get_task("grades_regression")
    by = {k: task.samples(5, 0, shots=k) for k in (0, 8, 16, 32, 64)}
    for i in range(5):
        samples = [by[k][i] for k in (0, 8, 16, 32, 64)]
        assert len({s.target for s in samples}) == 1
        assert all(a.meta[f] == b.meta[f] for a in samples for b in samples for f in FEATURES)
        lengths = [len(s.prompt) for s in samples]
        assert lengths == sorted(lengths) and len(set(lengths)) == 5
        assert [s.prompt.count("Grade: ") for s in samples] == [0, 8, 16, 32, 64]
    # The 8 examples of the 8-shot prompt are the first 8 of the 16-shot prompt.
    eight = by[8][0].prompt.split("Record 9:")[0].split("Predict")[0]
    assert by[16][0].prompt.startswith(eight.rstrip())


def test_sample_shows_its_features_and_hides_the_grade() -> None:
    s = get_task("grades_regression").samples(1, 4, shots=0)[0]
    assert s.kind is AnswerKind.REGRESSION
    for feat in FEATURES:
        value = s.meta[feat]
        shown = str(int(value)) if value == int(value) else f"{value:.1f}"
        assert f"{FEATURE_LABELS[feat]}: {shown}" in s.prompt
    assert "Grade:" not in s.prompt
    assert 0 <= float(s.target) <= 10


def _records(predict: object, n: int = 400, model: str = "m") -> pd.DataFrame:
    task = get_task("grades_regression")
    rows = []
    for s in task.samples(n, 9, shots=0):
        answer = predict(s.meta) if callable(predict) else None
        rows.append(
            {
                "task": s.task,
                "model": model,
                "answer": answer,
                "target": s.target,
                **{f"meta.{k}": v for k, v in s.meta.items()},
            }
        )
    return pd.DataFrame(rows)


def test_feature_drift_tells_causal_from_spurious_predictors() -> None:
    oracle = _records(lambda m: f"{INTERCEPT + 0.9 * m['study_hours']:.2f}", model="oracle")
    sleepy = _records(lambda m: f"{12 - m['sleep_hours']:.1f}", model="sleepy")
    df = pd.concat([oracle, sleepy], ignore_index=True)
    out = feature_drift(df, by=["model"])
    assert set(out["feature"]) == set(FEATURES)
    assert len(out) == 2 * len(FEATURES)
    row = out.set_index(["model", "feature"])
    # The oracle uses study hours only: its implied weights match the generating weights.
    assert row.loc[("oracle", "study_hours"), "pred_weight"] == pytest.approx(0.9, abs=0.01)
    assert abs(number_at(row, ("oracle", "sleep_hours"), "pred_weight")) < 0.01
    # The sleep-driven model leans on a spurious feature.
    assert row.loc[("sleepy", "sleep_hours"), "pred_weight"] == pytest.approx(-1.0, abs=0.05)
    assert number_at(row, ("sleepy", "sleep_hours"), "weight_drift") < -0.9
    assert row.loc[("sleepy", "sleep_hours"), "pred_corr"] == pytest.approx(-1.0, abs=1e-6)
    assert number_at(row, ("sleepy", "sleep_hours"), "corr_drift") < -0.3
    assert row.loc[("sleepy", "study_hours"), "true_weight"] == TRUE_WEIGHTS["study_hours"]
    # Fitting the true grades recovers the generating weight (same rows for both models).
    assert row.loc[("oracle", "study_hours"), "fitted_weight"] == pytest.approx(0.9, abs=0.06)


def test_feature_drift_counts_unparsed_and_ignores_other_tasks() -> None:
    df = _records(lambda m: "no idea" if m["question"] % 4 == 0 else "5", n=40)
    other = pd.DataFrame([{"task": "zebra", "model": "m", "answer": "red", "target": "red"}])
    out = feature_drift(pd.concat([df, other], ignore_index=True))
    assert (out["n_unparsed"] == 10).all()
    assert (out["n"] == 30).all()
    # A constant prediction has no correlation with anything: NaN, not a crash.
    assert out["pred_corr"].isna().all()


def test_feature_drift_errors() -> None:
    with pytest.raises(ValueError, match="no feature columns"):
        feature_drift(pd.DataFrame({"answer": ["1"], "target": ["1"]}))
    with pytest.raises(ValueError, match="missing column"):
        feature_drift(_records(lambda m: "5", n=5), by=["budget_tokens"])


def test_regression_errors_mae_rmse() -> None:
    df = pd.DataFrame(
        {
            "answer": ["5", "8", None, "<answer>x</answer>", "6"],
            "target": ["6", "6", "7", "7", "6"],
            "model": ["a", "a", "a", "b", "b"],
        }
    )
    out = regression_errors(df, by=["model"]).set_index("model")
    assert out.loc["a", "n"] == 2 and out.loc["a", "n_unparsed"] == 1
    assert out.loc["a", "mae"] == pytest.approx(1.5)
    assert out.loc["a", "rmse"] == pytest.approx(math.sqrt((1 + 4) / 2))
    assert out.loc["b", "n"] == 1 and out.loc["b", "n_unparsed"] == 1
    assert out.loc["b", "mae"] == 0.0
    overall = regression_errors(df)
    assert overall.loc[0, "n"] == 3 and overall.loc[0, "n_unparsed"] == 2


def test_drift_on_a_records_frame() -> None:
    # End to end: Records -> analysis.frame.records_frame -> feature_drift.
    from overthink.analysis.frame import records_frame
    from overthink.core import Record

    task = get_task("grades_regression")
    records = []
    for s in task.samples(60, 1, shots=8):
        failed = s.meta["question"] == 0
        answer = None if failed else f"{s.meta['study_hours']:.1f}"
        records.append(
            Record(
                run="r", trial_id=s.id, task=s.task, sample_id=s.id, model="m",
                budget_mode="natural", budget_tokens=-1, answer=answer, target=s.target,
                kind=s.kind.value, score=task.score(s, answer), meta=s.meta,
                error="timeout" if failed else None,
            )
        )  # fmt: skip
    df = records_frame(records)
    out = feature_drift(df, by=["meta.shots"]).set_index("feature")
    assert (out["meta.shots"] == 8).all()
    assert (out["n"] == 59).all() and (
        out["n_unparsed"] == 0
    ).all()  # the error is not a parse failure
    assert out.loc["study_hours", "pred_corr"] == pytest.approx(1.0)
    assert out.loc["study_hours", "pred_weight"] == pytest.approx(1.0)
    errors = regression_errors(df)
    assert errors.loc[0, "n"] == 59
