"""The report header: what ran, how big it was, what it cost, and what went wrong."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from overthink.analysis.cost import price_for
from overthink.core import VIOLATION_PERCENT
from overthink.formatting import is_missing
from overthink.report.style import budget_labels, budget_order

__all__ = ["Fact", "Notice", "Summary", "summarize"]


@dataclass(frozen=True)
class Fact:
    """One header line: a label and its value (plain text, escaped by the template)."""

    label: str
    value: str


@dataclass(frozen=True)
class Notice:
    """A problem worth a reader's attention, with how many records it touches."""

    text: str
    count: int | None = None
    severity: str = "warn"
    """``info``, ``warn`` or ``error`` (only styling)."""


@dataclass(frozen=True)
class Summary:
    """Everything the header shows."""

    title: str
    facts: list[Fact] = field(default_factory=list)
    warnings: list[Notice] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """The analysis's own warnings (per task and model): shown collapsed under the counts."""


def _join(values: Any) -> str | None:
    if values is None:
        return None
    if isinstance(values, str):
        return values
    if isinstance(values, Mapping):
        return ", ".join(str(k) for k in values)
    try:
        items = [str(v) for v in values]
    except TypeError:
        return str(values)
    return ", ".join(items) if items else None


def _when(epoch: Any) -> str | None:
    try:
        value = float(epoch)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    return dt.datetime.fromtimestamp(value, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: Any) -> str | None:
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    hours, rest = divmod(round(value), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{value:.1f} s"


def _unique(records: pd.DataFrame, col: str) -> list[str]:
    if col not in records.columns:
        return []
    return sorted({str(v) for v in records[col] if not is_missing(v)})


def _sum(records: pd.DataFrame, col: str) -> int:
    if col not in records.columns:
        return 0
    return int(pd.to_numeric(records[col], errors="coerce").fillna(0).sum())


def _count(records: pd.DataFrame, col: str) -> int:
    if col not in records.columns:
        return 0
    return int(records[col].fillna(False).astype(bool).sum())


def _truncation_counts(records: pd.DataFrame) -> tuple[int, int]:
    """(reasoning ate the output, cut at the cap with a forced answer) record counts.

    Same rule as :func:`overthink.reasoning.audit.audit_budgets`: generation with its own
    ``reasoning_cap`` gives the answer a separate request, so a cut inside thinking there
    is the budget working; only an empty answer means the output was eaten. Where one
    output limit covers thinking and answer, a cut with no parsed answer was eaten too.
    """
    n = len(records)
    if not n:
        return 0, 0

    def flag(col: str) -> np.ndarray:
        if col not in records.columns:
            return np.zeros(n, dtype=bool)
        return records[col].fillna(False).astype(bool).to_numpy()

    truncated = flag("truncated_in_reasoning")
    empty = flag("empty_answer")
    ok = records["error"].isna().to_numpy() if "error" in records.columns else np.ones(n, bool)
    if "resolved" in records.columns:
        own_cap = records["resolved"].astype(str).str.contains('"reasoning_cap"').to_numpy()
    else:
        own_cap = np.zeros(n, dtype=bool)
    no_answer = records["answer"].isna().to_numpy() if "answer" in records.columns else empty
    ate = ok & (empty | (truncated & ~own_cap & no_answer))
    capped = ok & truncated & ~ate
    return int(ate.sum()), int(capped.sum())


def _cost(
    manifest: Mapping[str, Any], records: pd.DataFrame, prices: Mapping[str, float] | None
) -> str:
    """The run's cost: the manifest's own figure if it has one, else tokens × known prices
    (input = prompt tokens, output = reasoning + answer tokens)."""
    for key in ("cost_usd", "cost"):
        value = manifest.get(key)
        if value is not None and not is_missing(value):
            try:
                return f"US${float(value):,.4f}"
            except (TypeError, ValueError):
                return str(value)
    if records.empty or "model" not in records.columns:
        return "—"
    total = 0.0
    unpriced: list[str] = []
    for model, sub in records.groupby("model", sort=True):
        price = price_for(str(model), prices)
        if price is None:
            unpriced.append(str(model))
            continue
        tokens_in = _sum(sub, "prompt_tokens")
        tokens_out = _sum(sub, "reasoning_tokens") + _sum(sub, "answer_tokens")
        total += (tokens_in * price[0] + tokens_out * price[1]) / 1e6
    if len(unpriced) == records["model"].nunique():
        return f"not priced: no price known for {', '.join(unpriced)} (pass --prices)"
    text = f"US${total:,.4f} at list prices per million tokens"
    if unpriced:
        text += f"; no price known for {', '.join(unpriced)}"
    return text


def _facts(
    records: pd.DataFrame,
    man: Mapping[str, Any],
    tool_version: str,
    prices: Mapping[str, float] | None,
) -> list[Fact]:
    """The header's facts, each from the manifest when it has it, else from the records."""
    n = len(records)
    facts: list[Fact] = []

    def add(label: str, value: str | None) -> None:
        if value:
            facts.append(Fact(label, value))

    add("Models", _join(man.get("models")) or _join(_unique(records, "model")))
    add("Tasks", _join(man.get("tasks")) or _join(_unique(records, "task")))
    budgets = _join(man.get("budgets"))
    if not budgets and n and {"budget_mode", "budget_tokens"} <= set(records.columns):
        budgets = ", ".join(sorted(set(budget_labels(records)), key=budget_order))
    add("Budgets", budgets)
    questions = (
        len(records.groupby(["task", "sample_id"], dropna=False))
        if n and {"task", "sample_id"} <= set(records.columns)
        else 0
    )
    per_q = int(records["sample_index"].max()) + 1 if n and "sample_index" in records.columns else 0
    add(
        "Samples",
        f"{n:,} records · {questions:,} questions · up to {per_q:,} samples per question "
        "and budget",
    )
    started = _when(man.get("started_at"))
    if started is None and "created_at" in records.columns and n:
        started = _when(pd.to_numeric(records["created_at"], errors="coerce").min())
    add("Date", started)
    add("Tool version", str(man.get("tool_version") or tool_version))
    prompt_t = _sum(records, "prompt_tokens")
    reason_t = _sum(records, "reasoning_tokens")
    answer_t = _sum(records, "answer_tokens")
    add(
        "Tokens",
        f"{prompt_t + reason_t + answer_t:,} total (prompt {prompt_t:,} · "
        f"reasoning {reason_t:,} · answer {answer_t:,})",
    )
    add("Cost", _cost(man, records, prices))
    wall = man.get("wall_s")
    finished = man.get("finished_at")
    if is_missing(wall) and finished is not None:
        try:
            wall = float(finished) - float(man.get("started_at") or 0)
        except (TypeError, ValueError):
            wall = None
    add("Wall time", _duration(wall))
    return facts


def _warnings(records: pd.DataFrame) -> list[Notice]:
    """Counted problems in the records, worst kinds last."""
    n = len(records)
    warnings: list[Notice] = []
    violations = _count(records, "budget_violation")
    if violations:
        warnings.append(
            Notice(
                "budget violations: reasoning exceeded the enforced budget by more than "
                f"{VIOLATION_PERCENT}",
                violations,
            )
        )
    ate, capped = _truncation_counts(records)
    if ate:
        warnings.append(
            Notice(
                "reasoning ate the output: no answer left after the thinking "
                "(empty, or one output limit hit inside the thinking)",
                ate,
            )
        )
    if capped:
        # Expected under forced budgets, so it is a note rather than a problem: the cut is
        # the experiment, and the answer was forced in its own request.
        warnings.append(
            Notice(
                "cut at the cap inside the thinking, answer forced afterwards",
                capped,
                severity="info",
            )
        )
    if n and "answer" in records.columns:
        no_error = records["error"].isna() if "error" in records.columns else True
        failures = int((records["answer"].isna() & no_error).sum())
        if failures:
            warnings.append(Notice("parse failures: no answer could be extracted", failures))
    errors = int(records["error"].notna().sum()) if "error" in records.columns else 0
    if errors:
        warnings.append(Notice("errors: the trial failed", errors, severity="error"))
    if not n:
        warnings.append(Notice("the run has no records yet", None, severity="error"))
    return warnings


def summarize(
    records: pd.DataFrame,
    manifest: Mapping[str, Any] | None,
    *,
    run_dir_name: str,
    tool_version: str,
    analysis_warnings: list[str] | None = None,
    prices: Mapping[str, float] | None = None,
) -> Summary:
    """Header facts and warnings from the records frame and the run manifest.

    Every manifest key is optional: what the manifest lacks is derived from the records
    (models, tasks, budgets) or left out.
    """
    man: Mapping[str, Any] = manifest if isinstance(manifest, Mapping) else {}
    title = str(man.get("name") or run_dir_name)
    facts = _facts(records, man, tool_version, prices)
    warnings = _warnings(records)
    notes = [str(text) for text in analysis_warnings or []]
    return Summary(title=title, facts=facts, warnings=warnings, notes=notes)
