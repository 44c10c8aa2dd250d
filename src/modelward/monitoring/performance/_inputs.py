"""Checking and encoding labels, class lists and probability matrices; errors say what to fix."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from modelward.errors import DataError
from modelward.monitoring.performance._kernels import FloatArray, IntArray

#: How far a probability row may sum from 1 (float32 model outputs are accepted).
ROW_SUM_TOLERANCE = 1e-4


def _show(values: Any, limit: int = 5) -> str:
    items = [repr(v.item() if isinstance(v, np.generic) else v) for v in list(values)[:limit]]
    more = len(values) - limit
    return ", ".join(items) + (f" and {more} more" if more > 0 else "")


def labels(values: Any, name: str, n: int | None = None) -> npt.NDArray[Any]:
    """``values`` as a 1-D array without missing entries (and of length ``n`` when given)."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise DataError(f"{name} must be one-dimensional (one value per row), got shape {arr.shape}.")
    if n is not None and arr.shape[0] != n:
        raise DataError(
            f"{name} has {arr.shape[0]} rows but {n} were expected: pass one value per row "
            "of the same window."
        )
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr))
        raise DataError(f"{name} has missing or infinite values at rows {_show(bad)}; drop those rows first.")
    if arr.dtype.kind == "O" and any(v is None for v in arr):
        raise DataError(f"{name} has missing values (None); drop those rows first.")
    return arr


def numbers(values: Any, name: str, n: int | None = None) -> FloatArray:
    """``values`` as finite float64 (regression targets and predictions, error streams)."""
    arr = labels(values, name, n)
    try:
        out = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be numeric, got values like {_show(arr[:3])}.") from exc
    if not np.all(np.isfinite(out)):
        raise DataError(f"{name} has missing or infinite values; drop those rows first.")
    return out


def resolve_classes(
    classes: Any, observed: list[npt.NDArray[Any]], n_columns: int | None
) -> npt.NDArray[Any]:
    """The class list: ``classes`` as given, else the sorted labels seen; checked against proba's width."""
    if classes is None:
        seen = np.unique(np.concatenate([np.asarray(o) for o in observed])) if observed else np.empty(0)
        if n_columns is not None and seen.shape[0] != n_columns:
            raise DataError(
                f"proba has {n_columns} columns but the labels hold {seen.shape[0]} classes "
                f"({_show(seen)}); pass classes= in the order of proba's columns (e.g. the "
                "model's classes_)."
            )
        out = seen
    else:
        out = np.asarray(classes)
        if out.ndim != 1:
            raise DataError(f"classes must be a flat list of labels, got shape {out.shape}.")
        if np.unique(out).shape[0] != out.shape[0]:
            raise DataError(f"classes has duplicates ({_show(out)}); list each class once.")
        if n_columns is not None and out.shape[0] != n_columns:
            raise DataError(
                f"proba has {n_columns} columns but {out.shape[0]} classes were given "
                f"({_show(out)}); give one class per proba column, in column order."
            )
    if out.shape[0] < 2:
        raise DataError(
            f"Classification needs at least two classes, got {out.shape[0]} ({_show(out)}); "
            "pass the full list with classes=."
        )
    return out


def encode(values: npt.NDArray[Any], classes: npt.NDArray[Any], name: str) -> IntArray:
    """Indexes of ``values`` in ``classes``; labels outside ``classes`` are an error naming them."""
    sorter = np.argsort(classes, kind="mergesort")
    ordered = classes[sorter]
    try:
        pos = np.searchsorted(ordered, values)
    except TypeError as exc:
        raise DataError(
            f"{name} labels ({_show(values[:3])}) cannot be compared with classes "
            f"({_show(classes)}): use the same label type on both sides."
        ) from exc
    pos = np.clip(pos, 0, len(classes) - 1)
    unknown = ordered[pos] != values
    if np.any(unknown):
        missing = np.unique(values[unknown])
        raise DataError(
            f"{name} holds labels that are not among the classes {_show(classes)}: "
            f"{_show(missing)}. Pass the complete class list with classes=.",
            details={"unknown": [str(m) for m in missing[:20]]},
        )
    return sorter[pos].astype(np.int64)


def probabilities(values: Any, n: int | None, n_classes: int, name: str = "proba") -> FloatArray:
    """A checked ``(n, n_classes)`` probability matrix; a 1-D array is P(classes[1]) for binary models."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be numeric class probabilities.") from exc
    if arr.ndim == 1 and n_classes == 2:
        arr = np.column_stack([1.0 - arr, arr])
    if arr.ndim != 2 or arr.shape[1] != n_classes or (n is not None and arr.shape[0] != n):
        want = f"({n if n is not None else 'n'}, {n_classes})"
        raise DataError(
            f"{name} must have shape {want} (one row per prediction, one column per class"
            f"{'; or 1-D P(positive) for a binary model' if n_classes == 2 else ''}), "
            f"got {arr.shape}."
        )
    if arr.shape[0] == 0:
        raise DataError(f"{name} is empty: the window has no rows.")
    if not np.all(np.isfinite(arr)):
        rows = np.flatnonzero(~np.all(np.isfinite(arr), axis=1))
        raise DataError(f"{name} has missing or infinite values in rows {_show(rows)}; drop those rows.")
    if arr.min() < -1e-9 or arr.max() > 1 + 1e-9:
        raise DataError(
            f"{name} must lie in [0, 1], got values from {arr.min():.6g} to {arr.max():.6g}: "
            "pass probabilities (predict_proba), not decision scores or logits."
        )
    sums = arr.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOLERANCE)
    if off.size:
        raise DataError(
            f"{name} rows must sum to 1 (within {ROW_SUM_TOLERANCE:g}); row {off[0]} sums to "
            f"{sums[off[0]]:.6g} ({off.size} of {arr.shape[0]} rows are off). Pass the full "
            "predict_proba matrix with one column per class, or normalise each row.",
            details={"rows": off[:20].tolist()},
        )
    return np.clip(arr, 0.0, 1.0)
