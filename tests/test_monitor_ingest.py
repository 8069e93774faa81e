"""Monitor inputs and outputs: JSONL and OTLP adapters, malformed input, late labels,
hysteresis, sinks, the HTTP endpoint, the CLI and the shipped deploy files."""

from __future__ import annotations

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from starlette.testclient import TestClient
from typer.testing import CliRunner

from overthink.cli import app
from overthink.monitor import Label, MonitorEvent, event_to_json
from overthink.monitor.adapters import feed_lines, follow_lines, read_lines
from overthink.monitor.alerts import Hysteresis, JsonlSink, WebhookSink
from overthink.monitor.deploy import alert_rules, grafana_dashboard
from overthink.monitor.engine import Monitor, MonitorConfig
from overthink.monitor.otlp import otlp_line_items
from overthink.monitor.server import create_app
from overthink.testing.traffic import step_effect, synthetic_events

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "monitor" / "stream.jsonl.gz"


def _event(i: int, **kw: Any) -> str:
    base = {"ts": 1.0 + i, "request_id": f"r{i}", "reasoning_tokens": 100, "quality": 1.0}
    return json.dumps({**base, **kw})


# --- malformed input -------------------------------------------------------------------


def test_malformed_lines_are_counted_and_skipped_never_fatal(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    lines = [
        _event(0),
        "{not json",
        "",
        '"just a string"',
        "[1, 2, 3]",
        deep,
        _event(1, reasoning_tokens="many"),  # wrong type
        _event(2, quality=7),  # out of range
        json.dumps({"request_id": "r3"}),  # missing ts
        json.dumps({"ts": 1, "request_id": "r4", "covariates": {"a": "x"}}),
        _event(5, surprise={"nested": [1, 2]}),  # unknown attribute: ignored, kept
        "x" * 3_000_000,  # huge line
        "\x00\xff garbage",
        json.dumps({"kind": "label", "request_id": "nobody", "quality": 1}),
        _event(6),
    ]
    path = tmp_path / "in.jsonl"
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n\xff\xfe\n")
    monitor = Monitor(MonitorConfig(check_every=2))
    read = feed_lines(monitor, read_lines(path), source=str(path))
    monitor.check()
    assert read == len(lines) + 1
    assert monitor.n_events == 3  # r0, r5 (unknown field ignored), r6
    assert monitor.unmatched_labels == 1
    assert sum(monitor.malformed.values()) == 11
    assert any("exceeds" in r for r in monitor.malformed)
    assert any(r.startswith("bad JSON") for r in monitor.malformed)


def test_huge_line_is_not_held_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_bytes(b'{"ts": 1, "request_id": "' + b"a" * 5_000_000 + b'"}\n' + _event(1).encode())
    lines = list(read_lines(path))
    assert len(lines) == 2
    assert len(lines[0]) <= 1_000_001


def test_gzip_and_late_labels_join_by_request_id(tmp_path: Path) -> None:
    events = [
        event_to_json(MonitorEvent(ts=1, request_id="a", segment="s", reasoning_tokens=10)),
        event_to_json(Label(request_id="a", quality=1.0)),
        event_to_json(MonitorEvent(ts=2, request_id="b", segment="s", reasoning_tokens=10)),
    ]
    path = tmp_path / "s.jsonl.gz"
    path.write_bytes(gzip.compress("\n".join(events).encode()))
    monitor = Monitor()
    feed_lines(monitor, read_lines(path))
    assert monitor.n_events == 2 and monitor.n_labels == 1
    assert monitor.labelled[("unknown", "s")] == 1
    assert monitor.pending == 1  # b still waits


def test_pending_labels_are_bounded() -> None:
    monitor = Monitor(MonitorConfig(max_pending=100))
    for i in range(1000):
        monitor.ingest(MonitorEvent(ts=i, request_id=f"r{i}"))
    assert monitor.pending == 100 and monitor.evicted == 900
    monitor.ingest(Label(request_id="r0", quality=1.0))  # evicted: unmatched, not an error
    assert monitor.unmatched_labels == 1


def test_follow_reads_a_growing_and_rotated_file(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    got: list[bytes] = []
    stop = threading.Event()

    def reader() -> None:
        for line in follow_lines(path, poll_s=0.02, should_stop=stop.is_set):
            got.append(line)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        with path.open("w") as fh:
            fh.write(_event(0) + "\n" + _event(1)[:10])  # a partial line is held back
            fh.flush()
            time.sleep(0.3)
            assert len(got) == 1
            fh.write(_event(1)[10:] + "\n")
        deadline = time.time() + 5
        while len(got) < 2 and time.time() < deadline:
            time.sleep(0.02)
        path.rename(tmp_path / "live.jsonl.1")  # rotation: a new file appears
        path.write_text(_event(2) + "\n")
        while len(got) < 3 and time.time() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(5)
    assert [json.loads(x)["request_id"] for x in got] == ["r0", "r1", "r2"]


# --- OTLP ------------------------------------------------------------------------------


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    if isinstance(value, list):
        return {
            "key": key,
            "value": {"arrayValue": {"values": [{"stringValue": v} for v in value]}},
        }
    return {"key": key, "value": {"stringValue": value}}


def _span(response_id: str, attrs: dict[str, Any], events: list[Any] | None = None) -> Any:
    return {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "chat reasoner",
        "startTimeUnixNano": "1767225600000000000",
        "endTimeUnixNano": "1767225601500000000",
        "attributes": [_attr("gen_ai.response.id", response_id)]
        + [_attr(k, v) for k, v in attrs.items()],
        "events": events or [],
    }


def _otlp(spans: list[Any], resource: dict[str, Any] | None = None) -> str:
    return json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": [_attr(k, v) for k, v in (resource or {}).items()]},
                    "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}],
                }
            ]
        }
    )


@pytest.mark.parametrize(
    "key",
    [
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.usage.reasoning_tokens",
        "llm.token_count.completion_details.reasoning",
        "gen_ai.usage.completion_tokens_details.reasoning_tokens",
        "usage.completion_tokens_details.reasoning_tokens",
        "gen_ai.usage.output_tokens_details.reasoning_tokens",
        "gen_ai.usage.thinking_tokens",
        "gen_ai.usage.thoughts_token_count",
        "usage_metadata.thoughtsTokenCount",
    ],
)
def test_every_spelling_of_reasoning_tokens_maps_to_one_field(key: str) -> None:
    line = _otlp(
        [
            _span(
                "resp-1", {key: 777, "gen_ai.request.model": "m", "gen_ai.usage.output_tokens": 900}
            )
        ]
    )
    (item,) = list(otlp_line_items(line))
    assert isinstance(item, MonitorEvent)
    assert item.reasoning_tokens == 777 and item.request_id == "resp-1" and item.model == "m"
    assert item.ts == pytest.approx(1767225601.5)


def test_otlp_overthink_attributes_and_evaluation_events() -> None:
    evaluation = {
        "name": "gen_ai.evaluation.result",
        "timeUnixNano": "1767225602000000000",
        "attributes": [
            _attr("gen_ai.evaluation.name", "verifier"),
            _attr("gen_ai.evaluation.score.value", 0.0),
        ],
    }
    span = _span(
        "resp-9",
        {
            "gen_ai.usage.reasoning.output_tokens": 64,
            "gen_ai.usage.output_tokens": 80,
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.response.model": "r1",
            "gen_ai.response.finish_reasons": ["length"],
            "overthink.budget_tier": "high",
            "overthink.assignment": "random",
            "overthink.assignment_prob": 0.5,
            "overthink.covariate.urls": 3,
            "overthink.tag.route": "chat",
            "some.unknown.attribute": "ignored",
        },
        [evaluation],
    )
    http_span = {"spanId": "x", "name": "GET /", "attributes": [_attr("http.method", "GET")]}
    items = list(otlp_line_items(_otlp([span, http_span], {"overthink.segment": "code"})))
    event, label = items
    assert isinstance(event, MonitorEvent) and isinstance(label, Label)
    assert (event.segment, event.budget_tier, event.assignment, event.assignment_prob) == (
        "code",
        "high",
        "random",
        0.5,
    )
    assert event.is_truncated and event.prompt_tokens == 12
    assert event.covariates == {"urls": 3.0} and event.tags == {"route": "chat"}
    assert (label.request_id, label.quality, label.source) == ("resp-9", 0.0, "verifier")


def test_otlp_log_record_labels_and_bad_spans() -> None:
    logs = json.dumps(
        {
            "resourceLogs": [
                {
                    "scopeLogs": [
                        {
                            "logRecords": [
                                {
                                    "eventName": "gen_ai.evaluation.result",
                                    "timeUnixNano": "1767225602000000000",
                                    "attributes": [
                                        _attr("gen_ai.response.id", "resp-1"),
                                        _attr("gen_ai.evaluation.score.label", "pass"),
                                    ],
                                },
                                {"attributes": [_attr("event.name", "something.else")]},
                                {
                                    "eventName": "gen_ai.evaluation.result",
                                    "attributes": [_attr("gen_ai.response.id", "x")],
                                },
                            ]
                        }
                    ]
                }
            ]
        }
    )
    items = list(otlp_line_items(logs))
    assert isinstance(items[0], Label) and items[0].quality == 1.0
    assert len(items) == 2 and "score" in str(items[1])
    bad = _otlp(
        [
            {"attributes": "not a list"},
            _span("r", {"gen_ai.usage.reasoning_tokens": -5, "gen_ai.usage.output_tokens": 1}),
            _span("ok", {"gen_ai.usage.reasoning_tokens": 5}),
            {"attributes": [{"key": "gen_ai.x", "value": {"intValue": "NaN-ish"}}]},
        ]
    )
    items = list(otlp_line_items(bad))
    good = [i for i in items if isinstance(i, MonitorEvent)]
    assert [g.request_id for g in good] == ["ok"] and len(items) == 4
    monitor = Monitor()
    feed_lines(monitor, [bad, logs, '{"resourceSpans": 5}'])
    assert monitor.n_events == 1 and sum(monitor.malformed.values()) >= 4


# --- alerts ----------------------------------------------------------------------------


def test_hysteresis_fires_on_sustained_evidence_and_does_not_flap() -> None:
    h = Hysteresis(fire_after=2, resolve_after=3)
    key = ("s", "causal_effect")
    seq = [True, False, True, True, False, True, False, False, True, False, False, False]
    steps = [h.step(key, c) for c in seq]
    assert steps == [None, None, None, "fire", None, None, None, None, None, None, None, "resolve"]


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_alerts_go_to_jsonl_and_a_webhook(tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook = WebhookSink(f"http://127.0.0.1:{server.server_port}/hook", timeout_s=5)
    broken = WebhookSink("http://127.0.0.1:9/nothing-listens", timeout_s=1)
    sink = JsonlSink(tmp_path / "alerts.jsonl")
    try:
        monitor = Monitor(MonitorConfig(check_every=500), [sink, hook, broken])
        for ev in synthetic_events(
            6000, seed=1, effect=step_effect(-0.5, -0.5, 0), slice_fraction=1.0
        ):
            monitor.ingest(ev)
        monitor.check()
    finally:
        hook.close()
        broken.close()
        server.shutdown()
    written = [json.loads(x) for x in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    causal = [a for a in written if a["test"] == "causal_effect"]
    assert causal and causal[0]["state"] == "firing" and causal[0]["upper"] < 0
    assert {"segment", "estimate", "lower", "upper", "n", "evidence"} <= set(causal[0])
    assert _Receiver.received == written
    assert broken.failures == len(written) and hook.failures == 0


# --- HTTP endpoint ---------------------------------------------------------------------


def test_http_endpoint_auth_events_otlp_and_metrics() -> None:
    monitor = Monitor(MonitorConfig(check_every=100))
    client = TestClient(create_app(monitor, token="s3cret"))
    auth = {"Authorization": "Bearer s3cret"}
    body = "\n".join(_event(i, segment="web", budget_tier="high") for i in range(5))
    assert client.post("/events", content=body).status_code == 401
    assert (
        client.post("/events", content=body, headers={"Authorization": "Bearer no"}).status_code
        == 401
    )
    r = client.post("/events", content=body, headers=auth)
    assert r.status_code == 200 and r.json()["accepted"] == 5
    r = client.post("/events", json=[json.loads(_event(9)), {"ts": "x"}], headers=auth)
    assert r.json()["accepted"] == 1 and r.json()["malformed"] == 1
    assert client.post("/events", content=b"\xff{{", headers=auth).status_code == 400
    otlp = _otlp([_span("o1", {"gen_ai.usage.reasoning_tokens": 5})])
    assert client.post("/v1/traces", content=otlp, headers=auth).json()["accepted"] == 1
    assert (
        client.post("/events", content=b"x" * (17 * 1024 * 1024), headers=auth).status_code == 413
    )
    metrics = client.get("/metrics").text
    assert (
        'overthink_monitor_requests_total{budget_tier="high",model="unknown",segment="web"} 5.0'
        in metrics
    )
    assert (
        'overthink_monitor_reasoning_tokens_bucket{le="128",model="unknown",segment="web"} 5.0'
        in metrics
    )
    assert "overthink_monitor_causal_effect_upper" in metrics
    assert client.get("/status").status_code == 401
    status = client.get("/status", headers=auth).json()
    assert status["events"] == 7 and status["malformed"]


# --- CLI and deploy files ----------------------------------------------------------------


def test_replay_example_alarms_after_the_change_and_not_before(tmp_path: Path) -> None:
    """The shipped example: Δ in segment math turns from 0 to −0.4 at event 3,000."""
    result = CliRunner().invoke(
        app, ["monitor", "replay", str(EXAMPLE), "--check-every", "200", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    causal = [a for a in payload["alerts"] if a["test"] == "causal_effect"]
    assert [(a["segment"], a["state"]) for a in causal] == [("math", "firing")]
    assert 3000 < causal[0]["event_index"] < 6000
    slope = [a for a in payload["alerts"] if a["test"] == "observational_slope"]
    assert {a["segment"] for a in slope} == {"math", "chat"}  # the associational trap
    assert all(a["associational"] for a in slope)
    text = CliRunner().invoke(app, ["monitor", "replay", str(EXAMPLE), "--check-every", "200"])
    assert "FIRING   causal_effect  segment=math" in text.stdout


def test_example_stream_is_what_the_script_writes(tmp_path: Path) -> None:
    import runpy
    import sys

    out = tmp_path / "stream.jsonl.gz"
    argv = sys.argv
    sys.argv = ["make_stream.py", str(out)]
    try:
        runpy.run_path(str(ROOT / "examples" / "monitor" / "make_stream.py"), run_name="__main__")
    finally:
        sys.argv = argv
    assert out.read_bytes() == EXAMPLE.read_bytes()


def _main(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str]:
    """Run the console entry point in-process (same path as the `overthink` script)."""
    from overthink.cli import main

    monkeypatch.setattr("sys.argv", ["overthink", "monitor", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    return int(exc.value.code or 0), capsys.readouterr().err


def test_cli_bad_input_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "m.yaml"
    cfg.write_text("alpha: 2\n")
    code, err = _main(["replay", str(EXAMPLE), "--config", str(cfg)], capsys, monkeypatch)
    assert code == 2 and "alpha" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    code, err = _main(["replay", str(tmp_path / "missing.jsonl")], capsys, monkeypatch)
    assert code == 2 and "no such file" in err
    code, err = _main(["rules", "--for", "soon"], capsys, monkeypatch)
    assert code == 2 and "--for" in err
    monkeypatch.delenv("OVERTHINK_MONITOR_TOKEN", raising=False)
    code, err = _main(["serve"], capsys, monkeypatch)
    assert code == 2 and "token" in err


def test_shipped_rules_and_dashboard_match_the_code() -> None:
    rules = yaml.safe_load(
        (ROOT / "deploy" / "prometheus" / "overthink-monitor-rules.yml").read_text()
    )
    assert rules == alert_rules()
    dash = json.loads((ROOT / "deploy" / "grafana" / "overthink-monitor.json").read_text())
    assert dash == grafana_dashboard()
    result = CliRunner().invoke(app, ["monitor", "rules", "--for", "0s"])
    assert yaml.safe_load(result.stdout)["groups"][0]["rules"][0]["for"] == "0s"


def test_proxies_command_on_text() -> None:
    result = CliRunner().invoke(app, ["monitor", "proxies", "see https://x.io and 42"])
    values = json.loads(result.stdout)
    assert values["urls"] == 1 and values["numbers"] == 1


def test_metrics_scrapes_while_another_thread_ingests() -> None:
    """`follow --metrics-port`: the scrape thread and the ingest thread share a lock."""
    from overthink.monitor.exporter import metrics_text, registry_for

    monitor = Monitor(MonitorConfig(check_every=100))
    lock = threading.Lock()
    registry = registry_for(monitor, lock)
    lines = [
        event_to_json(e).encode()
        for e in synthetic_events(6000, seed=2, segments=tuple(f"s{i}" for i in range(20)))
    ]
    worker = threading.Thread(target=feed_lines, args=(monitor, lines), kwargs={"lock": lock})
    worker.start()
    scrapes = 0
    while worker.is_alive() or scrapes == 0:
        text = metrics_text(registry).decode()
        assert "overthink_monitor_events_total" in text
        scrapes += 1
    worker.join()
    final = metrics_text(registry).decode()
    assert "overthink_monitor_events_total 6000.0" in final


def test_proxies_offline_on_a_finished_run(tmp_path: Path) -> None:
    from overthink.core import Record
    from overthink.experiment.store import STORE_FILE, Store

    with Store(tmp_path / STORE_FILE, readonly=False) as store:
        for i, prompt in enumerate(["plain question?", "see http://a.b and http://c.d, 3 + 4"]):
            store.add(
                Record(
                    run="r",
                    trial_id=f"t{i}",
                    task="x",
                    sample_id=f"s{i}",
                    model="m",
                    budget_mode="forced",
                    budget_tokens=0,
                    prompt=prompt,
                )
            )
    result = CliRunner().invoke(app, ["monitor", "proxies", "--run", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    assert [(r["trial_id"], r["urls"], r["numbers"]) for r in rows] == [
        ("t0", 0.0, 0.0),
        ("t1", 2.0, 2.0),
    ]


def test_slope_change_detector_flags_a_turn_to_negative() -> None:
    """Page–Hinkley on windowed slope z-scores: flat, then quality falling with length."""
    import numpy as np

    from overthink.monitor.trackers import SlopeTracker

    rng = np.random.default_rng(4)
    tracker = SlopeTracker(2, 0.05, 1.0, min_n=200, change_window=500, change_threshold=20.0)
    flags = []
    for batch in range(80):
        x = rng.normal(8, 1.5, 500)
        slope = 0.0 if batch < 40 else -0.06
        y = (rng.random(500) < np.clip(0.6 + slope * (x - 8), 0, 1)).astype(float)
        tracker.update(np.column_stack([np.ones(500), x]), y)
        flags.append(tracker.result().change)
        tracker.acknowledge_change()
    assert not any(flags[:40])
    assert any(flags[40:50])


def test_otel_metrics_export_reads_the_monitor() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint

    from overthink.monitor.otel_metrics import instrument

    monitor = Monitor(MonitorConfig(check_every=200))
    for ev in synthetic_events(
        3000, seed=1, effect=step_effect(-0.5, -0.5, 0), slice_fraction=1.0, segments=("a",)
    ):
        monitor.ingest(ev)
    monitor.check()
    reader = InMemoryMetricReader()
    instrument(monitor, MeterProvider(metric_readers=[reader]))
    data = reader.get_metrics_data()
    assert data is not None
    points: dict[tuple[str, tuple[tuple[str, object], ...]], float] = {}
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                for p in m.data.data_points:
                    # Gauges only: number points, each with its attributes.
                    assert isinstance(p, NumberDataPoint) and p.attributes is not None
                    points[(m.name, tuple(sorted(p.attributes.items())))] = p.value
    snap = next(monitor.snapshots())
    assert points[("overthink_monitor.causal_effect", (("segment", "a"),))] == snap.causal.estimate
    assert points[("overthink_monitor.causal_effect_upper", (("segment", "a"),))] < 0
    assert points[("overthink_monitor.alarm", (("segment", "a"), ("test", "causal_effect")))] == 1
    assert sum(v for (n, _), v in points.items() if n == "overthink_monitor.requests") == 3000
