"""Schema inference: the kind of every column of a frame.

Column kinds are ``numeric``, ``categorical``, ``boolean``, ``datetime`` and ``text``. An
integer column holding only 0 and 1 is ``numeric``, not ``boolean``: the kind feeds the input
signature, whose allowed categories a server enforces, and a count that happened to be 0/1 in
the training data must not refuse a 2 later. Columns of bool dtype, and string columns holding
only ``true``/``false`` (any case), are ``boolean``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelward.datasets._values import ISO_DATETIME, is_number, matches, parse_datetimes

__all__ = ["CATEGORICAL_MAX_DISTINCT", "CATEGORICAL_MAX_SHARE", "KINDS", "infer_schema"]

KINDS = ("numeric", "categorical", "boolean", "datetime", "text")

CATEGORICAL_MAX_DISTINCT = 50
CATEGORICAL_MAX_SHARE = 0.05
"""A string column is categorical when it has at most ``CATEGORICAL_MAX_DISTINCT`` distinct
values, or when its distinct values are at most this share of its non-missing values."""


def infer_schema(df: pd.DataFrame) -> dict[str, str]:
    """Map every column to ``numeric``, ``categorical``, ``boolean``, ``datetime`` or ``text``.

    >>> infer_schema(pd.DataFrame({"flag": [True, False], "n": [0, 1], "day": ["2024-01-01", "2024-01-02"]}))
    {'flag': 'boolean', 'n': 'numeric', 'day': 'datetime'}
    """
    return {str(column): _kind(df[column]) for column in df.columns}


def _kind(series: pd.Series) -> str:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return "numeric"
    values = series.dropna()
    if values.empty:
        return "text"  # all missing: no categories to allow, nothing to measure
    if pd.api.types.is_object_dtype(dtype):
        if all(isinstance(v, bool | np.bool_) for v in values):
            return "boolean"
        if all(is_number(v) for v in values):
            return "numeric"
        if not all(isinstance(v, str) for v in values):
            return "text"  # arbitrary Python objects
    strings = values.astype(str)
    if strings.str.lower().isin(["true", "false"]).all():
        return "boolean"
    if matches(strings, ISO_DATETIME).all() and parse_datetimes(strings) is not None:
        return "datetime"
    distinct = int(strings.nunique())
    if distinct <= CATEGORICAL_MAX_DISTINCT or distinct <= CATEGORICAL_MAX_SHARE * len(strings):
        return "categorical"
    return "text"
