"""Per-column statistics of a frame, by the column's kind (JSON-serialisable).

``count`` is the number of non-missing values (pandas' convention); ``std`` is the sample
standard deviation (ddof=1); percentiles use linear interpolation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from modelward.datasets._schema import KINDS
from modelward.datasets._values import parse_datetimes, plain
from modelward.errors import DataError

__all__ = ["MAX_LISTED_CATEGORIES", "TOP_CATEGORIES", "summarize"]

TOP_CATEGORIES = 20
MAX_LISTED_CATEGORIES = 1000


def summarize(df: pd.DataFrame, schema: dict[str, str]) -> dict[str, dict[str, Any]]:
    """JSON-serialisable statistics for every column, by the column's kind.

    Every column has ``count`` (non-missing values), ``missing`` and ``missing_rate``.
    numeric: ``mean std min p25 p50 p75 max n_unique`` (non-finite results are ``None``);
    categorical/boolean: ``n_unique``, ``top`` (``[value, count]`` pairs, at most 20, most
    frequent first) and ``categories`` (sorted, or ``None`` beyond 1000); datetime:
    ``min``/``max`` as ISO strings and ``n_unique``; text: ``n_unique`` and ``mean_length``.
    """
    out: dict[str, dict[str, Any]] = {}
    for column in df.columns:
        key = str(column)
        kind = schema.get(key)
        if kind not in KINDS:
            raise DataError(
                f"Column '{key}' has no valid kind in the schema (got {kind!r}; expected one of "
                f"{', '.join(KINDS)}). Pass the schema from infer_schema(frame).",
                details={"column": key, "kind": kind},
            )
        series = df[column]
        values = series.dropna()
        rows = len(series)
        stats: dict[str, Any] = {
            "count": len(values),
            "missing": rows - len(values),
            "missing_rate": (rows - len(values)) / rows if rows else 0.0,
        }
        if kind == "numeric":
            stats.update(_numeric_stats(values))
        elif kind in ("categorical", "boolean"):
            stats.update(_categorical_stats(values))
        elif kind == "datetime":
            stats.update(_datetime_stats(values))
        else:
            strings = values.astype(str)
            stats["n_unique"] = int(strings.nunique())
            stats["mean_length"] = _float(strings.str.len().mean()) if len(strings) else None
        out[key] = stats
    return out


def _float(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _numeric_stats(values: pd.Series) -> dict[str, Any]:
    if pd.api.types.is_timedelta64_dtype(values.dtype):
        values = values.dt.total_seconds()
    array = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    array = array[~np.isnan(array)]
    if array.size == 0:
        return dict.fromkeys(("mean", "std", "min", "p25", "p50", "p75", "max"), None) | {"n_unique": 0}
    with np.errstate(all="ignore"):
        p25, p50, p75 = np.percentile(array, [25, 50, 75])
        return {
            "mean": _float(np.mean(array)),
            "std": _float(np.std(array, ddof=1)) if array.size > 1 else None,
            "min": _float(array.min()),
            "p25": _float(p25),
            "p50": _float(p50),
            "p75": _float(p75),
            "max": _float(array.max()),
            "n_unique": len(np.unique(array)),
        }


def _sort_key(value: Any) -> tuple[str, Any]:
    if isinstance(value, bool | int | float):
        return ("0", float(value))
    return ("1", str(value))


def _categorical_stats(values: pd.Series) -> dict[str, Any]:
    counts = values.astype(object).value_counts(sort=False)
    pairs = [(plain(v), int(c)) for v, c in counts.items()]
    by_count = sorted(pairs, key=lambda p: (-p[1], _sort_key(p[0])))
    categories = sorted((v for v, _ in pairs), key=_sort_key)
    return {
        "n_unique": len(pairs),
        "top": [[v, c] for v, c in by_count[:TOP_CATEGORIES]],
        "categories": categories if len(categories) <= MAX_LISTED_CATEGORIES else None,
    }


def _datetime_stats(values: pd.Series) -> dict[str, Any]:
    parsed = (
        values if pd.api.types.is_datetime64_any_dtype(values.dtype) else parse_datetimes(values.astype(str))
    )
    if parsed is None or parsed.empty:
        return {"min": None, "max": None, "n_unique": int(values.nunique())}
    return {
        "min": pd.Timestamp(parsed.min()).isoformat(),
        "max": pd.Timestamp(parsed.max()).isoformat(),
        "n_unique": int(parsed.nunique()),
    }
