"""grades_regression: predict a student's grade (0–10) from lifestyle features.

The population comes from a documented generating model in which **only study hours
cause grades**. Every other feature is correlated with study hours (students who study
more sleep and socialise less, and are more stressed) but has no causal effect:

    z                      ~ N(0, 1)                      (diligence, latent)
    study_hours            = clip(5.0 + 1.6 z, 0.5, 10)
    sleep_hours            = clip(7.5 - 0.30 (study_hours - 5) + N(0, 0.6), 4, 10)
    stress_level           = clip(round(5 + 0.6 (study_hours - 5) + N(0, 1.2)), 1, 10)
    social_hours           = clip(3.0 - 0.35 (study_hours - 5) + N(0, 0.8), 0, 8)
    physical_activity_hours= clip(1.5 - 0.20 (study_hours - 5) + N(0, 0.6), 0, 5)
    extracurricular_hours  = clip(1.5 - 0.15 (study_hours - 5) + N(0, 0.6), 0, 5)
    grade                  = clip(INTERCEPT + 0.9 study_hours + N(0, NOISE_SD), 0, 10)

Features are shown rounded to one decimal; the grade too. A model that leans on sleep or
stress is following a spurious feature: the true weights (``TRUE_WEIGHTS``) are zero for
everything but ``study_hours``. The knob ``shots`` sets how many labelled students are
shown before the one to predict (the paper's 0/8/16/32/64). Score: absolute error.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from overthink.core import AnswerKind, Sample
from overthink.errors import ConfigError
from overthink.tasks.base import Knob, Task
from overthink.tasks.formats import number_instruction
from overthink.tasks.registry import register
from overthink.tasks.rubric import AGREES_NUMBER, FINISHED, ONE_NUMBER, PRESENT, in_range

__all__ = [
    "FEATURES",
    "FEATURE_LABELS",
    "INTERCEPT",
    "NOISE_SD",
    "TRUE_WEIGHTS",
    "GradesRegression",
    "Student",
    "population",
    "student",
]

FEATURES: tuple[str, ...] = (
    "study_hours",
    "sleep_hours",
    "stress_level",
    "social_hours",
    "physical_activity_hours",
    "extracurricular_hours",
)
"""Feature names; each is also a key of every sample's ``meta``."""

FEATURE_LABELS: dict[str, str] = {
    "study_hours": "Study hours per day",
    "sleep_hours": "Sleep hours per day",
    "stress_level": "Stress level (1-10)",
    "social_hours": "Social hours per day",
    "physical_activity_hours": "Physical activity hours per day",
    "extracurricular_hours": "Extracurricular hours per day",
}

TRUE_WEIGHTS: dict[str, float] = {
    "study_hours": 0.9,
    "sleep_hours": 0.0,
    "stress_level": 0.0,
    "social_hours": 0.0,
    "physical_activity_hours": 0.0,
    "extracurricular_hours": 0.0,
}
"""Causal effect of one unit of each feature on the grade (only study hours matter)."""

INTERCEPT = 1.0
NOISE_SD = 0.5


def _clip(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


@dataclass(frozen=True)
class Student:
    """One generated student: the six features and the grade, as shown in prompts."""

    study_hours: float
    sleep_hours: float
    stress_level: float
    social_hours: float
    physical_activity_hours: float
    extracurricular_hours: float
    grade: float

    def features(self) -> dict[str, float]:
        """Feature name -> value (no grade)."""
        values = asdict(self)
        return {f: values[f] for f in FEATURES}

    def record(self, with_grade: bool) -> str:
        """The student as the lines shown in a prompt."""
        lines = [f"{FEATURE_LABELS[f]}: {_fmt(v)}" for f, v in self.features().items()]
        if with_grade:
            lines.append(f"Grade: {_fmt(self.grade)}")
        return "\n".join(lines)


def _fmt(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.1f}"


def student(rng: random.Random) -> Student:
    """Draw one student from the generating model (see the module docstring)."""
    z = rng.gauss(0.0, 1.0)
    study = round(_clip(5.0 + 1.6 * z, 0.5, 10.0), 1)
    dev = study - 5.0
    sleep = round(_clip(7.5 - 0.30 * dev + rng.gauss(0, 0.6), 4.0, 10.0), 1)
    stress = float(_clip(round(5.0 + 0.6 * dev + rng.gauss(0, 1.2)), 1, 10))
    social = round(_clip(3.0 - 0.35 * dev + rng.gauss(0, 0.8), 0.0, 8.0), 1)
    physical = round(_clip(1.5 - 0.20 * dev + rng.gauss(0, 0.6), 0.0, 5.0), 1)
    extra = round(_clip(1.5 - 0.15 * dev + rng.gauss(0, 0.6), 0.0, 5.0), 1)
    # The grade depends on the *shown* study hours only, so a regression on the prompt's
    # numbers recovers TRUE_WEIGHTS exactly in expectation.
    grade = round(
        _clip(INTERCEPT + TRUE_WEIGHTS["study_hours"] * study + rng.gauss(0, NOISE_SD), 0.0, 10.0),
        1,
    )
    return Student(study, sleep, stress, social, physical, extra, grade)


def population(n: int, seed: int) -> list[Student]:
    """``n`` students drawn independently from the generating model."""
    return [student(random.Random(f"grades:{seed}:pop:{j}")) for j in range(n)]


_INTRO = (
    "Each record below describes a university student's daily lifestyle and their final "
    "grade on a scale from 0 to 10."
)


@register
class GradesRegression(Task):
    """Predict a grade from lifestyle features; only study hours truly matter."""

    name = "grades_regression"
    rubric = (PRESENT, ONE_NUMBER, in_range(0, 10), FINISHED, AGREES_NUMBER)
    known_weights = TRUE_WEIGHTS
    description = "Predict a student's grade (0-10) from lifestyle features; score = |error|."
    knobs = (Knob("shots", (0, 8, 16, 32, 64), "labelled example students shown", minimum=0),)
    answer_kind = AnswerKind.REGRESSION

    def samples(self, n: int, seed: int, **levels: Any) -> list[Sample]:
        """``n`` students to predict, each after ``shots`` labelled examples."""
        shots = self.resolve_levels(levels)["shots"]
        if n < 0:
            raise ConfigError("n must be >= 0")
        out = []
        for i in range(n):
            # The target student and the m-th example depend on (seed, i[, m]) only, so
            # the 8-shot prompt's examples are the first 8 of the 16-shot prompt's.
            target = student(random.Random(f"{self.name}:{seed}:{i}"))
            examples = [
                student(random.Random(f"{self.name}:{seed}:{i}:shot{m}")) for m in range(shots)
            ]
            parts = []
            if examples:
                parts.append(_INTRO)
                parts.extend(
                    f"Record {m + 1}:\n{ex.record(with_grade=True)}"
                    for m, ex in enumerate(examples)
                )
                parts.append("Predict the grade of this student:")
            else:
                parts.append(
                    "Predict the final grade, on a scale from 0 to 10, of a university "
                    "student with this daily lifestyle:"
                )
            parts.append(target.record(with_grade=False))
            parts.append(number_instruction(what="a single number between 0 and 10"))
            out.append(
                Sample(
                    id=f"gr-{seed}-{i}-s{shots}",
                    task=self.name,
                    prompt="\n\n".join(parts),
                    target=_fmt(target.grade),
                    kind=AnswerKind.REGRESSION,
                    meta={"shots": shots, "question": i, **target.features()},
                )
            )
        return out
