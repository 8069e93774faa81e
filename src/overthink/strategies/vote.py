"""Choosers: pick one sample of a group by position, vote, verifier score or weighted vote.

Pure functions over a group's records (in sample order); no generation, no I/O.

Rules, stated once so the records and the docs agree:

* Errored samples (``error`` set) never vote and are never chosen.
* Samples without a parsed answer do not vote (they can still be the *first* sample, or
  the best-scored one, and then the strategy's answer is None — a wrong answer).
* **Ties** go to the class (or sample) that appears first in sample order. Samples are
  i.i.d. draws, so every tied class is equally likely to own the earliest position: in
  distribution this is a uniformly random tie-break (what the pool estimators assume),
  but it is reproducible. Every tie is flagged on the record and counted.
* ``best_of_n`` and ``weighted`` use ``verifier_score``; samples without one (the
  verifier failed) are left out. A group where *no* sample has a score falls back to
  ``majority`` — flagged and counted, never silent.
* ``weighted``: a class's weight is the sum of its samples' scores. When every scored
  sample scored 0 all classes tie at 0 and the tie rule picks the earliest answered
  sample; the pool estimator ``weighted@k`` values such a subset the same way (each
  answered sample equally likely to be the earliest).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from overthink.core import Record
from overthink.strategies.base import StrategyName
from overthink.strategies.registry import Strategy, get_strategy, register_strategy
from overthink.tasks.extract import answer_key

__all__ = ["Choice", "best_of_n", "choose", "first", "majority", "weighted"]

# Sums of float scores within this relative distance count as equal (a tie), so that
# 0.1 + 0.2 and 0.3 are not told apart by rounding.
_REL_TOL = 1e-9


@dataclass(frozen=True)
class Choice:
    """What a chooser picked and why."""

    index: int | None
    """Position of the chosen record in the group (None: every sample errored)."""
    tally: dict[str, float] = field(default_factory=dict)
    """Votes (majority) or summed scores (weighted) per answer class."""
    tie: bool = False
    """The top of the tally (or the best score) was shared."""
    tied: tuple[str, ...] = ()
    """The answer classes (or sample indexes, for best_of_n) that tied at the top."""
    fallback: str | None = None
    """The rule used instead when the strategy's own input was missing."""
    voters: int = 0
    """Samples that took part (voted, or had a score for best_of_n)."""


def _usable(group: Sequence[Record]) -> list[int]:
    return [i for i, r in enumerate(group) if r.error is None]


def _top(tally: dict[str, float]) -> list[str]:
    """Classes whose tally equals the maximum (within float tolerance), in tally order."""
    best = max(tally.values())
    cut = best - _REL_TOL * max(1.0, abs(best))
    return [c for c, v in tally.items() if v >= cut]


def _vote(group: Sequence[Record], weight: Callable[[Record], float | None]) -> Choice | None:
    """Weighted vote over answer classes; None when nobody votes.

    ``tally`` is filled in sample order, so "first in the tally" = "appears first".
    """
    tally: dict[str, float] = {}
    first_of: dict[str, int] = {}
    voters = 0
    for i in _usable(group):
        record = group[i]
        key = answer_key(record.answer, record.kind)
        w = weight(record)
        if key is None or w is None:
            continue
        voters += 1
        tally[key] = tally.get(key, 0.0) + w
        first_of.setdefault(key, i)
    if not tally:
        return None
    top = _top(tally)
    return Choice(
        index=first_of[top[0]], tally=tally, tie=len(top) > 1,
        tied=tuple(top) if len(top) > 1 else (), voters=voters,
    )  # fmt: skip


def first(group: Sequence[Record]) -> Choice:
    """The first usable sample: what one would get without any combination."""
    usable = _usable(group)
    return Choice(index=usable[0] if usable else None, voters=min(1, len(usable)))


def majority(group: Sequence[Record]) -> Choice:
    """Self-consistency: the most frequent normalised answer (ties: first to appear)."""
    found = _vote(group, lambda _: 1.0)
    if found is not None:
        return found
    # Nobody answered: the strategy's answer is "no answer" (scored as wrong).
    return Choice(index=first(group).index)


def best_of_n(group: Sequence[Record]) -> Choice:
    """The sample with the highest verifier score (ties: earliest sample)."""
    scored = [i for i in _usable(group) if group[i].verifier_score is not None]
    if not scored:
        return _fallback(group)
    scores = {i: float(group[i].verifier_score or 0.0) for i in scored}
    best = max(scores.values())
    cut = best - _REL_TOL * max(1.0, abs(best))
    top = [i for i in scored if scores[i] >= cut]
    return Choice(
        index=top[0], tie=len(top) > 1,
        tied=tuple(str(group[i].sample_index) for i in top) if len(top) > 1 else (),
        voters=len(scored),
    )  # fmt: skip


def weighted(group: Sequence[Record]) -> Choice:
    """Verifier-weighted vote: each class weighs the sum of its samples' scores."""
    if not any(r.error is None and r.verifier_score is not None for r in group):
        return _fallback(group)
    found = _vote(group, lambda r: r.verifier_score)
    if found is not None:
        return found
    # Scores exist but only on unanswered samples: nothing to vote for.
    return Choice(index=first(group).index)


def _fallback(group: Sequence[Record]) -> Choice:
    """No verifier score in the group: majority vote, flagged."""
    voted = majority(group)
    return Choice(
        index=voted.index, tally=voted.tally, tie=voted.tie, tied=voted.tied,
        fallback=StrategyName.MAJORITY.value, voters=voted.voters,
    )  # fmt: skip


def choose(name: str, group: Sequence[Record]) -> Choice:
    """Apply the strategy ``name`` to a group (records in sample order)."""
    return get_strategy(name).chooser(group)


# The built-in strategies, in the order they are applied and reported.
register_strategy(Strategy(StrategyName.FIRST, first, description="the first usable sample"))
register_strategy(
    Strategy(
        StrategyName.MAJORITY, majority, pool_estimator="maj@k",
        description="the most frequent normalised answer",
    )
)  # fmt: skip
register_strategy(
    Strategy(
        StrategyName.BEST_OF_N, best_of_n, needs_verifier=True, pool_estimator="best_of_k",
        description="the sample with the highest verifier score",
    )
)  # fmt: skip
register_strategy(
    Strategy(
        StrategyName.WEIGHTED, weighted, needs_verifier=True, pool_estimator="weighted@k",
        description="the answer with the largest summed verifier score",
    )
)  # fmt: skip
