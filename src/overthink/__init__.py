"""overthink: measure and tame inverse scaling in test-time compute."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from overthink._version import __version__

if TYPE_CHECKING:
    from overthink.core import AnswerKind, Budget, BudgetMode, Record, Sample, Trial
    from overthink.interop.load import load


__all__ = [
    "AnswerKind", "Budget", "BudgetMode", "Record", "Sample", "Trial", "__version__", "load",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    # Loaded on first use: the vocabulary needs pydantic and ``overthink.load`` needs
    # pandas, which `overthink --help` and the engines do not.
    if name == "load":
        from overthink.interop.load import load

        return load
    if name in __all__:
        from overthink import core

        return getattr(core, name)
    raise AttributeError(f"module 'overthink' has no attribute {name!r}")
