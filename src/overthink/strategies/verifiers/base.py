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
from overthink.engines.base import Engine

__all__ = ["Verdict", "Verifier", "VerifierContext", "VerifierError"]


class VerifierError(Exception):
    """A verifier could not produce a score for one record (the message says why)."""


@dataclass(frozen=True)
class Verdict:
    """A score and what it was based on (stored on the record for inspection)."""

    score: float
    """In [0, 1]; higher = more likely right."""
    detail: dict[str, Any] = field(default_factory=dict)
    """Checks passed, the judge's reply and token usage..."""


@dataclass(frozen=True)
class VerifierContext:
    """What a verifier may need to be built (see :meth:`Verifier.create`)."""

    judge_engine: Engine | None = None
    """The engine of model-based verifiers (``--judge-model``)."""
    judge_max_tokens: int = 24
    """Output allowance of a model-based verifier's calls."""


class Verifier(ABC):
    """Scores one sample. Subclasses set ``name`` and implement :meth:`verify`."""

    name: ClassVar[str]
    cacheable: ClassVar[bool] = True
    """A stored score can be reused. False when the score depends on the other samples
    of the group (which change while a run resumes), so it is recomputed every time."""
    needs_engine: ClassVar[bool] = False
    """It calls a model (``context.judge_engine``): the CLI starts one for it."""

    @classmethod
    def create(cls, context: VerifierContext) -> Verifier:
        """Build the verifier for a run; the default takes no settings."""
        del context
        return cls()

    @abstractmethod
    async def verify(self, record: Record, peers: Sequence[Record]) -> Verdict:
        """Score ``record``; ``peers`` are the other samples of its group.

        Raise :class:`VerifierError` when no score can be given.
        """

    def describe(self) -> dict[str, Any]:
        """Settings recorded with the run (prompt version, engine...)."""
        return {"name": self.name}
