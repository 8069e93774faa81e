"""Numbers as text: the one set of formatters for terminal tables, report cells and prose.

A leaf module (no overthink imports, no pandas) so every layer can use it: the analysis's
conclusion sentences, ``mitigate``'s effects table, the HTML report and the CLI tables.
Missing values — None, NaN, ±inf where a number was expected, anything that is not a
number — print as a dash, never as ``nan`` or a traceback.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["MISSING", "fmt_fixed", "fmt_interval", "fmt_num", "fmt_p", "fmt_spec", "is_missing"]

MISSING = "–"
"""What a missing number prints as in terminal tables and sentences (an en dash)."""
_MISSING_CELL = "—"
"""The HTML report's cells use an em dash (kept as it was when the helpers moved here)."""


def is_missing(value: Any) -> bool:
    """True for None, NaN and the empty string (how frames spell "no knob")."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value == ""


def fmt_spec(value: Any, spec: str = ".3g", *, missing: str = MISSING) -> str:
    """``format(value, spec)`` for a finite number; ``missing`` for anything else."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return missing
    return format(number, spec) if math.isfinite(number) else missing


def fmt_fixed(value: Any, digits: int, *, sign: bool = False) -> str:
    """``digits`` decimals (``+`` on positives with ``sign``), or :data:`MISSING`."""
    return fmt_spec(value, f"{'+' if sign else ''}.{digits}f")


def fmt_interval(point: Any, low: Any, high: Any, spec: str = "+.3f") -> str:
    """``point [low, high]``, each with ``spec`` (a missing bound prints as a dash)."""
    return f"{fmt_spec(point, spec)} [{fmt_spec(low, spec)}, {fmt_spec(high, spec)}]"


def fmt_num(value: Any, digits: int = 3) -> str:
    """Compact number for report tables: ``—`` for missing, integers without decimals."""
    if is_missing(value):
        return _MISSING_CELL
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return _MISSING_CELL
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    magnitude = abs(number)
    if number.is_integer() and magnitude < 1e15:
        return f"{int(number):,}"
    if magnitude >= 1000:
        return f"{number:,.0f}"
    if magnitude < 1e-3:
        return f"{number:.{max(digits - 1, 0)}e}"
    return f"{number:.{digits}g}"


def fmt_p(value: Any) -> str:
    """A p-value for report tables: two significant digits, ``<0.001`` below that."""
    if is_missing(value):
        return _MISSING_CELL
    number = float(value)
    if math.isnan(number):
        return _MISSING_CELL
    return "<0.001" if number < 0.001 else f"{number:.2g}"
