"""Imports every built-in strategy module so that each registers itself (in apply order)."""

from overthink.strategies import vote  # noqa: F401
