"""The Task protocol: a named, seeded generator of Samples plus how to score answers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from overthink.core import AnswerKind, Sample
from overthink.tasks import extract

__all__ = ["Knob", "Task"]


@dataclass(frozen=True)
class Knob:
    """A task's difficulty knob: the third axis of every analysis."""

    name: str
    default: tuple[Any, ...]
    """Levels swept when the user does not choose any."""
    description: str
    kind: type = int
    """Type each level is parsed to from the CLI (``-T name=1,2,3``)."""
    choices: tuple[Any, ...] | None = None
    """Allowed levels, when the knob is categorical."""

    def parse(self, text: str) -> Any:
        """Parse one level from text, with an error naming the knob and what is accepted."""
        raw = text.strip()
        try:
            value = self.kind(raw)
        except (TypeError, ValueError):
            raise ValueError(
                f"knob {self.name!r}: {raw!r} is not a valid {self.kind.__name__}"
            ) from None
        if self.choices is not None and value not in self.choices:
            accepted = ", ".join(str(c) for c in self.choices)
            raise ValueError(f"knob {self.name!r}: {raw!r} is not one of {accepted}")
        return value


class Task(ABC):
    """Base class for tasks. Subclasses set ``name``, ``description``, ``knobs``.

    ``samples`` must be deterministic: the same ``n``, ``seed`` and knob levels give the
    same Samples, byte for byte.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    knobs: ClassVar[tuple[Knob, ...]] = ()

    @abstractmethod
    def samples(self, n: int, seed: int, **levels: Any) -> list[Sample]:
        """Return ``n`` samples for one setting of the knobs (one value per knob)."""

    def extract(self, sample: Sample, text: str) -> str | None:
        """Parse the model's answer from its response text (None when unparseable)."""
        return extract.extract_answer(text, sample.kind, sample.choices)

    def score(self, sample: Sample, answer: str | None) -> float | None:
        """Score a parsed answer: 1/0 for accuracy, absolute error for regression.

        Returns None for an unparseable regression answer (excluded and counted by the
        analysis); an unparseable accuracy answer scores 0.
        """
        return extract.score_answer(answer, sample.target, sample.kind)

    def knob(self, name: str) -> Knob:
        """Look up a knob by name, with an error listing the task's knobs."""
        for k in self.knobs:
            if k.name == name:
                return k
        accepted = ", ".join(k.name for k in self.knobs) or "none"
        raise ValueError(f"task {self.name!r} has no knob {name!r} (knobs: {accepted})")

    def default_levels(self) -> dict[str, tuple[Any, ...]]:
        """Each knob's default sweep."""
        return {k.name: k.default for k in self.knobs}


def answer_kind_of(sample: Sample) -> AnswerKind:
    """The answer kind of a sample (kept as a function for symmetry with loaders)."""
    return sample.kind
