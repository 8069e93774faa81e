"""Typed reads of single table cells for tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def number_at(frame: pd.DataFrame, row: str | int | tuple[str, ...], column: str) -> float:
    """``frame.loc[row, column]`` as a float.

    pandas-stubs types a ``.loc`` cell as any scalar (str, Timestamp, …), which arithmetic
    and ordering reject; the analysis tables' numeric columns hold numbers, so check that
    instead of casting.
    """
    value = frame.loc[row, column]
    if not isinstance(value, int | float | np.number | np.bool_):
        raise TypeError(f"cell ({row!r}, {column!r}) is {type(value).__name__}, not a number")
    return float(value)
