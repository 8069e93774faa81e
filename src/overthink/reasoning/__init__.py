"""Reasoning budgets: resolve a Budget for an engine, and s1 budget forcing."""

from overthink.reasoning.generate import Generation, check_supported, generate

__all__ = ["Generation", "check_supported", "generate"]
