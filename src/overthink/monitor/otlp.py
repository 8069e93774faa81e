"""OpenTelemetry GenAI spans (OTLP-JSON) as monitor events and labels.

Reads what the collector's ``file`` exporter writes (one ``ExportTraceServiceRequest`` or
``ExportLogsServiceRequest`` JSON object per line) and what an OTLP/HTTP JSON exporter
POSTs. Every common spelling of reasoning tokens maps to ``reasoning_tokens``:

* ``gen_ai.usage.reasoning.output_tokens`` (GenAI semantic conventions)
* ``gen_ai.usage.reasoning_tokens``, ``llm.usage.reasoning_tokens``
* ``llm.token_count.completion_details.reasoning`` (OpenInference)
* ``…completion_tokens_details.reasoning_tokens`` / ``…output_tokens_details.reasoning_tokens``
  (OpenAI usage objects, flattened under any prefix)
* ``…thinking_tokens`` (Anthropic extended-thinking usage as instrumentations report it)
* ``…thoughts_token_count`` / ``…thoughtsTokenCount`` (Gemini ``usage_metadata``)

Late labels come from ``gen_ai.evaluation.result`` events (span events or log records)
carrying ``gen_ai.response.id`` and ``gen_ai.evaluation.score.value`` (or a pass/fail
``gen_ai.evaluation.score.label``). The monitor's own fields ride on ``overthink.*``
attributes (``overthink.segment``, ``overthink.budget_tier``, ``overthink.assignment``,
``overthink.assignment_prob``, ``overthink.quality``, ``overthink.covariate.<name>``,
``overthink.tag.<name>``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from overthink.monitor.events import Label, MalformedInput, MonitorEvent, parse_item

__all__ = ["REASONING_KEYS", "is_otlp", "otlp_items", "otlp_line_items"]

REASONING_KEYS: tuple[str, ...] = (
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.reasoning_tokens",
    "llm.usage.reasoning_tokens",
    "llm.token_count.completion_details.reasoning",
)
"""Exact attribute names of reasoning tokens, in order of preference."""
REASONING_SUFFIXES: tuple[str, ...] = (
    "completion_tokens_details.reasoning_tokens",
    "output_tokens_details.reasoning_tokens",
    "thinking_tokens",
    "thoughts_token_count",
    "thoughtsTokenCount",
)
"""Attribute-name endings of reasoning tokens (provider usage objects, any prefix)."""
OUTPUT_KEYS = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "llm.usage.completion_tokens",
)
INPUT_KEYS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "llm.usage.prompt_tokens",
)
PROMPT_KEYS = ("overthink.prompt", "gen_ai.prompt", "gen_ai.input.messages", "input.value")
EVALUATION_EVENT = "gen_ai.evaluation.result"
_PASS = {"pass", "passed", "correct", "true", "yes", "good", "positive"}
_FAIL = {"fail", "failed", "incorrect", "false", "no", "bad", "negative"}


def is_otlp(obj: Any) -> bool:
    """Whether a decoded JSON object is an OTLP export request (spans or logs)."""
    return isinstance(obj, dict) and ("resourceSpans" in obj or "resourceLogs" in obj)


def _value(v: Any) -> Any:
    """Decode an OTLP ``AnyValue`` (intValue arrives as a string in OTLP-JSON)."""
    if not isinstance(v, dict):
        return v
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        return [_value(x) for x in (v["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in v:
        return _attrs((v["kvlistValue"] or {}).get("values", []))
    return None


def _attrs(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(items, list):
        raise MalformedInput("attributes: expected a list of {key, value}")
    for kv in items:
        if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
            raise MalformedInput("attributes: entry without a string key")
        try:
            out[kv["key"]] = _value(kv.get("value"))
        except (TypeError, ValueError) as exc:
            raise MalformedInput(f"attribute {kv['key']}: {exc}") from None
    return out


def _first(attrs: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if attrs.get(key) is not None:
            return attrs[key]
    return None


def _reasoning(attrs: dict[str, Any]) -> Any:
    found = _first(attrs, REASONING_KEYS)
    if found is not None:
        return found
    for key, value in attrs.items():
        if value is not None and key.endswith(REASONING_SUFFIXES):
            return value
    return None


def _is_genai(attrs: dict[str, Any]) -> bool:
    return any(k.startswith(("gen_ai.", "llm.", "overthink.")) for k in attrs)


def _nanos(value: Any) -> float | None:
    if value in (None, "", 0, "0"):
        return None
    try:
        return int(value) / 1e9
    except (TypeError, ValueError):
        raise MalformedInput(f"time: expected unix nanoseconds, got {value!r}") from None


def _quality(attrs: dict[str, Any]) -> float | None:
    score = attrs.get("gen_ai.evaluation.score.value")
    if isinstance(score, int | float) and not isinstance(score, bool):
        return float(score)
    label = attrs.get("gen_ai.evaluation.score.label")
    if isinstance(label, str):
        low = label.strip().lower()
        if low in _PASS:
            return 1.0
        if low in _FAIL:
            return 0.0
    raise MalformedInput(
        f"{EVALUATION_EVENT}: no numeric gen_ai.evaluation.score.value or pass/fail label"
    )


def _label(attrs: dict[str, Any], fallback_id: str | None, ts: float | None) -> Label:
    request_id = attrs.get("gen_ai.response.id") or fallback_id
    item = parse_item(
        {
            "kind": "label",
            "request_id": request_id,
            "quality": _quality(attrs),
            "ts": ts,
            "source": attrs.get("gen_ai.evaluation.name"),
        }
    )
    assert isinstance(item, Label)
    return item


def _span_event(
    span: dict[str, Any], resource: dict[str, Any]
) -> tuple[MonitorEvent | None, list[Label]]:
    attrs = _attrs(span.get("attributes") or [])
    labels: list[Label] = []
    response_id = attrs.get("gen_ai.response.id") or span.get("spanId")
    for ev in _list(span.get("events"), "span.events"):
        if isinstance(ev, dict) and ev.get("name") == EVALUATION_EVENT:
            ev_attrs = _attrs(ev.get("attributes", []))
            labels.append(_label(ev_attrs, response_id, _nanos(ev.get("timeUnixNano"))))
    if not _is_genai(attrs) or (_reasoning(attrs) is None and _first(attrs, OUTPUT_KEYS) is None):
        return None, labels  # not a model call (e.g. an HTTP span around it)
    finish = attrs.get("gen_ai.response.finish_reasons")
    if isinstance(finish, list):
        finish = finish[0] if finish else None
    merged = {**resource, **attrs}
    covariates = {
        k.removeprefix("overthink.covariate."): v
        for k, v in merged.items()
        if k.startswith("overthink.covariate.")
    }
    tags = {
        k.removeprefix("overthink.tag."): str(v)
        for k, v in merged.items()
        if k.startswith("overthink.tag.")
    }
    ts = _nanos(span.get("endTimeUnixNano")) or _nanos(span.get("startTimeUnixNano"))
    prompt = _first(attrs, PROMPT_KEYS)
    raw: dict[str, Any] = {
        "ts": ts,
        "request_id": response_id,
        "model": _first(attrs, ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name"))
        or "unknown",
        "segment": merged.get("overthink.segment") or "default",
        "tags": tags,
        "budget_tier": attrs.get("overthink.budget_tier"),
        "budget_tokens": attrs.get("overthink.budget_tokens"),
        "assignment": attrs.get("overthink.assignment") or "none",
        "assignment_prob": attrs.get("overthink.assignment_prob"),
        "reasoning_tokens": _reasoning(attrs) or 0,
        "output_tokens": _first(attrs, OUTPUT_KEYS) or 0,
        "prompt_tokens": _first(attrs, INPUT_KEYS),
        "finish_reason": finish,
        "truncated": bool(attrs.get("overthink.truncated", False)),
        "covariates": covariates,
        "quality": attrs.get("overthink.quality"),
        "prompt": prompt if isinstance(prompt, str) else None,
    }
    item = parse_item(raw)
    assert isinstance(item, MonitorEvent)
    return item, labels


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedInput(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _get(obj: Any, key: str, where: str) -> Any:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise MalformedInput(f"{where}: expected an object, got {type(obj).__name__}")
    return obj.get(key)


def otlp_items(obj: dict[str, Any]) -> Iterator[MonitorEvent | Label | MalformedInput]:
    """Events and labels in one OTLP export request; malformed parts are yielded as errors.

    One malformed span (or resource) never hides the others in the same request.
    """
    try:
        resource_spans = _list(obj.get("resourceSpans"), "resourceSpans")
        resource_logs = _list(obj.get("resourceLogs"), "resourceLogs")
    except MalformedInput as exc:
        yield exc
        return
    for rs in resource_spans:
        yield from _span_items(rs)
    for rl in resource_logs:
        yield from _log_items(rl)


def _span_items(rs: Any) -> Iterator[MonitorEvent | Label | MalformedInput]:
    """Events and labels of one ``resourceSpans`` entry."""
    try:
        resource = _attrs(
            _get(_get(rs, "resource", "resourceSpans[]"), "attributes", "resource") or []
        )
        scope_spans = _list(
            _get(rs, "scopeSpans", "resourceSpans[]")
            or _get(rs, "instrumentationLibrarySpans", "resourceSpans[]"),
            "scopeSpans",
        )
        spans = [
            sp for ss in scope_spans for sp in _list(_get(ss, "spans", "scopeSpans[]"), "spans")
        ]
    except MalformedInput as exc:
        yield exc
        return
    for span in spans:
        try:
            if not isinstance(span, dict):
                raise MalformedInput("span: expected an object")
            event, labels = _span_event(span, resource)
        except MalformedInput as exc:
            yield exc
            continue
        except (TypeError, ValueError, AttributeError) as exc:
            yield MalformedInput(f"span: {exc}")
            continue
        if event is not None:
            yield event
        yield from labels


def _log_items(rl: Any) -> Iterator[Label | MalformedInput]:
    """Evaluation labels of one ``resourceLogs`` entry."""
    try:
        records = [
            r
            for sl in _list(_get(rl, "scopeLogs", "resourceLogs[]"), "scopeLogs")
            for r in _list(_get(sl, "logRecords", "scopeLogs[]"), "logRecords")
        ]
    except MalformedInput as exc:
        yield exc
        return
    for record in records:
        try:
            if not isinstance(record, dict):
                raise MalformedInput("logRecord: expected an object")
            attrs = _attrs(record.get("attributes") or [])
            name = record.get("eventName") or attrs.get("event.name")
            if name != EVALUATION_EVENT:
                continue
            yield _label(attrs, None, _nanos(record.get("timeUnixNano")))
        except MalformedInput as exc:
            yield exc
        except (TypeError, ValueError, AttributeError) as exc:
            yield MalformedInput(f"logRecord: {exc}")


def otlp_line_items(line: str | bytes) -> Iterator[MonitorEvent | Label | MalformedInput]:
    """Decode one OTLP-JSON line (collector file exporter) into items or errors."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        yield MalformedInput(f"bad JSON: {exc}".splitlines()[0])
        return
    if not is_otlp(obj):
        yield MalformedInput("expected an OTLP export request (resourceSpans/resourceLogs)")
        return
    yield from otlp_items(obj)
