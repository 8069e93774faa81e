"""The sample browser's data: every record, compacted to fit a byte budget, as safe JSON.

The page renders records client-side from this payload (``textContent`` only, never
``innerHTML``), so model and task text is never parsed as HTML. Three things keep a
50,000-record run within the report's size limit:

* the payload is columnar (one list per field), so field names are not repeated per record;
* repeated strings (task, model, budget, meta, finish reason, and the prompt, which every
  budget and sample of a question shares) are stored once and referenced by index;
* long texts are shortened by "water-filling": one character cap is chosen so that the
  whole payload fits ``max_bytes``; texts under the cap are kept whole and longer ones keep
  their head and tail around a short note (the store keeps every text in full).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from overthink.report.style import budget_labels

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FIELDS",
    "STATUS",
    "BrowserData",
    "browser_data",
    "choose_cap",
    "safe_json",
    "shorten",
]

DEFAULT_MAX_BYTES = 15_000_000
"""Size of the sample browser's JSON when the caller gives no budget."""

_MIN_CAP = 80
# The first few records of each (task, model, budget, outcome) keep up to this many
# characters per text, from at most this share of the budget.
_PRIORITY_PER_GROUP = 4
_PRIORITY_CAP = 10_000
_PRIORITY_SHARE = 0.2
# The tail of a reasoning trace is where the answer forms, so it gets the larger share.
_HEAD_SHARE = 0.4
_MAX_PASSES = 5

FIELDS: tuple[str, ...] = (
    "task",
    "model",
    "budget",
    "strategy",
    "sample_id",
    "sample_index",
    "prompt",
    "meta",
    "reasoning",
    "response",
    "answer",
    "target",
    "score",
    "status",
    "flags",
    "reasoning_tokens",
    "answer_tokens",
    "prompt_tokens",
    "latency_s",
    "finish_reason",
    "error",
    "kind",
)
"""Fields of the payload's ``columns`` (the page's script reads them by name)."""

INTERNED: tuple[str, ...] = (
    "task",
    "model",
    "budget",
    "strategy",
    "prompt",
    "meta",
    "finish_reason",
    "kind",
)
"""Fields stored as indexes into ``tables[field]``."""

STATUS: tuple[str, ...] = ("correct", "wrong", "scored", "unparsed", "error", "unscored")
"""Status codes, by index: what the "correct?" filter offers."""

FLAG_TRUNCATED = 1
FLAG_EMPTY = 2
FLAG_VIOLATION = 4
FLAG_WHOLE = 8
"""The record's reasoning and response are shown in full (not shortened)."""


@dataclass(frozen=True)
class BrowserData:
    """The payload, its JSON, and what had to be shortened to fit."""

    payload: dict[str, Any]
    json: str
    """``safe_json(payload)``, ready to embed."""
    cap: int | None
    """Character cap applied to long texts, or None when everything fits whole."""
    shortened: int
    """How many texts were shortened."""
    priority_cap: int | None = None
    """Cap of the few records per cell that keep more text (None: theirs are whole)."""


def choose_cap(lengths: np.ndarray, budget: int, overhead: int = 0) -> int | None:
    """Largest per-text cap so that the kept characters fit ``budget`` (None = no cap needed).

    A shortened text costs ``cap + overhead`` (its note); a short one its own length.
    """
    if lengths.size == 0 or int(lengths.sum()) <= budget:
        return None

    def cost(cap: int) -> int:
        return int(np.where(lengths > cap, cap + overhead, lengths).sum())

    lo, hi = 0, int(lengths.max())
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if cost(mid) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return max(lo, _MIN_CAP)


def _note(omitted: int) -> str:
    return f"\n[… {omitted:,} characters cut …]\n"


# What a note costs in the JSON: "…" is 3 bytes of UTF-8 and each newline 2 escaped.
_NOTE_LEN = len(json.dumps(_note(10_000), ensure_ascii=False).encode("utf-8")) - 2


def shorten(text: str, cap: int | None) -> str:
    """Keep ``text`` whole if it fits ``cap``, else its head and tail around a short note.

    A text that would not get shorter by the cut (within a note's length of the cap) is
    kept whole.
    """
    if cap is None or len(text) <= cap + _NOTE_LEN:
        return text
    head = int(cap * _HEAD_SHARE)
    tail = cap - head
    return text[:head] + _note(len(text) - cap) + text[len(text) - tail :]


def safe_json(value: Any) -> str:
    """JSON that can sit inside ``<script type="application/json">`` without ending it.

    Escaping every ``<``, ``>`` and ``&`` as ``\\u00XX`` means no ``</script>`` or
    ``<!--`` can appear, whatever the model wrote; JSON.parse restores the characters.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


# ---- column helpers: whole columns at once, since a run may hold 50,000+ records ----------


def _series(records: pd.DataFrame, name: str) -> pd.Series:
    if name in records.columns:
        return records[name]
    return pd.Series([None] * len(records), index=records.index, dtype=object)


def _texts(series: pd.Series) -> list[str]:
    """Strings, with None/NaN as ''."""
    return ["" if v is None or v != v else str(v) for v in series.tolist()]


def _opt_texts(series: pd.Series) -> list[str | None]:
    """Strings, with None/NaN kept as None (e.g. no parsed answer)."""
    return [None if v is None or v != v else str(v) for v in series.tolist()]


def _numbers(series: pd.Series, digits: int | None = None) -> list[float | int | None]:
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    if digits is not None:
        values = np.round(values, digits)
    return [
        (int(v) if v.is_integer() else v) if math.isfinite(v) else None for v in values.tolist()
    ]


def _bools(series: pd.Series) -> np.ndarray:
    return series.fillna(False).astype(bool).to_numpy()


def _intern(values: list[str]) -> tuple[list[int], list[str]]:
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), sort=False)
    return codes.tolist(), [str(u) for u in uniques]


def _meta_value(value: Any) -> Any:
    if value is None or value != value:
        return None
    # A knob column holding NaN for other tasks turns into floats: show 4, not 4.0.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _meta_texts(records: pd.DataFrame) -> list[str]:
    """``k=v, k=v`` per record from the ``meta.<key>`` columns (or a ``meta`` dict column)."""
    cols = [c for c in records.columns if isinstance(c, str) and c.startswith("meta.")]
    if not cols and "meta" in records.columns:
        return [
            ", ".join(f"{k}={v}" for k, v in m.items()) if isinstance(m, dict) else ""
            for m in records["meta"].tolist()
        ]
    names = [c[5:] for c in cols]
    columns = [[_meta_value(v) for v in records[c].tolist()] for c in cols]
    cache: dict[tuple[Any, ...], str] = {}
    out: list[str] = []

    def render(key: tuple[Any, ...]) -> str:
        return ", ".join(f"{n}={v}" for n, v in zip(names, key, strict=True) if v is not None)

    for key in zip(*columns, strict=True) if columns else [()] * len(records):
        try:
            text = cache[key]
        except KeyError:
            text = cache[key] = render(key)
        except TypeError:  # an unhashable meta value (a list): render without caching
            text = render(key)
        out.append(text)
    return out


def _status(records: pd.DataFrame, answers: list[str | None]) -> list[int]:
    errors = _series(records, "error")
    has_error = (errors.notna() & (errors.astype(str) != "")).to_numpy()
    no_answer = np.array([a is None for a in answers], dtype=bool)
    score = pd.to_numeric(_series(records, "score"), errors="coerce").to_numpy(dtype=float)
    regression = (_series(records, "kind").astype(str) == "regression").to_numpy()
    code = np.where(score >= 1.0, STATUS.index("correct"), STATUS.index("wrong"))
    code = np.where(regression, STATUS.index("scored"), code)
    code = np.where(np.isnan(score), STATUS.index("unscored"), code)
    code = np.where(no_answer, STATUS.index("unparsed"), code)
    code = np.where(has_error, STATUS.index("error"), code)
    return [int(c) for c in code.tolist()]


def _fixed_columns(records: pd.DataFrame) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Every field except the long texts, plus the string tables."""
    n = len(records)
    if n and {"budget_mode", "budget_tokens"} <= set(records.columns):
        budgets = budget_labels(records).tolist()
    else:
        budgets = [""] * n
    strategy = _series(records, "strategy")
    sources: dict[str, list[str]] = {
        "task": _texts(_series(records, "task")),
        "model": _texts(_series(records, "model")),
        "budget": budgets,
        "strategy": _texts(strategy.where(strategy.notna(), "single")),
        "prompt": _texts(_series(records, "prompt")),
        "meta": _meta_texts(records),
        "finish_reason": _texts(_series(records, "finish_reason")),
        "kind": _texts(_series(records, "kind")),
    }
    columns: dict[str, Any] = {}
    tables: dict[str, list[str]] = {}
    for name in INTERNED:
        columns[name], tables[name] = _intern(sources[name])
    answers = _opt_texts(_series(records, "answer"))
    flags = (
        np.where(_bools(_series(records, "truncated_in_reasoning")), FLAG_TRUNCATED, 0)
        | np.where(_bools(_series(records, "empty_answer")), FLAG_EMPTY, 0)
        | np.where(_bools(_series(records, "budget_violation")), FLAG_VIOLATION, 0)
    )
    columns.update(
        sample_id=_texts(_series(records, "sample_id")),
        sample_index=_numbers(_series(records, "sample_index")),
        answer=answers,
        target=_texts(_series(records, "target")),
        score=_numbers(_series(records, "score"), 4),
        status=_status(records, answers),
        flags=[int(f) for f in flags.tolist()],
        reasoning_tokens=_numbers(_series(records, "reasoning_tokens")),
        answer_tokens=_numbers(_series(records, "answer_tokens")),
        prompt_tokens=_numbers(_series(records, "prompt_tokens")),
        latency_s=_numbers(_series(records, "latency_s"), 2),
    )
    return columns, tables


def _priority(columns: dict[str, Any]) -> np.ndarray:
    """The first few records of every (task, model, budget, outcome) cell: these keep long
    texts, so every cell of the run has some reasoning to read in full."""
    keys = pd.DataFrame({k: columns[k] for k in ("task", "model", "budget", "status")})
    first = keys.groupby(list(keys.columns), sort=False).cumcount() < _PRIORITY_PER_GROUP
    return first.to_numpy(dtype=bool)


def _cost(lengths: np.ndarray, cap: int | None) -> int:
    if cap is None:
        return int(lengths.sum())
    return int(np.where(lengths > cap, cap + _NOTE_LEN, lengths).sum())


def _caps(lengths: np.ndarray, priority: np.ndarray, budget: int) -> tuple[int | None, int | None]:
    """(cap of priority texts, cap of the rest) so that all texts fit ``budget`` bytes."""
    if int(lengths.sum()) <= budget:
        return None, None
    high = lengths[priority]
    uniform = choose_cap(lengths, budget, _NOTE_LEN)
    # Priority texts get a share of the budget, never less than an even split would give
    # them, and never more than they can use up to the priority cap.
    share = max(int(budget * _PRIORITY_SHARE), _cost(high, uniform))
    cap_high = choose_cap(high, min(share, _cost(high, _PRIORITY_CAP)), _NOTE_LEN)
    cap_low = choose_cap(lengths[~priority], budget - _cost(high, cap_high), _NOTE_LEN)
    return cap_high, cap_low


def _limit(cap: int | None) -> int:
    return int(np.iinfo(np.int64).max) if cap is None else cap


def _shorten_each(
    texts: Sequence[str | None], priority: np.ndarray, caps: tuple[int | None, int | None]
) -> list[Any]:
    """Each text shortened to its cap: ``caps[0]`` where ``priority``, else ``caps[1]``."""
    high, low = caps
    return [
        None if t is None else shorten(t, high if p else low)
        for t, p in zip(texts, priority.tolist(), strict=True)
    ]


def browser_data(records: pd.DataFrame, *, max_bytes: int = DEFAULT_MAX_BYTES) -> BrowserData:
    """Build the sample browser's payload from a records frame, within ``max_bytes`` of JSON.

    ``records`` is the frame from ``overthink.analysis.frame.records_frame`` (meta expanded
    into ``meta.<key>`` columns) or any frame with Record fields as columns; missing columns
    show as blanks. Only the long texts (prompt, reasoning, response, error) are shortened
    to fit, and the first few records of each (task, model, budget, outcome) keep much more
    of theirs than the rest; every record is always present.
    """
    columns, tables = _fixed_columns(records)
    prompts = tables["prompt"]
    reasonings = _texts(_series(records, "reasoning"))
    responses = _texts(_series(records, "response"))
    errors = _opt_texts(_series(records, "error"))
    texts = prompts + reasonings + responses + [e for e in errors if e is not None]
    # Bytes rather than characters: closer to what the JSON will weigh.
    lengths = np.array([len(t.encode("utf-8")) for t in texts], dtype=np.int64)
    record_priority = _priority(columns)
    prompt_priority = np.zeros(len(prompts), dtype=bool)
    prompt_priority[np.asarray(columns["prompt"], dtype=np.int64)[record_priority]] = True
    has_error = np.array([e is not None for e in errors], dtype=bool)
    priority = np.concatenate(
        [prompt_priority, record_priority, record_priority, record_priority[has_error]]
    )
    flags = columns["flags"]
    # The payload with every text emptied: what the JSON weighs before any text goes in.
    skeleton: dict[str, Any] = {
        "fields": list(FIELDS),
        "status": list(STATUS),
        "tables": {**tables, "prompt": [""] * len(prompts)},
        "columns": {
            **columns,
            "flags": [f | FLAG_WHOLE for f in flags],
            "reasoning": [""] * len(reasonings),
            "response": [""] * len(responses),
            "error": [None if e is None else "" for e in errors],
        },
        "cap": 1_000_000,
        "priority_cap": 1_000_000,
        "shortened": len(texts),
    }
    fixed = len(safe_json(skeleton).encode("utf-8"))
    budget = max(0, max_bytes - fixed)
    caps: tuple[int | None, int | None] = (None, None)
    text = ""
    payload: dict[str, Any] = {}
    shortened = 0
    # Characters are not bytes (UTF-8, JSON escapes), so measure and tighten if needed.
    for _ in range(_MAX_PASSES):
        caps = _caps(lengths, priority, budget)
        cap_high, cap_low = caps

        short_reasoning = _shorten_each(reasonings, record_priority, caps)
        short_response = _shorten_each(responses, record_priority, caps)
        whole = [
            flag | (FLAG_WHOLE if a == b and c == d else 0)
            for flag, a, b, c, d in zip(
                flags, short_reasoning, reasonings, short_response, responses, strict=True
            )
        ]
        limits = np.where(priority, _limit(cap_high), _limit(cap_low))
        shortened = int((lengths > limits).sum())
        payload = {
            "fields": list(FIELDS),
            "status": list(STATUS),
            "tables": {**tables, "prompt": _shorten_each(prompts, prompt_priority, caps)},
            "columns": {
                **columns,
                "flags": whole,
                "reasoning": short_reasoning,
                "response": short_response,
                "error": _shorten_each(errors, record_priority, caps),
            },
            "cap": cap_low,
            "priority_cap": cap_high,
            "shortened": shortened,
        }
        text = safe_json(payload)
        size = len(text.encode("utf-8"))
        if size <= max_bytes or cap_low == _MIN_CAP:
            break
        budget = int(budget * (max_bytes - fixed) / max(size - fixed, 1) * 0.97)
    return BrowserData(
        payload=payload, json=text, cap=caps[1], priority_cap=caps[0], shortened=shortened
    )
