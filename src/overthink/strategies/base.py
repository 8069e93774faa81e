"""Shared vocabulary of parallel test-time compute: strategy names and groups.

Answer classes (what a vote counts) are :func:`overthink.tasks.extract.answer_key`.

A *group* is the N sampled records of one question at one budget on one model (they differ
only in ``sample_index`` and seed). Strategies pick one answer per group without new
generation; verifiers score each record of a group.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from overthink.core import Record
from overthink.errors import ConfigError

__all__ = [
    "GroupKey",
    "StrategyName",
    "group_records",
    "parse_names",
    "split_label",
    "strategy_label",
]


class StrategyName(StrEnum):
    """The built-in strategies (str-valued: records store the plain name).

    The registry (:mod:`overthink.strategies.registry`) is the open list: plugins add
    names beyond these.
    """

    FIRST = "first"
    MAJORITY = "majority"
    BEST_OF_N = "best_of_n"
    WEIGHTED = "weighted"


_LABEL = re.compile(r"^(?P<name>[a-z_]+)@(?P<n>\d+)$")


def strategy_label(name: str, n: int) -> str:
    """The ``strategy`` field of a strategy-level record, e.g. ``majority@8``."""
    return f"{name}@{n}"


def split_label(label: str) -> tuple[str, int] | None:
    """``"majority@8"`` → ``("majority", 8)``; None for ``single`` or anything else."""
    found = _LABEL.match(label)
    return (found["name"], int(found["n"])) if found else None


def parse_names(value: str | Sequence[str] | None, accepted: Sequence[str], what: str) -> list[str]:
    """Comma-separated or listed names, validated, de-duplicated, in the given order."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    out: list[str] = []
    for raw in items:
        name = raw.strip().lower().replace("-", "_")
        if not name:
            continue
        if name not in accepted:
            raise ConfigError(f"unknown {what} {raw.strip()!r} (accepted: {', '.join(accepted)})")
        if name not in out:
            out.append(name)
    return out


@dataclass(frozen=True, order=True)
class GroupKey:
    """What the N samples of one group share."""

    run: str
    task: str
    sample_id: str
    model: str
    budget_mode: str
    budget_tokens: int

    @classmethod
    def of(cls, record: Record) -> GroupKey:
        """The group a single-sample record belongs to."""
        return cls(
            record.run, record.task, record.sample_id, record.model,
            record.budget_mode, record.budget_tokens,
        )  # fmt: skip


def group_records(records: Iterable[Record]) -> tuple[dict[GroupKey, list[Record]], int]:
    """Single-sample records grouped per question and budget, each in sample order.

    Returns the groups and how many duplicate records were dropped: a run resumed with a
    changed config (say a new temperature) can hold two records with the same
    ``sample_index`` in one group; the newest one is kept.
    """
    latest: dict[tuple[GroupKey, int], Record] = {}
    dropped = 0
    for record in records:
        if record.strategy != "single":
            continue
        slot = (GroupKey.of(record), record.sample_index)
        seen = latest.get(slot)
        if seen is not None:
            dropped += 1
            if (seen.created_at, seen.trial_id) > (record.created_at, record.trial_id):
                continue
        latest[slot] = record
    groups: dict[GroupKey, list[Record]] = {}
    for (key, _), record in sorted(latest.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        groups.setdefault(key, []).append(record)
    return groups, dropped
