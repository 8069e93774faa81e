"""Imports every built-in task module so that each registers itself."""

from overthink.tasks import misleading_math  # noqa: F401
