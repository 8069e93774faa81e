"""overthink: measure and tame inverse scaling in test-time compute."""

from overthink.core import AnswerKind, Budget, BudgetMode, Record, Sample, Trial

__version__ = "0.1.0"

__all__ = ["AnswerKind", "Budget", "BudgetMode", "Record", "Sample", "Trial", "__version__"]
