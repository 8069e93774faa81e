"""Export to the tools people analyse with: Parquet (pandas, polars, DuckDB), OTLP-JSON
spans (checked against the official OTLP protobuf schema), and ``overthink.load``."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from typer.testing import CliRunner

import overthink
from overthink.analysis import analyze
from overthink.analysis.frame import load_run
from overthink.cli import app
from overthink.core import Record
from overthink.experiment.store import Store
from overthink.interop.inspect_import import import_inspect
from overthink.interop.otel import write_otel
from overthink.interop.parquet import read_records, write_parquet

if TYPE_CHECKING:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )


@pytest.fixture(scope="module")
def run(inspect_logs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("export") / "run"
    import_inspect(list(inspect_logs.values()), folder, reader="direct", tokenizer="none")
    # One errored record, one with unknown counts and odd meta, so nulls and types are tested.
    with Store.of_run(folder, readonly=False) as store:
        base = next(store.records())
        store.add(base.model_copy(update={
            "trial_id": "e" * 24, "error": "timeout after 3 retries", "score": None,
            "answer": None, "reasoning_tokens": -1, "retries": 3, "verifier_score": 0.25,
            "meta": {"distractors": 1, "source": "mock", "weight": 0.5},
            "resolved": {**base.resolved, "nested": {"list": [1, 2.5, None]}},
        }))  # fmt: skip
    return folder


def _stored(run: Path) -> list[Record]:
    with Store.of_run(run) as store:
        return list(store.records())


def test_parquet_round_trip_keeps_every_field_and_type(run: Path, tmp_path: Path) -> None:
    paths = write_parquet(run, tmp_path / "pq", n_boot=100)
    assert [p.name for p in paths] == [
        "records.parquet", "curves.parquet", "verdicts.parquet", "pools.parquet",
    ]  # fmt: skip
    stored = sorted(_stored(run), key=lambda r: r.trial_id)
    back = sorted(read_records(tmp_path / "pq" / "records.parquet"), key=lambda r: r.trial_id)
    assert back == stored and len(back) == 73
    frame = pd.read_parquet(tmp_path / "pq" / "records.parquet")
    kinds = {c: str(t) for c, t in frame.dtypes.items()}
    for col in ("budget_tokens", "reasoning_tokens", "sample_index", "retries", "meta.distractors"):
        assert kinds[col] == "int64", col
    for col in ("score", "latency_s", "verifier_score", "created_at"):
        assert kinds[col] == "float64", col
    for col in ("truncated_in_reasoning", "empty_answer", "budget_violation"):
        assert kinds[col] == "bool", col
    assert frame["score"].isna().sum() == 1 and frame["error"].notna().sum() == 1
    assert kinds["meta.weight"] == "float64" and frame["meta.weight"].notna().sum() == 1
    errored = frame.loc[frame["trial_id"] == "e" * 24]
    assert json.loads(errored["resolved"].iloc[0])["nested"] == {"list": [1, 2.5, None]}


def test_parquet_opens_in_polars_and_duckdb(run: Path, tmp_path: Path) -> None:
    import duckdb
    import polars as pl

    write_parquet(run, tmp_path, n_boot=100)
    records = pl.read_parquet(tmp_path / "records.parquet")
    assert records.schema["reasoning_tokens"] == pl.Int64
    assert records.schema["truncated_in_reasoning"] == pl.Boolean
    relation = duckdb.sql(
        f"SELECT budget_tokens, avg(score) AS acc FROM '{tmp_path / 'records.parquet'}' "
        "WHERE error IS NULL GROUP BY 1 ORDER BY 1"
    )
    assert relation is not None  # None only for statements that return no rows
    by_budget = relation.fetchall()
    curves = pl.read_parquet(tmp_path / "curves.parquet").filter(pl.col("level") == "all")
    expected = dict(zip(curves["budget_tokens"].to_list(), curves["metric"].to_list(), strict=True))
    assert [b for b, _ in by_budget] == [64, 128, 256]
    for budget, acc in by_budget:
        assert acc == pytest.approx(expected[budget])


def test_analysis_tables_equal_analyze(run: Path, tmp_path: Path) -> None:
    write_parquet(run, tmp_path, n_boot=100)
    analysis = analyze(run, n_boot=100)
    for name in ("curves", "verdicts", "pools"):
        got = pd.read_parquet(tmp_path / f"{name}.parquet")
        want = getattr(analysis, name).reset_index(drop=True)
        assert list(got.columns) == list(want.columns), name
        assert len(got) == len(want) > 0, name
        pd.testing.assert_frame_equal(
            got.astype(str), want.astype(str), check_dtype=False, obj=name
        )


def test_load_is_the_analysis_frame(run: Path) -> None:
    frame = overthink.load(run)
    assert isinstance(frame, pd.DataFrame) and len(frame) == 73
    pd.testing.assert_frame_equal(frame, load_run(run))
    assert {"question", "value", "valid", "meta.distractors"} <= set(frame.columns)


def _parse_otlp(line: str) -> ExportTraceServiceRequest:
    """Parse one OTLP-JSON line with the official protobuf schema (ids are hex in OTLP/JSON,
    base64 in protobuf's generic JSON mapping, so they are converted first)."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    doc = json.loads(line)
    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for key in ("traceId", "spanId"):
                    span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    return json_format.ParseDict(doc, ExportTraceServiceRequest())


def test_otel_export_is_valid_otlp_with_genai_attributes(run: Path, tmp_path: Path) -> None:
    out = io.StringIO()
    assert write_otel(run, out) == 73
    request = _parse_otlp(out.getvalue().splitlines()[0])
    spans = [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert len(spans) == 73
    stored = {r.trial_id: r for r in _stored(run)}
    for span in spans:
        assert len(span.trace_id) == 16 and len(span.span_id) == 8
        attrs = {a.key: a.value for a in span.attributes}
        rec = stored[attrs["gen_ai.response.id"].string_value]
        assert attrs["gen_ai.operation.name"].string_value == "chat"
        assert attrs["gen_ai.request.model"].string_value == rec.model
        assert attrs["gen_ai.usage.input_tokens"].int_value == rec.prompt_tokens
        if rec.reasoning_tokens >= 0:
            assert attrs["gen_ai.usage.reasoning.output_tokens"].int_value == rec.reasoning_tokens
            assert attrs["gen_ai.usage.output_tokens"].int_value == (
                rec.reasoning_tokens + rec.answer_tokens
            )
        else:  # unknown counts are left out, never written as -1
            assert "gen_ai.usage.reasoning.output_tokens" not in attrs
        assert attrs["overthink.budget_tokens"].int_value == rec.budget_tokens
        assert attrs["overthink.covariate.distractors"].double_value == rec.meta["distractors"]
        assert attrs["overthink.tag.source"].string_value == "mock"
        assert attrs["overthink.truncated"].bool_value == rec.truncated_in_reasoning
        if rec.score is None:
            assert "overthink.quality" not in attrs
        else:
            assert attrs["overthink.quality"].double_value == rec.score
        assert span.status.code == (2 if rec.error else 1)
        assert span.end_time_unix_nano - span.start_time_unix_nano == pytest.approx(
            rec.latency_s * 1e9, rel=1e-6, abs=2
        )


def test_cli_export_parquet_and_otel(run: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["export", str(run), "--format", "otel", "-o", str(tmp_path / "s.json")]
    )
    assert result.exit_code == 0, result.output
    assert _parse_otlp((tmp_path / "s.json").read_text().splitlines()[0])
    result = runner.invoke(
        app, ["export", str(run), "--format", "parquet", "-o", str(tmp_path / "pq")]
    )
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(tmp_path / "pq" / "records.parquet")) == 73


def test_otel_export_is_read_back_by_the_monitor(run: Path, tmp_path: Path) -> None:
    from overthink.monitor.adapters import feed_lines, read_lines
    from overthink.monitor.engine import Monitor
    from overthink.monitor.events import MalformedInput, MonitorEvent
    from overthink.monitor.otlp import otlp_line_items

    path = tmp_path / "spans.jsonl"
    with path.open("w") as fh:
        write_otel(run, fh)
    items = [item for line in read_lines(path) for item in otlp_line_items(line)]
    assert not [i for i in items if isinstance(i, MalformedInput)]
    events = {i.request_id: i for i in items if isinstance(i, MonitorEvent)}
    stored = {r.trial_id: r for r in _stored(run)}
    # The errored record has no token counts: not a model call to the monitor.
    assert set(events) == {t for t, r in stored.items() if r.reasoning_tokens >= 0}
    for trial_id, event in events.items():
        rec = stored[trial_id]
        assert event.model == rec.model and event.segment == rec.task
        assert event.reasoning_tokens == rec.reasoning_tokens
        assert event.budget_tokens == rec.budget_tokens
        assert event.prompt_tokens == rec.prompt_tokens
        assert event.truncated == rec.truncated_in_reasoning
        assert event.quality == rec.score
        assert event.covariates == {"distractors": float(rec.meta["distractors"])}
        assert event.tags == {"source": "mock"}
        assert event.ts == pytest.approx(rec.created_at, abs=1e-3)
    monitor = Monitor()
    assert feed_lines(monitor, read_lines(path), source=str(path)) == 1
    assert monitor.n_events == 72 and sum(monitor.malformed.values()) == 0
