"""Reasoning budgets: resolve a Budget for an engine, and s1 budget forcing."""

from overthink.reasoning.generate import Generation, check_supported, generate
from overthink.reasoning.prompts import PROMPT_VARIANTS, ReasoningOptions

__all__ = ["PROMPT_VARIANTS", "Generation", "ReasoningOptions", "check_supported", "generate"]
