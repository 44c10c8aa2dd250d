"""Seeded frames shared by the monitoring tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

CATS = np.array(["a", "b", "c", "d", "e"], dtype=object)
#: Standard deviation of each numeric column family, so shifts can be given in standard deviations.
NUMERIC_STD = {0: 1.0, 1: 0.5331, 2: 8.655, 3: 0.2887}

FrameFactory = Callable[..., pd.DataFrame]


def make_frame(
    rng: np.random.Generator, n: int, shift_col: str | None = None, shift_sd: float = 0.0
) -> pd.DataFrame:
    """20 features: 14 numeric (normal, lognormal, integer-valued with ties, uniform), 4 categorical
    (3-5 categories), 2 boolean. ``shift_col`` (a numeric column) is shifted by ``shift_sd`` std."""
    cols: dict[str, object] = {}
    for i in range(14):
        family = i % 4
        shift = shift_sd * NUMERIC_STD[family] if shift_col == f"x{i}" else 0.0
        if family == 0:
            v = rng.normal(0.0, 1.0, n)
        elif family == 1:
            v = rng.lognormal(0.0, 0.5, n)
        elif family == 2:
            v = rng.integers(0, 30, n).astype(float)
        else:
            v = rng.uniform(0.0, 1.0, n)
        cols[f"x{i}"] = v + shift
    for i in range(4):
        cols[f"c{i}"] = rng.choice(CATS[: 3 + i % 3], n)
    for i in range(2):
        cols[f"b{i}"] = rng.random(n) < 0.2 + 0.3 * i
    return pd.DataFrame(cols)


@pytest.fixture
def frame() -> FrameFactory:
    return make_frame
