"""Apply strategies over each question's N samples, and verifiers + strategies to a store.

:func:`combine` is pure (records in, strategy records out). :func:`apply_to_store` is
what ``overthink run`` and ``overthink verify`` do after generation: score the stored
samples with the verifiers, rewrite the ones that changed, then write one strategy
record per (question, budget, strategy) — overwriting the previous version, so applying
twice changes nothing and a resumed run refreshes its strategy records.

Only complete groups are combined: a group with fewer samples than the others of its
(task, model, budget) — an interrupted run — is skipped and counted, so a "majority@8"
record always votes over 8 samples (errored ones included as non-voters).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from overthink.core import Record
from overthink.strategies.base import GroupKey, group_records, parse_names
from overthink.strategies.records import strategy_record
from overthink.strategies.registry import get_strategy, strategies, strategy_names
from overthink.strategies.verifiers.base import Verifier
from overthink.strategies.verify import VerifyReport, verify_records
from overthink.strategies.vote import choose

__all__ = [
    "ApplySummary",
    "RecordStore",
    "StrategyReport",
    "apply_to_store",
    "combine",
    "default_strategies",
    "parse_strategies",
]


def parse_strategies(value: str | Sequence[str] | None) -> list[str]:
    """Validated strategy names from ``"majority,weighted"`` or a list."""
    return parse_names(value, strategy_names(), "strategy")


def default_strategies(has_verifier: bool) -> list[str]:
    """Every strategy that can run: the verifier-based ones only with a verifier."""
    return [s.name for s in strategies() if has_verifier or not s.needs_verifier]


@dataclass
class StrategyReport:
    """What one :func:`combine` call did."""

    strategies: list[str] = field(default_factory=list)
    groups: int = 0
    """Complete groups combined."""
    incomplete: int = 0
    """Groups with fewer samples than their configuration's others (skipped)."""
    single_sample: int = 0
    """Groups of one sample: nothing to combine (skipped)."""
    duplicates: int = 0
    """Records dropped because their group already had that sample index."""
    records: int = 0
    """Strategy records produced."""
    ties: Counter[str] = field(default_factory=Counter)
    """Per strategy, choices decided by the tie rule."""
    fallbacks: Counter[str] = field(default_factory=Counter)
    """Per strategy, groups without any verifier score (majority vote used instead)."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Strategies not applied at all, with the reason."""

    def warnings(self) -> list[str]:
        """Human-readable lines for everything that did not go the plain way."""
        out = [f"strategy {name} not applied: {why}" for name, why in self.skipped.items()]
        if self.incomplete:
            out.append(
                f"strategies: {self.incomplete} question groups are missing samples "
                "(unfinished run?) and were not combined"
            )
        if self.duplicates:
            out.append(
                f"strategies: {self.duplicates} records share a group and sample index with "
                "a newer one (config changed between runs?); the newest was used"
            )
        for name in self.strategies:
            if self.ties[name] and self.groups:
                out.append(
                    f"strategy {name}: {self.ties[name]} of {self.groups} choices were ties, "
                    "broken by sample order"
                )
            if self.fallbacks[name]:
                out.append(
                    f"strategy {name}: {self.fallbacks[name]} groups had no verifier score; "
                    "majority vote used"
                )
        return out


def _expected_sizes(groups: dict[GroupKey, list[Record]]) -> dict[tuple[object, ...], int]:
    sizes: dict[tuple[object, ...], int] = {}
    for key, members in groups.items():
        cfg = (key.run, key.task, key.model, key.budget_mode, key.budget_tokens)
        sizes[cfg] = max(sizes.get(cfg, 0), len(members))
    return sizes


def combine(
    records: Iterable[Record], strategies: Sequence[str], *, n: int | None = None
) -> tuple[list[Record], StrategyReport]:
    """Strategy records for every complete group of single-sample records.

    ``n`` is the expected samples per group (``samples_per_question``); without it, each
    (task, model, budget)'s largest group sets the expectation.
    """
    names = parse_strategies(list(strategies))
    groups, dropped = group_records(records)
    report = StrategyReport(strategies=list(names), duplicates=dropped)
    scored = any(r.verifier_score is not None for g in groups.values() for r in g)
    if not scored:
        for name in names:
            if get_strategy(name).needs_verifier:
                report.skipped[name] = "no sample has a verifier score (use --verifier)"
    active = [s for s in names if s not in report.skipped]
    expected = _expected_sizes(groups)
    out: list[Record] = []
    for key, members in groups.items():
        want = n or expected[(key.run, key.task, key.model, key.budget_mode, key.budget_tokens)]
        if len(members) < want:
            report.incomplete += 1
            continue
        if len(members) < 2:
            report.single_sample += 1
            continue
        report.groups += 1
        for name in active:
            choice = choose(name, members)
            report.ties[name] += choice.tie
            report.fallbacks[name] += choice.fallback is not None
            out.append(strategy_record(members, name, choice))
    report.records = len(out)
    return out, report


class RecordStore(Protocol):
    """What :func:`apply_to_store` needs from a store (``experiment.store.Store`` fits)."""

    def records(self, *, strategy: str | None = None) -> Iterator[Record]:
        """Every stored record."""
        ...

    def replace(self, record: Record) -> None:
        """Insert or overwrite a record by trial id."""
        ...


@dataclass
class ApplySummary:
    """What :func:`apply_to_store` did."""

    verify: VerifyReport
    strategies: StrategyReport
    strategy_ids: list[str] = field(default_factory=list)
    """Trial ids of the strategy records of the selected samples."""
    written: int = 0
    """Records rewritten or added (verifier scores and strategy records that changed)."""

    def warnings(self) -> list[str]:
        """Verifier failures first, then strategy notes."""
        return [*self.verify.warnings(), *self.strategies.warnings()]


async def apply_to_store(
    store: RecordStore,
    *,
    verifiers: Sequence[Verifier],
    strategies: Sequence[str],
    trial_ids: set[str] | None = None,
    n: int | None = None,
    concurrency: int = 8,
) -> ApplySummary:
    """Verify the stored samples (``trial_ids`` only, if given) and write strategy records."""
    singles: list[Record] = []
    existing: dict[str, Record] = {}
    for record in store.records():
        if record.strategy != "single":
            existing[record.trial_id] = record
        elif trial_ids is None or record.trial_id in trial_ids:
            singles.append(record)
    written = 0
    if verifiers:
        # Each scored record is stored as soon as it is done: a long judge pass that is
        # interrupted resumes where it stopped.
        singles, verify_report = await verify_records(
            singles, verifiers, concurrency=concurrency, on_record=store.replace
        )
        written += len(verify_report.changed)
    else:
        verify_report = VerifyReport()
    if strategies:
        combined, strategy_report = combine(singles, strategies, n=n)
    else:  # verifiers only (e.g. one sample per question): nothing to combine
        combined, strategy_report = [], StrategyReport()
    for record in combined:
        if existing.get(record.trial_id) != record:
            store.replace(record)
            written += 1
    return ApplySummary(
        verify=verify_report,
        strategies=strategy_report,
        strategy_ids=[r.trial_id for r in combined],
        written=written,
    )
