"""Parallel test-time compute: N samples per question, combined without new generation.

Strategies (:mod:`~overthink.strategies.vote`): ``first``, ``majority`` (self-consistency
over normalised answers), ``best_of_n`` (highest verifier score) and ``weighted``
(verifier-weighted vote). Each writes strategy-level records (``strategy="majority@8"``)
that analysis treats as configurations, priced at the total cost of their N samples.

Verifiers (:mod:`~overthink.strategies.verifiers`): ``rubric`` (rule checks per task),
``judge`` (LLM-as-judge through any engine) and ``self_consistency`` (leave-one-out
agreement). Their scores are stored on the sample records and reused.
"""

from overthink.strategies.apply import (
    ApplySummary,
    StrategyReport,
    apply_to_store,
    combine,
    default_strategies,
    parse_strategies,
)
from overthink.strategies.base import (
    NEEDS_VERIFIER,
    STRATEGY_NAMES,
    split_label,
    strategy_label,
)
from overthink.strategies.verifiers import (
    VERIFIER_NAMES,
    Verdict,
    Verifier,
    VerifierError,
    make_verifiers,
    parse_verifiers,
)
from overthink.strategies.verify import VerifyReport, verify_records
from overthink.strategies.vote import Choice, choose

__all__ = [
    "NEEDS_VERIFIER",
    "STRATEGY_NAMES",
    "VERIFIER_NAMES",
    "ApplySummary",
    "Choice",
    "StrategyReport",
    "Verdict",
    "Verifier",
    "VerifierError",
    "VerifyReport",
    "apply_to_store",
    "choose",
    "combine",
    "default_strategies",
    "make_verifiers",
    "parse_strategies",
    "parse_verifiers",
    "split_label",
    "strategy_label",
    "verify_records",
]
