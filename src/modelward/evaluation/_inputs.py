"""Checking the arrays a paired comparison receives (same rows, same length, no missing values)."""

from __future__ import annotations

from typing import Any

import numpy as np

from modelward.errors import DataError

Array = np.ndarray[Any, np.dtype[Any]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def as_1d(values: Any, name: str) -> Array:
    """``values`` as a 1-D numpy array; a :class:`DataError` naming ``name`` otherwise."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise DataError(f"{name} must be one value per row (1-D), got an array of shape {arr.shape}.")
    return arr


def as_float(values: Any, name: str, ndim: tuple[int, ...] = (1,)) -> FloatArray:
    """``values`` as finite float64; a :class:`DataError` naming the first bad row otherwise."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be numeric: {exc}.") from exc
    if arr.ndim not in ndim:
        raise DataError(
            f"{name} must have {' or '.join(map(str, ndim))} dimension(s), got shape {arr.shape}."
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise DataError(
            f"{name} holds a missing or infinite value in row {row} of {arr.shape[0]}; "
            "drop or fill such rows before comparing models."
        )
    return arr


def same_rows(n_min: int = 1, **arrays: Array) -> int:
    """The common length of ``arrays``; a :class:`DataError` when they differ or hold fewer than ``n_min``."""
    lengths = {name: int(a.shape[0]) for name, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        shown = ", ".join(f"{k} has {v}" for k, v in lengths.items())
        raise DataError(f"A paired comparison needs both models scored on the same rows: {shown} rows.")
    n = next(iter(lengths.values()))
    if n < n_min:
        raise DataError(f"A paired comparison needs at least {n_min} rows, got {n}.")
    return n
