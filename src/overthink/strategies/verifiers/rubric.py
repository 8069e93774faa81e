"""``rubric``: rule-based checks declared per task; the score is the share that pass.

The score is passed / applicable checks, and 0 for a sample without an answer. No model
is called, so the rubric is free, deterministic and never sees the target: it rewards
well-formed, self-consistent answers, not correct ones.

Each task owns its rubric (``Task.rubric``, built from :mod:`overthink.tasks.rubric`);
any other task (``jsonl:`` files...) gets the default rubric of its answer kind
(:data:`~overthink.tasks.rubric.KIND_RUBRICS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from overthink.core import Record
from overthink.strategies.verifiers.base import Verdict, Verifier, VerifierError
from overthink.strategies.verifiers.registry import register_verifier
from overthink.tasks.registry import task_rubric
from overthink.tasks.rubric import FINISHED, KIND_RUBRICS, PRESENT, Check, answer_present

__all__ = ["RubricVerifier", "rubric_for"]


def rubric_for(record: Record) -> tuple[Check, ...]:
    """The checks that apply to a record's task (or to its answer kind)."""
    return task_rubric(record.task) or KIND_RUBRICS.get(record.kind, (PRESENT, FINISHED))


@register_verifier
class RubricVerifier(Verifier):
    """Share of the task's rubric checks that pass."""

    name: ClassVar[str] = "rubric"

    async def verify(self, record: Record, peers: Sequence[Record]) -> Verdict:
        """passed / applicable checks; the detail lists each check's outcome."""
        del peers  # the rubric looks at one sample only
        if not answer_present(record):
            # Nothing to check: the other rules would otherwise credit a well-finished
            # trace that ended in no answer at all.
            return Verdict(0.0, {"checks": {PRESENT.name: False}})
        outcomes = {c.name: c.test(record) for c in rubric_for(record)}
        applicable = [v for v in outcomes.values() if v is not None]
        if not applicable:
            raise VerifierError("no rubric check applies to this record")
        return Verdict(sum(applicable) / len(applicable), {"checks": outcomes})
