"""``self_consistency``: how many of the *other* samples agree with this one.

Leave-one-out agreement: the share of the group's other usable samples (not errored)
whose answer falls in the same class (:func:`~overthink.tasks.extract.answer_key`).
Unanswered peers count as disagreeing, so a lone answer among silent samples scores low.
A sample with no answer scores 0. The score depends on the peers, so it is recomputed
each time rather than cached. As a weight, it turns ``weighted`` into a sharpened
majority vote (a class of size c weighs c·(c−1)/(n−1)) — a useful baseline that shares
majority voting's blind spot: a shared mistake agrees with itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from overthink.core import Record
from overthink.strategies.verifiers.base import Verdict, Verifier, VerifierError
from overthink.strategies.verifiers.registry import register_verifier
from overthink.tasks.extract import answer_key

__all__ = ["SelfConsistencyVerifier"]


@register_verifier
class SelfConsistencyVerifier(Verifier):
    """Agreement of a sample's answer with the group's other samples."""

    name: ClassVar[str] = "self_consistency"
    cacheable: ClassVar[bool] = False

    async def verify(self, record: Record, peers: Sequence[Record]) -> Verdict:
        """Share of usable peers with the same answer class."""
        others = [p for p in peers if p.error is None and p.trial_id != record.trial_id]
        if not others:
            raise VerifierError("no other sample of the question to compare with")
        mine = answer_key(record.answer, record.kind)
        if mine is None:
            return Verdict(0.0, {"agree": 0, "others": len(others)})
        agree = sum(answer_key(p.answer, p.kind) == mine for p in others)
        return Verdict(agree / len(others), {"agree": agree, "others": len(others)})
