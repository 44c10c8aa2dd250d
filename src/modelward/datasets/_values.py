"""Recognising single values, shared by reading, schema inference, statistics and diffs.

What counts as a number, an ISO date or a JSON-friendly scalar is decided here once, so a file
that reads cleanly is also inferred, summarised and compared by the same rules.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Whole-value patterns, run by pyarrow's RE2 (vectorised). An ISO 8601 date or date-time:
ISO_DATETIME = (
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
# A number as pandas' CSV parser reads one:
NUMBER = r"\s*[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)\s*"


def is_number(value: Any) -> bool:
    """A Python or NumPy number that is not a boolean."""
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def matches(values: pd.Series, pattern: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Which of ``values`` (strings, no missing) match ``pattern`` as a whole."""
    array = pa.array(values.astype(str), type=pa.large_string())
    matched = pc.match_substring_regex(array, f"^(?:{pattern})$")
    return np.asarray(matched.to_numpy(zero_copy_only=False), dtype=bool)


def parse_datetimes(values: pd.Series) -> pd.Series | None:
    """ISO strings as timestamps (UTC when offsets are mixed); ``None`` if any fails to parse."""
    for utc in (False, True):
        try:
            parsed = pd.to_datetime(values, format="ISO8601", utc=utc)
        except (ValueError, TypeError, OverflowError):
            continue
        return parsed if parsed.notna().all() else None
    return None


def plain(value: Any) -> Any:
    """A JSON-friendly Python scalar."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, pd.Timestamp | np.datetime64):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
