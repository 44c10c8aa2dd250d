"""Metrics written as a function of per-row means, so a bootstrap can resample them cheaply.

Every built-in metric here is ``value(mean(f_1), ..., mean(f_k))`` for a few per-row quantities ``f``
(correct, true positive, squared error, ...). The paired bootstrap resamples row indices once and takes
means along the last axis, so a resample costs O(rows · k) with no Python loop, and the BCa jackknife
runs in scipy's vectorised path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelward.errors import ConfigError, DataError
from modelward.evaluation._inputs import Array, FloatArray, as_float

Means = Sequence[FloatArray]

_EPS = 1e-15


@dataclass(frozen=True)
class RowMetric:
    """A metric as per-row quantities (``rows``) and a function of their means (``value``)."""

    name: str
    higher_is_better: bool
    rows: Callable[[Array, Array, Any], list[FloatArray]]
    value: Callable[[Means], FloatArray]


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    """``num / den`` with 0 where ``den`` is 0 (scikit-learn's ``zero_division=0``), no warning."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _confusion(y: Array, p: Array, pos: Any) -> list[FloatArray]:
    yt, yp = y == pos, p == pos
    return [(yt & yp).astype(np.float64), (~yt & yp).astype(np.float64), (yt & ~yp).astype(np.float64)]


def _binary_truth(y: Array, pos: Any) -> FloatArray:
    out: FloatArray = (y == pos).astype(np.float64)
    return out


def _proba_rows(y: Array, p: Array, pos: Any) -> FloatArray:
    """Probability given to the true class: ``p`` is P(positive) (1-D) or one column per class (2-D,
    ``y`` holding column indices)."""
    proba = as_float(p, "predictions (probabilities)", ndim=(1, 2))
    if proba.ndim == 1:
        truth = _binary_truth(y, pos)
        return np.where(truth == 1.0, proba, 1.0 - proba)
    codes = np.asarray(y)
    if not np.issubdtype(codes.dtype, np.integer) or codes.min() < 0 or codes.max() >= proba.shape[1]:
        raise DataError(
            f"With one probability column per class, y_true must hold column indices 0 to "
            f"{proba.shape[1] - 1}; encode the labels first."
        )
    picked: FloatArray = proba[np.arange(proba.shape[0]), codes]
    return picked


def _brier_rows(y: Array, p: Array, pos: Any) -> FloatArray:
    proba = as_float(p, "predictions (probabilities)", ndim=(1, 2))
    if proba.ndim == 1:
        return (proba - _binary_truth(y, pos)) ** 2
    onehot = np.zeros_like(proba)
    onehot[np.arange(proba.shape[0]), np.asarray(y, dtype=np.int64)] = 1.0
    total: FloatArray = np.sum((proba - onehot) ** 2, axis=1)
    return total


def _errors(y: Array, p: Array) -> FloatArray:
    return as_float(p, "predictions") - as_float(y, "y_true")


def _f1(m: Means) -> FloatArray:
    return _ratio(2.0 * m[0], 2.0 * m[0] + m[1] + m[2])


def _r2(m: Means) -> FloatArray:
    # rows: squared error, y, y^2  ->  1 - SSE / SST
    return 1.0 - _ratio(m[0], m[2] - m[1] ** 2)


METRICS: dict[str, RowMetric] = {
    "accuracy": RowMetric("accuracy", True, lambda y, p, pos: [(y == p).astype(np.float64)], lambda m: m[0]),
    "precision": RowMetric("precision", True, _confusion, lambda m: _ratio(m[0], m[0] + m[1])),
    "recall": RowMetric("recall", True, _confusion, lambda m: _ratio(m[0], m[0] + m[2])),
    "f1": RowMetric("f1", True, _confusion, _f1),
    "log_loss": RowMetric(
        "log_loss",
        False,
        lambda y, p, pos: [-np.log(np.clip(_proba_rows(y, p, pos), _EPS, 1.0))],
        lambda m: m[0],
    ),
    "brier": RowMetric("brier", False, lambda y, p, pos: [_brier_rows(y, p, pos)], lambda m: m[0]),
    "mae": RowMetric("mae", False, lambda y, p, pos: [np.abs(_errors(y, p))], lambda m: m[0]),
    "mse": RowMetric("mse", False, lambda y, p, pos: [_errors(y, p) ** 2], lambda m: m[0]),
    "rmse": RowMetric("rmse", False, lambda y, p, pos: [_errors(y, p) ** 2], lambda m: np.sqrt(m[0])),
    "r2": RowMetric(
        "r2",
        True,
        lambda y, p, pos: [_errors(y, p) ** 2, as_float(y, "y_true"), as_float(y, "y_true") ** 2],
        _r2,
    ),
}


def get_metric(name: str) -> RowMetric:
    """The built-in metric called ``name``; a :class:`ConfigError` listing the names otherwise."""
    try:
        return METRICS[name]
    except KeyError:
        raise ConfigError(
            f"Unknown metric {name!r}; the built-in metrics are {', '.join(METRICS)}, or pass "
            "a callable metric(y_true, y_pred) -> float with higher_is_better."
        ) from None


def value_of(metric: RowMetric, rows: list[FloatArray]) -> float:
    """The metric on all rows."""
    return float(metric.value([r.mean(axis=-1) for r in rows]))
