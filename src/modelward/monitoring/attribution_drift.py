"""Attribution drift: did the model start leaning on its input columns differently in this window?

Why this exists: data drift says a column's values moved; it does not say the model's answers moved
with them. A column's attribution (its mean |SHAP|: how much it moves the model's output, in the
explainer's output space) changes only when the inputs the model *uses* change, so attribution drift is
drift that matters to this model. The loop can retrain on it (``loop.attribution_drift``).

Per column, from per-row absolute attributions of the reference rows (the version's holdout) and of the
window's rows, explained by the same model:

- **change**: the column's mean |SHAP| in the window minus in the reference, as a share of the
  reference's total mean |SHAP| (all columns), so 0.05 means the column's pull on the output moved by
  5 % of the model's whole attribution. The shares of the total in both are reported too.
- **test**: Welch's t-test of the two means of |SHAP| (unequal variances; the rows are independent
  draws, and their means are what the importance is), corrected across columns like the drift tests
  (Benjamini-Hochberg by default).

A column **drifted** when its adjusted p-value is below ``alpha`` *and* ``|change| >= min_change``: a
significant change too small to matter is reported, not alarmed on.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ref = np.abs(rng.normal(size=(500, 2))) * [1.0, 0.2]
>>> cur = np.abs(rng.normal(size=(500, 2))) * [1.6, 0.2]     # the model leans on "a" more
>>> result = attribution_drift(ref, cur, ["a", "b"])
>>> result.drifted_columns, round(result.columns[0].change, 2)
(['a'], 0.6)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from modelward.errors import DataError
from modelward.monitoring._decision import adjust_p_values

__all__ = ["MIN_CHANGE", "AttributionDrift", "AttributionShift", "attribution_drift"]

MIN_CHANGE = 0.05
_MIN_ROWS = 20  # fewer rows on either side: no test


@dataclass(frozen=True)
class AttributionShift:
    """One column's attribution in the reference and in the window.

    Attributes:
        column: the input column.
        reference, current: its mean |SHAP| over the reference rows and over the window's rows.
        reference_share, current_share: its share of the total mean |SHAP| on each side.
        change: ``(current - reference) / total reference mean |SHAP|``.
        p_value, adjusted_p: Welch's t-test of the two means, and after the correction across columns.
        drifted: ``adjusted_p < alpha`` and ``|change| >= min_change``.
    """

    column: str
    reference: float
    current: float
    reference_share: float
    current_share: float
    change: float
    p_value: float
    adjusted_p: float
    drifted: bool


@dataclass(frozen=True)
class AttributionDrift:
    """Attribution drift of one window (see the module docstring).

    Attributes:
        columns: one :class:`AttributionShift` per input column, in the model's input order.
        reference_rows, current_rows: rows explained on each side (holdout, window).
        alpha: significance level of the corrected tests.
        min_change: the smallest ``|change|`` (a share of the holdout's total mean |SHAP|) that drifts.
        correction: the multiple-testing correction across columns (``bh``, ``bonferroni``, ``none``).
        method: the explainer (``tree_shap``, ``linear_shap``).
        output: the space of the attributions (``probability``, ``log_odds``, ``prediction``, ...).
    """

    columns: tuple[AttributionShift, ...]
    reference_rows: int
    current_rows: int
    alpha: float
    min_change: float
    correction: str
    method: str = ""
    output: str = ""

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def drifted(self) -> bool:
        return any(c.drifted for c in self.columns)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "columns": [asdict(c) for c in self.columns]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AttributionDrift:
        return cls(
            columns=tuple(AttributionShift(**c) for c in data["columns"]),
            reference_rows=int(data["reference_rows"]),
            current_rows=int(data["current_rows"]),
            alpha=float(data["alpha"]),
            min_change=float(data["min_change"]),
            correction=str(data["correction"]),
            method=str(data.get("method", "")),
            output=str(data.get("output", "")),
        )


def attribution_drift(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    columns: Sequence[str],
    *,
    alpha: float = 0.05,
    min_change: float = MIN_CHANGE,
    correction: str = "bh",
    method: str = "",
    output: str = "",
) -> AttributionDrift:
    """Compare per-row attributions (``n x columns``; their absolute values are taken) of the reference
    rows and the window's rows (see the module docstring)."""
    ref = np.abs(np.asarray(reference, dtype=np.float64))
    cur = np.abs(np.asarray(current, dtype=np.float64))
    if ref.ndim != 2 or cur.ndim != 2 or ref.shape[1] != len(columns) or cur.shape[1] != len(columns):
        raise DataError(
            f"Attributions must be rows x {len(columns)} columns; got reference {ref.shape} and window "
            f"{cur.shape}."
        )
    if not (np.isfinite(ref).all() and np.isfinite(cur).all()):
        raise DataError("Attributions hold NaN or infinite values; explain rows with finite inputs.")
    if len(ref) < _MIN_ROWS or len(cur) < _MIN_ROWS:
        raise DataError(
            f"Attribution drift needs at least {_MIN_ROWS} rows on each side; got {len(ref)} reference and "
            f"{len(cur)} window rows."
        )
    ref_mean, cur_mean = ref.mean(axis=0), cur.mean(axis=0)
    total_ref, total_cur = float(ref_mean.sum()), float(cur_mean.sum())
    p_values = []
    for j in range(len(columns)):
        with warnings.catch_warnings():  # two constant columns (a column the model never splits on)
            warnings.simplefilter("ignore", RuntimeWarning)
            p = float(stats.ttest_ind(cur[:, j], ref[:, j], equal_var=False).pvalue)
        p_values.append(p if math.isfinite(p) else 1.0)
    adjusted = adjust_p_values(p_values, correction)
    out = []
    for j, column in enumerate(columns):
        change = (cur_mean[j] - ref_mean[j]) / total_ref if total_ref > 0 else 0.0
        out.append(
            AttributionShift(
                column=str(column),
                reference=float(ref_mean[j]),
                current=float(cur_mean[j]),
                reference_share=float(ref_mean[j] / total_ref) if total_ref > 0 else 0.0,
                current_share=float(cur_mean[j] / total_cur) if total_cur > 0 else 0.0,
                change=float(change),
                p_value=p_values[j],
                adjusted_p=float(adjusted[j]),
                drifted=bool(adjusted[j] < alpha and abs(change) >= min_change),
            )
        )
    return AttributionDrift(
        columns=tuple(out),
        reference_rows=len(ref),
        current_rows=len(cur),
        alpha=alpha,
        min_change=min_change,
        correction=correction,
        method=method,
        output=output,
    )
