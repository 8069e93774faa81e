"""Typed reads of table cells and rows for tests."""

from __future__ import annotations

from typing import Any, cast

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


def rows_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame.to_dict("records")`` typed as the str-keyed rows it is.

    pandas-stubs types the keys ``Hashable`` (a column may be named by any hashable); the
    record frames' columns are str, which is checked here.
    """
    if not all(isinstance(column, str) for column in frame.columns):
        raise TypeError(f"non-str column names: {list(frame.columns)!r}")
    return cast(list[dict[str, Any]], frame.to_dict("records"))
