"""Budget audit: which trials broke their budget, and where reasoning ate the output.

Two failure shapes matter when reading a budget sweep:

* a **budget violation** — observed reasoning exceeded the enforced (or, in ``prompt``
  mode, the stated) limit by more than ``core.VIOLATION_TOLERANCE`` (10 %): the budget
  was requested but not honoured;
* **reasoning ate the output** — the answer is empty, or the output limit was hit inside
  the thinking segment and no answer could be parsed: the trial measures the cap, not the
  model's answer.

Both are flags on every Record; this module only counts them for a one-line summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from overthink.core import VIOLATION_PERCENT, Record

__all__ = ["BudgetAudit", "audit_budgets"]


@dataclass
class BudgetAudit:
    """Counts of budget problems over a set of records (errored trials excluded)."""

    trials: int = 0
    violations: Counter[str] = field(default_factory=Counter)
    """Budget label → trials whose reasoning exceeded the enforced limit by more than the
    tolerance (``core.VIOLATION_TOLERANCE``)."""
    ate_output: Counter[str] = field(default_factory=Counter)
    """Budget label → trials with an empty answer, or cut inside thinking with no answer."""

    @property
    def clean(self) -> bool:
        """True when no trial broke its budget or lost its answer to reasoning."""
        return not self.violations and not self.ate_output

    def summary(self) -> str | None:
        """One warning line, or None when there is nothing to report."""
        if self.clean:
            return None
        parts = []
        if self.violations:
            n = sum(self.violations.values())
            parts.append(
                f"{n} of {self.trials} trials exceeded their enforced budget by more than "
                f"{VIOLATION_PERCENT} "
                f"({_by_label(self.violations)})"
            )
        if self.ate_output:
            n = sum(self.ate_output.values())
            parts.append(
                f"{n} of {self.trials} trials lost their answer to reasoning — empty answer, "
                f"or cut inside thinking with no answer ({_by_label(self.ate_output)})"
            )
        return "; ".join(parts)


def _label(record: Record) -> str:
    mode = record.budget_mode
    return mode if mode in ("none", "natural") else f"{mode}:{record.budget_tokens}"


def _by_label(counts: Counter[str]) -> str:
    return ", ".join(f"{label} ×{n}" for label, n in sorted(counts.items()))


def audit_budgets(records: Iterable[Record]) -> BudgetAudit:
    """Count violations and reasoning-ate-the-output cases among finished trials."""
    audit = BudgetAudit()
    for record in records:
        if record.error is not None:
            continue
        audit.trials += 1
        label = _label(record)
        if record.budget_violation:
            audit.violations[label] += 1
        # Forced-style generation (a ``reasoning_cap`` in resolved) gives the answer its own
        # request and allowance, so a cut inside thinking cannot eat it there: only an
        # empty answer counts. Where one output limit covers both, a cut with no parsable
        # answer means the reasoning used the answer's room.
        shared_limit = "reasoning_cap" not in record.resolved
        cut_without_answer = (
            shared_limit and record.truncated_in_reasoning and record.answer is None
        )
        if record.empty_answer or cut_without_answer:
            audit.ate_output[label] += 1
    return audit
