"""``overthink monitor serve``: an HTTP endpoint that ingests events and serves /metrics.

* ``POST /events`` — a JSON event/label, a JSON array of them, JSONL, or an OTLP-JSON
  export request; ``POST /v1/traces`` and ``POST /v1/logs`` take OTLP/HTTP JSON, so a
  collector's ``otlphttp`` exporter (``encoding: json``) can point here.
  All ingest routes need ``Authorization: Bearer <token>``.
* ``GET /metrics`` — Prometheus exposition (unauthenticated, like most exporters: bind to
  a private address).
* ``GET /status`` — per-segment estimates as JSON (bearer token); ``GET /healthz``.
"""

from __future__ import annotations

import hmac
import json
import math
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from overthink.monitor.engine import Monitor
from overthink.monitor.events import MalformedInput, parse_item
from overthink.monitor.exporter import metrics_text, registry_for
from overthink.monitor.otlp import is_otlp, otlp_items

__all__ = ["MAX_BODY_BYTES", "create_app"]

MAX_BODY_BYTES = 16 * 1024 * 1024
"""Requests with a larger body are refused with 413."""
CONTENT_TYPE_LATEST = "text/plain; version=0.0.4; charset=utf-8"


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def status(monitor: Monitor) -> dict[str, Any]:
    """Counters and per-segment estimates as a JSON-able dict."""
    segments = []
    for snap in monitor.snapshots():
        c, s = snap.causal, snap.slope
        segments.append(
            {
                "segment": snap.segment,
                "causal": {
                    "estimate": c.estimate,
                    "lower": _finite(c.lower),
                    "upper": _finite(c.upper),
                    "n": c.n,
                    "n_high": c.n_high,
                    "n_low": c.n_low,
                    "active": c.active,
                    "alarm": snap.causal_alarm,
                },
                "slope_associational": None
                if s is None
                else {
                    "slope": _finite(s.slope),
                    "lower": _finite(s.lower),
                    "upper": _finite(s.upper),
                    "p_value": s.p_value,
                    "n": s.n,
                    "active": s.active,
                    "alarm": snap.slope_alarm,
                },
                "truncated": snap.truncated,
            }
        )
    return {
        "events": monitor.n_events,
        "labels": monitor.n_labels,
        "pending_labels": monitor.pending,
        "unmatched_labels": monitor.unmatched_labels,
        "malformed": dict(monitor.malformed),
        "segments": segments,
    }


def _authorised(request: Request, expected: bytes | None) -> bool:
    if expected is None:
        return True
    given = request.headers.get("authorization", "").encode()
    return hmac.compare_digest(given, expected)


async def _read_body(request: Request, expected: bytes | None) -> bytes | Response:
    """The request body, or the error response (401 without the token, 413 when too large)."""
    if not _authorised(request, expected):
        return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401)
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        return JSONResponse({"error": "body too large"}, status_code=413)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "body too large"}, status_code=413)
    return body


class _Tally:
    """What one POST body gave: items accepted, items malformed and the first reasons."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self.accepted = 0
        self.malformed = 0
        self.reasons: list[str] = []

    def bad(self, reason: str) -> None:
        self.monitor.skip(reason)
        self.malformed += 1
        if len(self.reasons) < 5:
            self.reasons.append(reason)

    def ingest(self, item: Any) -> None:
        self.monitor.ingest(item)
        self.accepted += 1


def _json_items(body: bytes, tally: _Tally) -> list[Any]:
    """One JSON document (an object or a list of them), else JSON lines."""
    try:
        decoded = json.loads(body)
        return decoded if isinstance(decoded, list) else [decoded]
    except (ValueError, RecursionError):
        pass
    items = []
    for line in body.splitlines():
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except (ValueError, RecursionError) as exc:
            tally.bad(f"bad JSON: {exc}".splitlines()[0])
    return items


def _ingest_body(monitor: Monitor, body: bytes) -> dict[str, Any]:
    """Feed a POST body (events, labels or OTLP) to the monitor; what was accepted."""
    tally = _Tally(monitor)
    for obj in _json_items(body, tally):
        if is_otlp(obj):
            for item in otlp_items(obj):
                if isinstance(item, MalformedInput):
                    tally.bad(str(item))
                else:
                    tally.ingest(item)
            continue
        try:
            tally.ingest(parse_item(obj))
        except MalformedInput as exc:
            tally.bad(str(exc))
    return {"accepted": tally.accepted, "malformed": tally.malformed, "reasons": tally.reasons}


def create_app(monitor: Monitor, token: str | None) -> Starlette:
    """The ASGI app; ``token=None`` disables auth (tests and loopback-only setups)."""
    registry = registry_for(monitor)
    expected = f"Bearer {token}".encode() if token is not None else None

    async def events(request: Request) -> Response:
        body = await _read_body(request, expected)
        if isinstance(body, Response):
            return body
        result = _ingest_body(monitor, body)
        code = 400 if result["accepted"] == 0 and result["malformed"] else 200
        return JSONResponse(result, status_code=code)

    async def metrics(_: Request) -> Response:
        return Response(metrics_text(registry), media_type=CONTENT_TYPE_LATEST)

    async def status_route(request: Request) -> Response:
        if not _authorised(request, expected):
            return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401)
        monitor.check()
        return JSONResponse(status(monitor))

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True, "events": monitor.n_events})

    return Starlette(
        routes=[
            Route("/events", events, methods=["POST"]),
            Route("/v1/traces", events, methods=["POST"]),
            Route("/v1/logs", events, methods=["POST"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/status", status_route, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
