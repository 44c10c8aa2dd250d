"""Compact per-column distribution summaries of reference vs current, for reports and plots.

They hold numbers a renderer needs (histogram on shared edges, quantiles, top categories, missing
rates), never raw rows, so a report on 1M rows stays small.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelward.monitoring._columns import (
    SUMMARY_QUANTILES,
    CategoricalSummary,
    ColumnSummary,
    CurrentCategorical,
    CurrentColumn,
    CurrentNumeric,
    NumericSummary,
    mean_std,
    quantiles_sorted,
)
from modelward.monitoring._stats import binned_counts

HIST_BINS = 30
_QUANTILE_KEYS = tuple(str(q) for q in SUMMARY_QUANTILES)
TOP_CATEGORIES = 20


def _numeric_side(
    values: np.ndarray[Any, np.dtype[np.float64]], n_missing: int, moments: tuple[float, float] | None = None
) -> dict[str, Any]:
    total = values.size + n_missing
    out: dict[str, Any] = {"n": int(values.size), "missing_rate": n_missing / total if total else 0.0}
    if values.size:
        mean, std = moments if moments is not None else mean_std(values)
        out.update(
            mean=mean,
            std=std,
            min=float(values[0]),
            max=float(values[-1]),
            quantiles=dict(
                zip(_QUANTILE_KEYS, quantiles_sorted(values, SUMMARY_QUANTILES).tolist(), strict=True)
            ),
        )
    return out


def numeric_distribution(ref: NumericSummary, cur: CurrentNumeric, bins: int = HIST_BINS) -> dict[str, Any]:
    """Histogram counts of both sides on shared equal-width edges spanning the 0.5%-99.5% quantiles of
    both (values beyond fall into the outer bins), plus summary statistics of each side."""
    lo_hi = np.concatenate(
        [quantiles_sorted(ref.values, (0.005, 0.995)), quantiles_sorted(cur.values, (0.005, 0.995))]
    )
    lo, hi = float(np.nanmin(lo_hi)), float(np.nanmax(lo_hi))
    if not hi > lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    inner = edges[1:-1]
    return {
        "edges": edges.tolist(),
        "reference_counts": binned_counts(ref.values, inner).tolist(),
        "current_counts": binned_counts(cur.values, inner).tolist(),
        "reference": _numeric_side(ref.values, ref.n_missing, (ref.mean, ref.std)),
        "current": _numeric_side(cur.values, cur.n_missing),
    }


def categorical_distribution(
    ref: CategoricalSummary, cur: CurrentCategorical, top: int = TOP_CATEGORIES
) -> dict[str, Any]:
    """Counts of the ``top`` most frequent categories (over both sides) and of all others together."""
    ref_counts, cur_counts = cur.union_counts(ref)
    categories = list(ref.categories) + list(cur.new_categories)
    share = ref_counts / max(ref_counts.sum(), 1) + cur_counts / max(cur_counts.sum(), 1)
    order = np.argsort(-share, kind="stable")[:top]
    rest = np.setdiff1d(np.arange(len(categories)), order)
    ref_total, cur_total = ref.n + ref.n_missing, cur.n + cur.n_missing
    return {
        "categories": [categories[i] for i in order],
        "reference_counts": [int(ref_counts[i]) for i in order],
        "current_counts": [int(cur_counts[i]) for i in order],
        "other_reference_count": int(ref_counts[rest].sum()),
        "other_current_count": int(cur_counts[rest].sum()),
        "reference": {"n": ref.n, "missing_rate": ref.n_missing / ref_total if ref_total else 0.0},
        "current": {"n": cur.n, "missing_rate": cur.n_missing / cur_total if cur_total else 0.0},
    }


def distribution(ref: ColumnSummary, cur: CurrentColumn) -> dict[str, Any]:
    """The summary that fits the column kind (empty when a side has no values)."""
    if ref.n == 0 or cur.n == 0:
        return {}
    if isinstance(ref, NumericSummary) and isinstance(cur, CurrentNumeric):
        return numeric_distribution(ref, cur)
    if isinstance(ref, CategoricalSummary) and isinstance(cur, CurrentCategorical):
        return categorical_distribution(ref, cur)
    return {}
