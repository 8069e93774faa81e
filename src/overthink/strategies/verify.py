"""Run verifiers over stored samples and write their scores onto the records.

Where the scores go (``core.Record`` has one verifier slot, so several verifiers share it):

* ``resolved["verifiers"]`` — ``{name: score or None}`` for every verifier ever run on
  the record; ``resolved["verifier_details"]`` what each score was based on;
  ``resolved["verifier_errors"]`` why a verifier gave no score.
* ``verifier`` — the requested verifiers joined with ``+`` (``"rubric+judge"``);
  ``verifier_score`` — the mean of those that produced a score (None when none did).
  Every verifier scores "how likely is this sample right" on [0, 1], so a failed judge
  call leaves the sample ranked by the rest rather than dropped from best-of-N.

Scores are computed once: a stored score of a cacheable verifier is reused (a null one is
retried, like an errored trial). Verifier failures never raise; they are counted in the
:class:`VerifyReport` and surfaced as warnings.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from overthink.core import Record
from overthink.strategies.base import group_records
from overthink.strategies.verifiers.base import Verdict, Verifier, VerifierError

__all__ = ["VerifyReport", "combined_score", "verify_records"]

_REASON_CHARS = 120


@dataclass
class VerifyReport:
    """What one :func:`verify_records` call did, per verifier."""

    names: list[str] = field(default_factory=list)
    scored: Counter[str] = field(default_factory=Counter)
    """Scores computed by this call."""
    reused: Counter[str] = field(default_factory=Counter)
    """Stored scores reused without calling the verifier."""
    failed: Counter[str] = field(default_factory=Counter)
    """Records left with a null score."""
    reasons: dict[str, Counter[str]] = field(default_factory=dict)
    """Failure reasons per verifier (the most common ones are reported)."""
    errored_records: int = 0
    """Errored trials, which are not verified."""
    verifier_tokens: int = 0
    """Prompt + completion tokens model-based verifiers (the judge) spent in this call."""
    changed: list[str] = field(default_factory=list)
    """Trial ids whose stored record must be rewritten."""

    def warnings(self) -> list[str]:
        """One line per verifier that failed on some records."""
        out = []
        for name in self.names:
            n_failed = self.failed[name]
            if not n_failed:
                continue
            total = self.scored[name] + self.reused[name] + n_failed
            common = ", ".join(
                f"{reason} ×{count}" for reason, count in self.reasons[name].most_common(2)
            )
            out.append(
                f"verifier {name}: {n_failed} of {total} samples got no score (null) — {common}"
            )
        return out


def combined_score(scores: dict[str, Any], names: Sequence[str]) -> float | None:
    """Mean of the named verifiers' non-null scores (None when none scored)."""
    values = [float(scores[n]) for n in names if isinstance(scores.get(n), int | float)]
    return sum(values) / len(values) if values else None


async def _run_one(verifier: Verifier, record: Record, peers: Sequence[Record]) -> Verdict | str:
    """A verdict, or the reason there is none (verifier failures never propagate)."""
    try:
        verdict = await verifier.verify(record, peers)
    except VerifierError as exc:
        return str(exc)[:_REASON_CHARS] or "verifier error"
    except Exception as exc:  # an engine error or a bug in one verifier is data, not a crash
        return f"{type(exc).__name__}: {exc}"[:_REASON_CHARS]
    if not (math.isfinite(verdict.score) and 0.0 <= verdict.score <= 1.0):
        return f"score {verdict.score!r} outside [0, 1]"
    return verdict


async def verify_records(
    records: Sequence[Record],
    verifiers: Sequence[Verifier],
    *,
    concurrency: int = 8,
    on_record: Callable[[Record], None] | None = None,
) -> tuple[list[Record], VerifyReport]:
    """Score every usable single-sample record with every verifier.

    Returns the records in input order (updated copies where anything changed; strategy
    records and errored trials unchanged) and the report. ``concurrency`` bounds verifier
    calls in flight (the judge's engine applies its own limit too). ``on_record`` receives
    each changed record as soon as all its verifiers are done, so a caller can store it
    right away and an interrupted verification keeps what it finished.
    """
    names = [v.name for v in verifiers]
    report = VerifyReport(names=names, reasons={n: Counter() for n in names})
    groups, _ = group_records(records)
    peers_of = {r.trial_id: group for group in groups.values() for r in group}
    gate = asyncio.Semaphore(max(1, concurrency))
    out = list(records)
    changed: set[int] = set()

    async def run(verifier: Verifier, record: Record) -> Verdict | str:
        async with gate:
            return await _run_one(verifier, record, peers_of.get(record.trial_id, [record]))

    async def verify_one(i: int, record: Record) -> None:
        stored = record.resolved.get("verifiers") or {}
        todo = []
        for verifier in verifiers:
            if verifier.cacheable and isinstance(stored.get(verifier.name), int | float):
                report.reused[verifier.name] += 1
            else:
                todo.append(verifier)
        results = await asyncio.gather(*(run(v, record) for v in todo))
        updated = _apply(record, dict(zip((v.name for v in todo), results, strict=True)),
                         names, report)  # fmt: skip
        if updated != record:
            out[i] = updated
            changed.add(i)
            if on_record is not None:
                on_record(updated)

    jobs = []
    for i, record in enumerate(records):
        if record.strategy != "single":
            continue
        if record.error is not None:
            report.errored_records += 1
            continue
        jobs.append(verify_one(i, record))
    await asyncio.gather(*jobs)
    report.changed = [records[i].trial_id for i in sorted(changed)]
    return out, report


def _apply(
    record: Record, results: dict[str, Verdict | str], names: Sequence[str], report: VerifyReport
) -> Record:
    resolved = dict(record.resolved)
    scores = dict(resolved.get("verifiers") or {})
    details = dict(resolved.get("verifier_details") or {})
    errors = dict(resolved.get("verifier_errors") or {})
    for name, result in results.items():
        if isinstance(result, Verdict):
            scores[name] = result.score
            details[name] = result.detail
            errors.pop(name, None)
            report.scored[name] += 1
            report.verifier_tokens += int(result.detail.get("prompt_tokens", 0)) + int(
                result.detail.get("completion_tokens", 0)
            )
        else:
            scores[name] = None
            details.pop(name, None)
            errors[name] = result
            report.failed[name] += 1
            report.reasons[name][result] += 1
    resolved["verifiers"] = scores
    resolved["verifier_details"] = details
    if errors:
        resolved["verifier_errors"] = errors
    else:
        resolved.pop("verifier_errors", None)
    return record.model_copy(
        update={
            "resolved": resolved,
            "verifier": "+".join(names) if names else record.verifier,
            "verifier_score": combined_score(scores, names) if names else record.verifier_score,
        }
    )
