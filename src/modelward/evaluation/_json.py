"""Turning results into plain JSON values (no NaN/inf: they become ``null``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays converted, tuples as lists and non-finite floats as ``None``.

    >>> jsonable({"p": np.float64(0.5), "ci": (float("-inf"), 1.0), "n": np.int64(3)})
    {'p': 0.5, 'ci': [None, 1.0], 'n': 3}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
