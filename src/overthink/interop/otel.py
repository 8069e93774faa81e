"""OTLP-JSON export: one span per record, with OpenTelemetry GenAI semantic conventions.

The file is an OTLP ``ExportTraceServiceRequest`` in its JSON encoding (what an OTLP/HTTP
collector accepts with ``Content-Type: application/json`` and what the collector's file
exporter writes): ``resourceSpans → scopeSpans → spans``, ids as hex, 64-bit integers as
decimal strings, enums as numbers. One JSON document per line (``.jsonl`` of requests, one
per ``batch`` spans), so a large run streams.

Attributes per span (GenAI semantic conventions, plus ``overthink.*`` for the rest):

============================================  =============================================
``gen_ai.operation.name``                     ``chat``
``gen_ai.provider.name``                      the model name's provider prefix (``openai``…)
``gen_ai.request.model`` / ``response.model`` ``Record.model``
``gen_ai.response.id``                        ``Record.trial_id``
``gen_ai.response.finish_reasons``            ``[Record.finish_reason]``
``gen_ai.request.seed``                       ``Record.seed``
``gen_ai.usage.input_tokens``                 ``prompt_tokens``
``gen_ai.usage.output_tokens``                ``reasoning_tokens + answer_tokens``
``gen_ai.usage.reasoning.output_tokens``      ``reasoning_tokens`` (left out when unknown)
``error.type``                                the record's error (span status ERROR)
``overthink.*``                               run, task (also as ``segment``), sample
                                              id/index, ``budget_mode``, ``budget_tokens``,
                                              ``score``, ``quality`` (score in [0, 1]),
                                              answer, target, ``truncated``, strategy;
                                              knobs as ``covariate.<k>`` (numeric) or
                                              ``tag.<k>`` — the names the monitor reads
============================================  =============================================
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from overthink._version import __version__
from overthink.core import Record
from overthink.errors import ConfigError
from overthink.experiment.store import STORE_FILE, Store

__all__ = ["SPAN_KIND_CLIENT", "record_span", "spans_document", "write_otel"]

SPAN_KIND_CLIENT = 3
_STATUS_OK, _STATUS_ERROR = 1, 2
_BATCH = 1000


def _value(value: Any) -> dict[str, Any]:
    """An OTLP ``AnyValue``."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _attrs(pairs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _value(v)} for k, v in pairs.items() if v is not None]


def _provider(model: str) -> str:
    head, sep, _ = model.partition("/")
    return head if sep else "overthink"


def _quality(rec: Record) -> float | None:
    """The score as a quality in [0, 1] (accuracy and safe-answer rate), else None:
    a regression score is an error, not a quality."""
    if rec.score is None or rec.kind == "regression" or not 0.0 <= rec.score <= 1.0:
        return None
    return float(rec.score)


def record_span(rec: Record) -> dict[str, Any]:
    """One OTLP span (JSON encoding) for a record."""
    trace = hashlib.sha256(f"{rec.run}/{rec.task}/{rec.sample_id}".encode()).hexdigest()[:32]
    span = hashlib.sha256(f"{rec.run}/{rec.trial_id}".encode()).hexdigest()[:16]
    end_ns = int(rec.created_at * 1e9)
    start_ns = end_ns - int(max(rec.latency_s, 0.0) * 1e9)
    known = rec.reasoning_tokens >= 0 and rec.answer_tokens >= 0
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": _provider(rec.model),
        "gen_ai.request.model": rec.model,
        "gen_ai.response.model": rec.model,
        "gen_ai.response.id": rec.trial_id,
        "gen_ai.response.finish_reasons": [rec.finish_reason] if rec.finish_reason else None,
        "gen_ai.request.seed": rec.seed,
        "gen_ai.usage.input_tokens": rec.prompt_tokens if rec.prompt_tokens >= 0 else None,
        "gen_ai.usage.output_tokens": rec.reasoning_tokens + rec.answer_tokens if known else None,
        "gen_ai.usage.reasoning.output_tokens": (
            rec.reasoning_tokens if rec.reasoning_tokens >= 0 else None
        ),
        "error.type": "overthink.trial_error" if rec.error else None,
        "overthink.run": rec.run,
        "overthink.task": rec.task,
        "overthink.sample_id": rec.sample_id,
        "overthink.sample_index": rec.sample_index,
        "overthink.strategy": rec.strategy,
        "overthink.segment": rec.task,
        "overthink.budget_mode": rec.budget_mode,
        # The monitor's convention: no budget_tokens for a natural (unlimited) budget.
        "overthink.budget_tokens": rec.budget_tokens if rec.budget_tokens >= 0 else None,
        "overthink.score": rec.score,
        "overthink.quality": _quality(rec),
        "overthink.answer": rec.answer,
        "overthink.target": rec.target,
        "overthink.truncated": rec.truncated_in_reasoning,
        "overthink.latency_s": rec.latency_s,
    }
    # Knobs: numeric ones are the monitor's covariates, the others its string tags.
    for key, value in rec.meta.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            attributes[f"overthink.covariate.{key}"] = float(value)
        elif isinstance(value, bool | str):
            attributes[f"overthink.tag.{key}"] = str(value)
    status: dict[str, Any] = {"code": _STATUS_OK}
    if rec.error:
        status = {"code": _STATUS_ERROR, "message": rec.error}
    return {
        "traceId": trace,
        "spanId": span,
        "name": f"chat {rec.model}",
        "kind": SPAN_KIND_CLIENT,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(end_ns),
        "attributes": _attrs(attributes),
        "status": status,
    }


def spans_document(spans: list[dict[str, Any]], run: str) -> dict[str, Any]:
    """An ``ExportTraceServiceRequest`` (JSON) holding ``spans``."""
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": _attrs({"service.name": "overthink", "overthink.run": run})
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "overthink", "version": __version__},
                        "spans": spans,
                    }
                ],
            }
        ]
    }


def _documents(run_dir: Path) -> Iterator[dict[str, Any]]:
    with Store.of_run(run_dir) as store:
        batch: list[dict[str, Any]] = []
        run = run_dir.name
        for rec in store.records():
            batch.append(record_span(rec))
            if len(batch) >= _BATCH:
                yield spans_document(batch, run)
                batch = []
        if batch:
            yield spans_document(batch, run)


def write_otel(run_dir: str | Path, out: IO[str]) -> int:
    """Write a run's records as OTLP-JSON lines (one request per line); returns spans."""
    run = Path(run_dir)
    if not (run / STORE_FILE).is_file():
        raise ConfigError(f"{run} is not a run folder (no {STORE_FILE} inside)")
    count = 0
    for doc in _documents(run):
        out.write(json.dumps(doc, ensure_ascii=False) + "\n")
        count += len(doc["resourceSpans"][0]["scopeSpans"][0]["spans"])
    return count
