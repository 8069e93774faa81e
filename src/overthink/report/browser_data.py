"""The sample browser's data: every record, compacted to fit a size budget, as safe JSON.

The page renders rows client-side from this payload (``textContent`` only, never
``innerHTML``), so model and task text is never parsed as HTML. Two things keep a
50,000-record run under the report's size limit:

* repeated strings (task, model, budget, meta, finish reason, and the prompt, which is
  shared by every budget and sample of a question) are stored once and referenced by index;
* long texts are shortened by "water-filling": one character cap is chosen so that the
  total fits ``text_budget``; texts shorter than the cap are kept whole and longer ones keep
  their head and tail with a note saying how much was left out (the store has it all).
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from overthink.report.plots import budget_labels
from overthink.report.style import is_missing

__all__ = [
    "COLUMNS",
    "DEFAULT_TEXT_BUDGET",
    "STATUS",
    "BrowserData",
    "browser_data",
    "choose_cap",
    "safe_json",
    "shorten",
]

DEFAULT_TEXT_BUDGET = 11_000_000
"""Characters of prompt/reasoning/response text embedded in the page, in total."""

_MIN_CAP = 120
# The tail of a reasoning trace is where the answer forms, so it gets the larger share.
_HEAD_SHARE = 0.4

COLUMNS: tuple[str, ...] = (
    "task",
    "model",
    "budget",
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
    "strategy",
)
"""Order of the fields in each row of the payload (the page's script reads it)."""

STATUS: tuple[str, ...] = ("correct", "wrong", "scored", "unparsed", "error", "unscored")
"""Row status codes, by index: what the "correct?" filter offers."""

FLAG_TRUNCATED = 1
FLAG_EMPTY = 2
FLAG_VIOLATION = 4

_REGRESSION = "regression"
_INTERNED = ("task", "model", "budget", "prompt", "meta", "finish_reason", "kind", "strategy")


@dataclass(frozen=True)
class BrowserData:
    """The payload and what had to be shortened to build it."""

    payload: dict[str, Any]
    cap: int | None
    """Character cap applied to long texts, or None when everything fits whole."""
    shortened: int
    """How many texts were shortened."""


def choose_cap(lengths: np.ndarray, budget: int) -> int | None:
    """Largest per-text cap so that ``sum(min(len, cap)) <= budget`` (None = no cap needed)."""
    if lengths.size == 0 or int(lengths.sum()) <= budget:
        return None
    lo, hi = 0, int(lengths.max())
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if int(np.minimum(lengths, mid).sum()) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return max(lo, _MIN_CAP)


def shorten(text: str, cap: int | None) -> str:
    """Keep ``text`` whole if it fits ``cap``, else its head and tail around a note."""
    if cap is None or len(text) <= cap:
        return text
    head = int(cap * _HEAD_SHARE)
    tail = cap - head
    omitted = len(text) - head - tail
    note = (
        f"\n\n[… {omitted:,} of {len(text):,} characters left out of the report to keep it "
        "small; the full text is in the run's store.sqlite …]\n\n"
    )
    return text[:head] + note + text[len(text) - tail :]


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


def _text(value: Any) -> str:
    return "" if is_missing(value) else str(value)


def _opt_text(value: Any) -> str | None:
    return None if is_missing(value) else str(value)


def _number(value: Any, digits: int | None = None) -> float | int | None:
    if is_missing(value):
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    if number.is_integer():
        return int(number)
    return round(number, digits) if digits is not None else number


def _meta_texts(records: pd.DataFrame) -> list[str]:
    cols = [c for c in records.columns if c.startswith("meta.")]
    if cols:
        out = []
        for row in records[cols].itertuples(index=False, name=None):
            bits = [f"{c[5:]}={v}" for c, v in zip(cols, row, strict=True) if not is_missing(v)]
            out.append(", ".join(bits))
        return out
    if "meta" in records.columns:
        return [
            ", ".join(f"{k}={v}" for k, v in m.items()) if isinstance(m, dict) else _text(m)
            for m in records["meta"]
        ]
    return [""] * len(records)


def _status(kind: str, score: Any, answer: Any, error: Any) -> int:
    if not is_missing(error):
        return STATUS.index("error")
    if is_missing(answer):
        return STATUS.index("unparsed")
    if is_missing(score):
        return STATUS.index("unscored")
    if kind == _REGRESSION:
        return STATUS.index("scored")
    return STATUS.index("correct") if float(score) >= 1.0 else STATUS.index("wrong")


def _flag(value: Any) -> bool:
    return not is_missing(value) and bool(value)


class _Interner:
    """Repeated strings stored once: each table maps a string to its index."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, int]] = {name: {} for name in _INTERNED}

    def __call__(self, table: str, value: Any) -> int:
        ids = self.tables[table]
        text = _text(value)
        if text not in ids:
            ids[text] = len(ids)
        return ids[text]

    def values(self, table: str) -> list[str]:
        return list(self.tables[table])


def _long_texts(rec: dict[Hashable, Any]) -> tuple[str, str, str | None]:
    return _text(rec.get("reasoning")), _text(rec.get("response")), _opt_text(rec.get("error"))


def browser_data(records: pd.DataFrame, *, text_budget: int = DEFAULT_TEXT_BUDGET) -> BrowserData:
    """Build the sample browser's payload from a records frame.

    ``records`` is the frame from ``overthink.analysis.frame.records_frame`` (meta expanded
    into ``meta.<key>`` columns) or any frame with Record fields as columns; missing
    columns show as blanks.
    """
    recs: list[dict[Hashable, Any]] = records.to_dict(orient="records")
    if recs and {"budget_mode", "budget_tokens"} <= set(records.columns):
        budgets = list(budget_labels(records))
    else:
        budgets = [""] * len(recs)
    metas = _meta_texts(records)
    intern = _Interner()
    prompt_ids = [intern("prompt", rec.get("prompt")) for rec in recs]
    texts = [_long_texts(rec) for rec in recs]
    lengths = np.array(
        [len(p) for p in intern.values("prompt")]
        + [len(t) for triple in texts for t in triple if t is not None],
        dtype=np.int64,
    )
    cap = choose_cap(lengths, text_budget)
    shortened = int((lengths > cap).sum()) if cap is not None else 0

    rows: list[list[Any]] = []
    for rec, budget, meta, prompt_id, (reasoning, response, error) in zip(
        recs, budgets, metas, prompt_ids, texts, strict=True
    ):
        answer = _opt_text(rec.get("answer"))
        kind = _text(rec.get("kind"))
        flags = (
            (FLAG_TRUNCATED if _flag(rec.get("truncated_in_reasoning")) else 0)
            | (FLAG_EMPTY if _flag(rec.get("empty_answer")) else 0)
            | (FLAG_VIOLATION if _flag(rec.get("budget_violation")) else 0)
        )
        row = {
            "task": intern("task", rec.get("task")),
            "model": intern("model", rec.get("model")),
            "budget": intern("budget", budget),
            "sample_id": _text(rec.get("sample_id")),
            "sample_index": _number(rec.get("sample_index")),
            "prompt": prompt_id,
            "meta": intern("meta", meta),
            "reasoning": shorten(reasoning, cap),
            "response": shorten(response, cap),
            "answer": answer,
            "target": _text(rec.get("target")),
            "score": _number(rec.get("score"), 4),
            "status": _status(kind, rec.get("score"), answer, error),
            "flags": flags,
            "reasoning_tokens": _number(rec.get("reasoning_tokens")),
            "answer_tokens": _number(rec.get("answer_tokens")),
            "prompt_tokens": _number(rec.get("prompt_tokens")),
            "latency_s": _number(rec.get("latency_s"), 2),
            "finish_reason": intern("finish_reason", rec.get("finish_reason")),
            "error": None if error is None else shorten(error, cap),
            "kind": intern("kind", kind),
            "strategy": intern("strategy", rec.get("strategy", "single")),
        }
        rows.append([row[c] for c in COLUMNS])
    tables = {name: intern.values(name) for name in _INTERNED}
    tables["prompt"] = [shorten(p, cap) for p in tables["prompt"]]
    payload = {
        "columns": list(COLUMNS),
        "status": list(STATUS),
        "tables": tables,
        "rows": rows,
        "cap": cap,
        "shortened": shortened,
    }
    return BrowserData(payload=payload, cap=cap, shortened=shortened)
