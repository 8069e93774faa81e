"""The Task protocol: a named, seeded generator of Samples plus how to score answers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from overthink.core import AnswerKind, Sample
from overthink.errors import ConfigError
from overthink.tasks import extract
from overthink.tasks.rubric import Check

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
    minimum: int | None = None
    """Smallest allowed level for integer knobs (e.g. 0 distractors)."""
    maximum: int | None = None
    """Largest allowed level for integer knobs (e.g. an 8x8 zebra grid)."""

    def parse(self, text: str) -> Any:
        """Parse one level from text, with an error naming the knob and what is accepted."""
        raw = text.strip()
        try:
            value = self.kind(raw)
        except (TypeError, ValueError):
            raise ConfigError(
                f"knob {self.name!r}: {raw!r} is not a valid {self.kind.__name__} "
                f"(accepted: {self.accepted})"
            ) from None
        return self.check(value)

    def check(self, value: Any) -> Any:
        """Validate an already-typed level; returns it unchanged or raises ConfigError."""
        if self.choices is not None and value not in self.choices:
            accepted = ", ".join(str(c) for c in self.choices)
            raise ConfigError(f"knob {self.name!r}: {value!r} is not one of {accepted}")
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f"knob {self.name!r}: {value!r} is below the minimum {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(f"knob {self.name!r}: {value!r} is above the maximum {self.maximum}")
        return value

    @property
    def accepted(self) -> str:
        """Human description of the accepted levels, for listings and errors."""
        if self.choices is not None:
            return " | ".join(str(c) for c in self.choices)
        lo = "" if self.minimum is None else str(self.minimum)
        hi = "" if self.maximum is None else str(self.maximum)
        if lo or hi:
            return f"{self.kind.__name__} {lo}..{hi}"
        return self.kind.__name__


class Task(ABC):
    """Base class for tasks. Subclasses set ``name``, ``description``, ``knobs``.

    ``samples`` must be deterministic: the same ``n``, ``seed`` and knob levels give the
    same Samples, byte for byte. Every sample's ``meta`` holds each knob's level under the
    knob's name, so knobs become analysis axes.
    """

    # Plain (not ClassVar) so a file-backed task can carry its own name per instance.
    name: str
    description: str
    knobs: ClassVar[tuple[Knob, ...]] = ()
    answer_kind: AnswerKind | None = None
    """The kind of every sample, when the task has a single kind (None = mixed)."""
    rubric: ClassVar[tuple[Check, ...]] = ()
    """The checks the ``rubric`` verifier runs on this task's records (empty: the default
    rubric of the answer kind, :data:`overthink.tasks.rubric.KIND_RUBRICS`)."""
    known_weights: ClassVar[Mapping[str, float] | None] = None
    """True generating weights of the features each sample carries in its ``meta``, for
    tasks whose ground truth is a known linear model: the analysis then measures how far
    the model's implied weights drift towards the spurious ones (``analysis.drift``)."""

    @property
    def available(self) -> int | None:
        """How many samples the task holds at most (None: it generates any number).

        Finite sources (files) override this; a run asking for more uses what there is
        and says so.
        """
        return None

    @abstractmethod
    def samples(self, n: int, seed: int, **levels: Any) -> list[Sample]:
        """Return ``n`` samples for one setting of the knobs (one value per knob).

        Finite data sets (built-in item banks, files) return at most what they hold.
        """

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
        raise ConfigError(f"task {self.name!r} has no knob {name!r} (knobs: {accepted})")

    def default_levels(self) -> dict[str, tuple[Any, ...]]:
        """Each knob's default sweep."""
        return {k.name: k.default for k in self.knobs}

    def resolve_levels(self, levels: dict[str, Any]) -> dict[str, Any]:
        """One level per knob: the given ones (validated) plus each knob's first default.

        Unknown knob names raise ConfigError, so a typo never silently runs the default.
        """
        for name in levels:
            self.knob(name)
        out: dict[str, Any] = {}
        for k in self.knobs:
            value = levels[k.name] if k.name in levels else k.default[0]
            if isinstance(value, str) and k.kind is not str:
                value = k.parse(value)
            out[k.name] = k.check(value)
        return out
