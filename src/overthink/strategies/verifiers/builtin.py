"""Imports every built-in verifier module so that each registers itself (in run order)."""

# ruff: isort: skip_file
from overthink.strategies.verifiers import rubric  # noqa: F401
from overthink.strategies.verifiers import judge  # noqa: F401
from overthink.strategies.verifiers import self_consistency  # noqa: F401
