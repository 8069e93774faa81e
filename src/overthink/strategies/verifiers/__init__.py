"""Verifiers: score each sample in [0, 1] — ``rubric``, ``judge``, ``self_consistency``.

Each verifier registers itself with :func:`register_verifier`; names come from
:func:`verifier_names`.
"""

# ruff: isort: skip_file
from __future__ import annotations

# First: the built-ins register in the order they run (rubric, judge, self_consistency).
from overthink.strategies.verifiers import builtin as _builtin  # noqa: F401
from overthink.strategies.verifiers.base import Verdict, Verifier, VerifierContext, VerifierError
from overthink.strategies.verifiers.judge import JudgeVerifier, parse_judge_score
from overthink.strategies.verifiers.registry import (
    make_verifiers,
    parse_verifiers,
    register_verifier,
    verifier_class,
    verifier_names,
)
from overthink.strategies.verifiers.rubric import RubricVerifier
from overthink.strategies.verifiers.self_consistency import SelfConsistencyVerifier
from overthink.tasks.rubric import Check

__all__ = [
    "Check",
    "JudgeVerifier",
    "RubricVerifier",
    "SelfConsistencyVerifier",
    "Verdict",
    "Verifier",
    "VerifierContext",
    "VerifierError",
    "make_verifiers",
    "parse_judge_score",
    "parse_verifiers",
    "register_verifier",
    "verifier_class",
    "verifier_names",
]
