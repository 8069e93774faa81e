"""User-facing errors: the CLI prints them as one line and exits with code 2."""

from __future__ import annotations

__all__ = ["ConfigError", "EngineUnavailable", "OverthinkError"]


class OverthinkError(Exception):
    """An error caused by the user's input or environment, reported without a traceback."""


class ConfigError(OverthinkError, ValueError):
    """Bad configuration: unknown key, bad value, unknown task/model name."""


class EngineUnavailable(OverthinkError):
    """The model server could not be reached or started."""
