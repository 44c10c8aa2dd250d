"""What changed between two versions of a dataset, from their schemas and statistics alone."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from modelward.datasets._values import is_number

__all__ = ["diff_frames"]


def diff_frames(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Compare two ``{"schema", "stats", "rows"}`` descriptions of a dataset.

    Returns row counts with their change, added and removed columns, kind changes, and per
    column (present in both) every statistic whose value differs.

    >>> one = {"schema": {"x": "numeric"}, "stats": {"x": {"mean": 1.0}}, "rows": 3}
    >>> two = {"schema": {"x": "numeric", "y": "text"}, "stats": {"x": {"mean": 2.0}}, "rows": 5}
    >>> diff_frames(one, two)["columns"]
    {'x': {'mean': {'a': 1.0, 'b': 2.0}}}
    """
    schema_a: dict[str, str] = dict(a.get("schema") or {})
    schema_b: dict[str, str] = dict(b.get("schema") or {})
    stats_a: dict[str, dict[str, Any]] = dict(a.get("stats") or {})
    stats_b: dict[str, dict[str, Any]] = dict(b.get("stats") or {})
    rows_a, rows_b = int(a["rows"]), int(b["rows"])
    common = [c for c in schema_a if c in schema_b]
    columns: dict[str, dict[str, dict[str, Any]]] = {}
    for column in common:
        sa_, sb_ = stats_a.get(column, {}), stats_b.get(column, {})
        changed = {
            stat: {"a": sa_.get(stat), "b": sb_.get(stat)}
            for stat in _ordered_union(sa_, sb_)
            if not _same(sa_.get(stat), sb_.get(stat))
        }
        if changed:
            columns[column] = changed
    return {
        "rows": {"a": rows_a, "b": rows_b, "change": rows_b - rows_a},
        "added_columns": [c for c in schema_b if c not in schema_a],
        "removed_columns": [c for c in schema_a if c not in schema_b],
        "type_changes": {
            c: {"a": schema_a[c], "b": schema_b[c]} for c in common if schema_a[c] != schema_b[c]
        },
        "columns": columns,
    }


def _ordered_union(first: dict[str, Any], second: dict[str, Any]) -> Iterator[str]:
    yield from first
    yield from (k for k in second if k not in first)


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, list | tuple) and isinstance(y, list | tuple):
        return len(x) == len(y) and all(_same(i, j) for i, j in zip(x, y, strict=True))
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True
    if is_number(x) and is_number(y):
        return bool(x == y)
    return type(x) is type(y) and bool(x == y)
