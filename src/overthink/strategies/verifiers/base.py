"""The verifier protocol: a record (and its group's other samples) → a score in [0, 1].

A verifier signals that it could not score a record by raising :class:`VerifierError`
(any other exception is treated the same way by the caller): the record then gets a null
score for that verifier and the failure is counted and reported, never raised.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from overthink.core import Record

__all__ = ["Verdict", "Verifier", "VerifierError"]


class VerifierError(Exception):
    """A verifier could not produce a score for one record (the message says why)."""


@dataclass(frozen=True)
class Verdict:
    """A score and what it was based on (stored on the record for inspection)."""

    score: float
    """In [0, 1]; higher = more likely right."""
    detail: dict[str, Any] = field(default_factory=dict)
    """Checks passed, the judge's reply and token usage..."""


class Verifier(ABC):
    """Scores one sample. Subclasses set ``name`` and implement :meth:`verify`."""

    name: ClassVar[str]
    cacheable: ClassVar[bool] = True
    """A stored score can be reused. False when the score depends on the other samples
    of the group (which change while a run resumes), so it is recomputed every time."""

    @abstractmethod
    async def verify(self, record: Record, peers: Sequence[Record]) -> Verdict:
        """Score ``record``; ``peers`` are the other samples of its group.

        Raise :class:`VerifierError` when no score can be given.
        """

    def describe(self) -> dict[str, Any]:
        """Settings recorded with the run (prompt version, engine...)."""
        return {"name": self.name}
