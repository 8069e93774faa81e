"""``overthink monitor``: replay a recorded stream, follow a file, serve HTTP + /metrics,
write Prometheus rules and the Grafana dashboard, compute distractor proxies."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from overthink.cli.app import app
from overthink.cli.app import console as make_console
from overthink.errors import ConfigError
from overthink.formatting import fmt_spec

__all__ = ["monitor_app"]

monitor_app = typer.Typer(
    help="Catch inverse scaling in live traffic (anytime-valid alarms).",
    no_args_is_help=True,
)
app.add_typer(monitor_app, name="monitor")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="YAML/JSON file of monitor settings.")
]
AlphaOption = Annotated[float | None, typer.Option("--alpha", help="Error level (default 0.05).")]
CheckEveryOption = Annotated[
    int | None, typer.Option("--check-every", help="Evaluate the tests every N events.")
]
AlertsJsonlOption = Annotated[
    Path | None, typer.Option("--alerts-jsonl", help="Append alerts to this JSONL file.")
]
WebhookOption = Annotated[
    str | None, typer.Option("--webhook", help="POST each alert as JSON to this URL.")
]
OtlpMetricsOption = Annotated[
    str | None,
    typer.Option(
        "--otlp-metrics",
        help="Also export the metrics over OTLP/HTTP to this URL (needs the 'otel' extra), "
        "e.g. http://127.0.0.1:4318/v1/metrics.",
    ),
]


def _otlp_metrics(monitor: Any, endpoint: str | None, lock: Any = None) -> Any:
    if endpoint is None:
        return None
    try:
        from overthink.monitor.otel_metrics import instrument, otlp_meter_provider

        provider = otlp_meter_provider(endpoint)
    except ImportError:
        raise ConfigError(
            "--otlp-metrics needs the OpenTelemetry SDK: pip install 'overthink[otel]'"
        ) from None
    instrument(monitor, provider, lock)
    return provider


def _sinks(alerts_jsonl: Path | None, webhook: str | None, stdout: bool) -> list[Any]:
    from overthink.monitor.alerts import JsonlSink, StdoutSink, WebhookSink

    sinks: list[Any] = [StdoutSink()] if stdout else []
    if alerts_jsonl is not None:
        sinks.append(JsonlSink(alerts_jsonl))
    if webhook is not None:
        if not webhook.startswith(("http://", "https://")):
            raise ConfigError(f"--webhook {webhook!r}: expected an http:// or https:// URL")
        sinks.append(WebhookSink(webhook))
    return sinks


def _fmt(x: float) -> str:
    return fmt_spec(x, "+.4f", missing="—")


def _summary_table(monitor: Any) -> Table:
    table = Table(title="overthink monitor — per segment at the last check")
    for col in (
        "segment",
        "causal Δ [CS]",
        "slice hi/lo",
        "alarm",
        "assoc. slope [CS]",
        "p",
        "n",
        "trunc",
    ):
        table.add_column(col, no_wrap=True, overflow="fold")
    for snap in monitor.snapshots():
        c, s = snap.causal, snap.slope
        causal = f"{_fmt(c.estimate)} [{_fmt(c.lower)},{_fmt(c.upper)}]"
        slope = "—" if s is None else f"{_fmt(s.slope)} [{_fmt(s.lower)},{_fmt(s.upper)}]"
        alarm = "CAUSAL" if snap.causal_alarm else ("slope" if snap.slope_alarm else "-")
        table.add_row(
            snap.segment,
            causal,
            f"{c.n_high}/{c.n_low}",
            alarm,
            slope,
            "—" if s is None else f"{s.p_value:.2g}",
            str(s.n if s else 0),
            str(snap.truncated),
        )
    return table


def _close(sinks: list[Any]) -> None:
    for sink in sinks:
        close = getattr(sink, "close", None)
        if close is not None:
            close()


@monitor_app.command()
def replay(
    file: Annotated[
        Path,
        typer.Argument(
            help="Recorded stream: JSONL events/labels or OTLP-JSON lines (.gz accepted)."
        ),
    ],
    config: ConfigOption = None,
    alpha: AlphaOption = None,
    check_every: CheckEveryOption = None,
    alerts_jsonl: AlertsJsonlOption = None,
    webhook: WebhookOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the timeline and the final status as JSON.")
    ] = False,
) -> None:
    """Run the monitor's statistics over a recorded stream and print the alert timeline."""
    from overthink.monitor.adapters import feed_lines, read_lines
    from overthink.monitor.engine import Monitor, load_monitor_config
    from overthink.monitor.server import status

    if not file.is_file():
        raise ConfigError(f"{file}: no such file")
    cfg = load_monitor_config(config, alpha=alpha, check_every=check_every)
    sinks = _sinks(alerts_jsonl, webhook, stdout=not as_json)
    monitor = Monitor(cfg, sinks)
    out = make_console()
    if not as_json:
        out.print(f"replaying {file} (alpha={cfg.alpha}, check every {cfg.check_every} events)")
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    try:
        feed_lines(monitor, read_lines(file), source=str(file))
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read ({exc})") from None
    monitor.check()
    _close(sinks)
    if as_json:
        payload = {
            "alerts": [a.model_dump(mode="json") for a in monitor.alerts],
            "status": status(monitor),
        }
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
        return
    if not monitor.alerts:
        out.print("no alerts")
    out.print(_summary_table(monitor))
    skipped = sum(monitor.malformed.values())
    out.print(
        f"{monitor.n_events} events, {monitor.n_labels} late labels "
        f"({monitor.unmatched_labels} unmatched, {monitor.pending} still pending), "
        f"{skipped} malformed lines skipped, {len(monitor.alerts)} alert transitions"
    )
    if skipped:
        reasons = ", ".join(f"{r} ×{n}" for r, n in monitor.malformed.most_common(5))
        out.print(f"malformed: {reasons}")
    out.print(
        "causal Δ = quality(high tier) − quality(low tier) on the randomised slice; "
        "the slope is associational (hard questions are longer and wronger)."
    )


def _token(token_file: Path | None, insecure: bool) -> str | None:
    if insecure:
        return None
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"--token-file {token_file}: cannot read ({exc.strerror})") from None
    else:
        token = os.environ.get("OVERTHINK_MONITOR_TOKEN", "").strip()
    if not token:
        raise ConfigError(
            "no bearer token: set OVERTHINK_MONITOR_TOKEN or pass --token-file "
            "(or --insecure-no-auth for a loopback-only test)"
        )
    return token


@monitor_app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 9464,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            help="File holding the bearer token (default: $OVERTHINK_MONITOR_TOKEN).",
        ),
    ] = None,
    insecure_no_auth: Annotated[
        bool, typer.Option("--insecure-no-auth", help="Accept events without a token.")
    ] = False,
    config: ConfigOption = None,
    alpha: AlphaOption = None,
    check_every: CheckEveryOption = None,
    alerts_jsonl: AlertsJsonlOption = None,
    webhook: WebhookOption = None,
    otlp_metrics: OtlpMetricsOption = None,
) -> None:
    """Serve POST /events (and OTLP /v1/traces, /v1/logs) plus GET /metrics."""
    import uvicorn

    from overthink.monitor.engine import Monitor, load_monitor_config
    from overthink.monitor.server import create_app

    token = _token(token_file, insecure_no_auth)
    cfg = load_monitor_config(config, alpha=alpha, check_every=check_every)
    sinks = _sinks(alerts_jsonl, webhook, stdout=True)
    monitor = Monitor(cfg, sinks)
    provider = _otlp_metrics(monitor, otlp_metrics)
    auth = "bearer token" if token else "NO AUTH"
    make_console(stderr=True).print(
        f"overthink monitor serving on http://{host}:{port} "
        f"(POST /events, /v1/traces, /v1/logs; GET /metrics, /status; {auth})"
    )
    try:
        uvicorn.run(create_app(monitor, token), host=host, port=port, log_level="warning")
    finally:
        _close(sinks)
        if provider is not None:
            provider.shutdown()


@monitor_app.command()
def follow(
    file: Annotated[Path, typer.Argument(help="Growing JSONL/OTLP-JSON file to tail.")],
    metrics_port: Annotated[
        int | None,
        typer.Option("--metrics-port", help="Also serve Prometheus /metrics on 127.0.0.1:PORT."),
    ] = None,
    from_end: Annotated[
        bool, typer.Option("--from-end", help="Skip what the file holds already.")
    ] = False,
    config: ConfigOption = None,
    alpha: AlphaOption = None,
    check_every: CheckEveryOption = None,
    alerts_jsonl: AlertsJsonlOption = None,
    webhook: WebhookOption = None,
    otlp_metrics: OtlpMetricsOption = None,
) -> None:
    """Tail a growing file (survives rotation) and alert as events arrive. Ctrl-C stops."""
    from overthink.monitor.adapters import feed_lines, follow_lines
    from overthink.monitor.engine import Monitor, load_monitor_config

    cfg = load_monitor_config(config, alpha=alpha, check_every=check_every)
    sinks = _sinks(alerts_jsonl, webhook, stdout=True)
    monitor = Monitor(cfg, sinks)
    lock = threading.Lock()
    provider = _otlp_metrics(monitor, otlp_metrics, lock)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        from overthink.monitor.exporter import registry_for

        start_http_server(metrics_port, addr="127.0.0.1", registry=registry_for(monitor, lock))
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")

    def lines() -> Iterator[bytes]:
        yield from follow_lines(file, from_start=not from_end)

    try:
        feed_lines(monitor, lines(), source=str(file), lock=lock)
    except KeyboardInterrupt:
        pass
    finally:
        monitor.check()
        _close(sinks)
        if provider is not None:
            provider.shutdown()


@monitor_app.command()
def rules(
    for_: Annotated[
        str,
        typer.Option(
            "--for",
            help="How long a condition must hold before the alert fires (Prometheus duration).",
        ),
    ] = "2m",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Print Prometheus alert rules over the monitor's metrics (YAML)."""
    import re

    from overthink.monitor.deploy import alert_rules

    if not re.fullmatch(r"(\d+(ms|s|m|h|d|w|y))+", for_):
        raise ConfigError(f"--for {for_!r}: expected a Prometheus duration such as 30s or 2m")
    _write(yaml.safe_dump(alert_rules(for_), sort_keys=False, allow_unicode=True), output)


@monitor_app.command()
def dashboard(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Print the Grafana dashboard (JSON) over the monitor's metrics."""
    from overthink.monitor.deploy import grafana_dashboard

    _write(json.dumps(grafana_dashboard(), indent=2, ensure_ascii=False) + "\n", output)


@monitor_app.command()
def proxies(
    text: Annotated[str | None, typer.Argument(help="Text to measure (default: stdin).")] = None,
    run_dir: Annotated[
        Path | None,
        typer.Option(
            "--run",
            help="A finished run folder: print the proxies of every record's prompt as JSONL.",
        ),
    ] = None,
) -> None:
    """Distractor proxies (chars, tokens, urls, code blocks, numbers, ...) of a text."""
    from overthink.monitor.proxies import compute_proxies

    if run_dir is not None:
        from overthink.experiment.store import STORE_FILE, Store

        if not (run_dir / STORE_FILE).is_file():
            raise ConfigError(f"{run_dir} is not a run folder (no {STORE_FILE} inside)")
        with Store.of_run(run_dir) as store:
            for raw in store.raw_records():
                values = compute_proxies(str(raw.get("prompt") or ""))
                line = {
                    "trial_id": raw.get("trial_id"),
                    "sample_id": raw.get("sample_id"),
                    **values,
                }
                sys.stdout.write(json.dumps(line) + "\n")
        return
    body = text if text is not None else sys.stdin.read()
    sys.stdout.write(json.dumps(compute_proxies(body)) + "\n")


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output)
