"""Imports every built-in provider module so that each registers itself (in listing order)."""

from overthink.engines import providers  # noqa: F401
