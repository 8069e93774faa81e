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
from overthink.strategies.base import StrategyName, split_label, strategy_label
from overthink.strategies.registry import (
    Strategy,
    get_strategy,
    register_strategy,
    strategies,
    strategy_names,
)
from overthink.strategies.verifiers import (
    Verdict,
    Verifier,
    VerifierError,
    make_verifiers,
    parse_verifiers,
    register_verifier,
    verifier_class,
    verifier_names,
)
from overthink.strategies.verify import VerifyReport, verify_records
from overthink.strategies.vote import Choice, choose

__all__ = [
    "ApplySummary",
    "Choice",
    "Strategy",
    "StrategyName",
    "StrategyReport",
    "Verdict",
    "Verifier",
    "VerifierError",
    "VerifyReport",
    "apply_to_store",
    "choose",
    "combine",
    "default_strategies",
    "get_strategy",
    "make_verifiers",
    "parse_strategies",
    "parse_verifiers",
    "register_strategy",
    "register_verifier",
    "split_label",
    "strategies",
    "strategy_label",
    "strategy_names",
    "verifier_class",
    "verifier_names",
    "verify_records",
]
