"""Imports every built-in task module so that each registers itself (and its loaders)."""

from overthink.tasks import (  # noqa: F401
    famous_paradoxes,
    grades_regression,
    jsonl,
    misleading_math,
    misleading_python,
    risk,
    zebra,
)
