"""Verifiers: score each sample in [0, 1] — ``rubric``, ``judge``, ``self_consistency``."""

from __future__ import annotations

from collections.abc import Sequence

from overthink.engines.base import Engine
from overthink.errors import ConfigError
from overthink.strategies.base import parse_names
from overthink.strategies.verifiers.base import Verdict, Verifier, VerifierError
from overthink.strategies.verifiers.judge import JudgeVerifier, parse_judge_score
from overthink.strategies.verifiers.rubric import Check, RubricVerifier, register_rubric
from overthink.strategies.verifiers.self_consistency import SelfConsistencyVerifier

__all__ = [
    "VERIFIER_NAMES",
    "Check",
    "JudgeVerifier",
    "RubricVerifier",
    "SelfConsistencyVerifier",
    "Verdict",
    "Verifier",
    "VerifierError",
    "make_verifiers",
    "parse_judge_score",
    "parse_verifiers",
    "register_rubric",
]

VERIFIER_NAMES = ("rubric", "judge", "self_consistency")
"""Every verifier, in the order they run."""


def parse_verifiers(value: str | Sequence[str] | None) -> list[str]:
    """Validated verifier names from ``"rubric,judge"`` or a list (ConfigError if unknown)."""
    return parse_names(value, VERIFIER_NAMES, "verifier")


def make_verifiers(
    names: Sequence[str], *, judge_engine: Engine | None = None, judge_max_tokens: int = 24
) -> list[Verifier]:
    """Build the named verifiers; ``judge`` needs ``judge_engine``."""
    out: list[Verifier] = []
    for name in parse_verifiers(list(names)):
        if name == "rubric":
            out.append(RubricVerifier())
        elif name == "self_consistency":
            out.append(SelfConsistencyVerifier())
        else:
            if judge_engine is None:
                raise ConfigError("the judge verifier needs an engine (--judge-model)")
            out.append(JudgeVerifier(judge_engine, max_tokens=judge_max_tokens))
    return out
