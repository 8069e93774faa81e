"""The grades drift analysis reaches users: analyze() table, CSV, CLI and report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from overthink.analysis import analyze, records_frame
from overthink.cli.app import app
from overthink.core import Record
from overthink.experiment.store import Store
from overthink.tasks import get_task


def _records(n: int = 120) -> list[Record]:
    """Grades predictions: at budget 0 they follow study hours (the truth); at budget 256
    they follow sleep, a feature with no causal effect."""
    samples = get_task("grades_regression").samples(n, 3, shots=0)
    out = []
    for s in samples:
        for budget in (0, 256):
            m = s.meta
            pred = 1.0 + 0.9 * m["study_hours"] if budget == 0 else 1.0 + 0.8 * m["sleep_hours"]
            pred = min(10.0, max(0.0, pred))
            out.append(
                Record(
                    run="r", trial_id=f"{s.id}-{budget}", task=s.task, sample_id=s.id,
                    model="m", budget_mode="forced", budget_tokens=budget,
                    answer=f"{pred:.1f}", target=s.target, kind="regression",
                    score=abs(pred - float(s.target)), reasoning_tokens=budget,
                    meta=dict(m),
                )
            )  # fmt: skip
    return out


def _weights(drift: pd.DataFrame, budget: int) -> pd.Series:
    rows = drift[(drift["level"] == "all") & (drift["budget_tokens"] == budget)]
    return rows.set_index("feature")["pred_weight"]


def test_drift_table_finds_the_spurious_feature() -> None:
    result = analyze(records_frame(_records()), n_boot=20)
    drift = result.drift
    assert set(drift["feature"]) >= {"study_hours", "sleep_hours"}
    honest, drifted = _weights(drift, 0), _weights(drift, 256)
    assert abs(honest["study_hours"] - 0.9) < 0.1 and abs(honest["sleep_hours"]) < 0.1
    assert abs(drifted["sleep_hours"] - 0.8) < 0.15 and abs(drifted["study_hours"]) < 0.15
    # The true weights travel with the table; the fit on true grades recovers them.
    truth = drift.drop_duplicates("feature").set_index("feature")["true_weight"]
    assert truth["study_hours"] == 0.9 and truth["sleep_hours"] == 0.0
    assert {"shots=0"} <= set(drift["level"])


def test_drift_is_empty_for_tasks_without_features() -> None:
    frame = records_frame(
        [
            Record(run="r", trial_id=f"{q}-{b}", task="misleading_math", sample_id=f"q{q}",
                   model="m", budget_mode="forced", budget_tokens=b, answer="2", score=1.0)
            for q in range(5)
            for b in (0, 64)
        ]
    )  # fmt: skip
    assert analyze(frame, n_boot=10).drift.empty


def test_cli_and_report_show_the_drift(tmp_path: Path) -> None:
    from overthink.report import write_report

    with Store.of_run(tmp_path, readonly=False) as store:
        store.add_many(_records(60))
    result = CliRunner().invoke(app, ["analyze", str(tmp_path), "--n-boot", "20"],
                                env={"COLUMNS": "250"})  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Spurious-feature drift" in text and "sleep" in text
    assert "+0.80" in text and "+0.90" in text  # drifted weight on sleep; true study weight
    assert (tmp_path / "analysis" / "drift.csv").is_file()
    html = write_report(tmp_path).read_text()
    assert "model&#39;s implied weight" in html or "model's implied weight" in html
