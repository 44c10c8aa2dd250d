"""A seeded covariate-shift scenario for checking label-free estimators (tests and ``benchmarks/cbpe.py``).

``P(y | x)`` is a fixed logistic function of four features; the features' distribution moves window by
window (in even windows ``x0`` and ``x1`` move away from the decision boundary and ``x2`` widens: accuracy
rises; in odd windows the features contract towards the boundary: accuracy falls), while the model's
probabilities stay calibrated — the situation CBPE is meant for. The model is a scikit-learn
``LogisticRegression`` fitted on a separate training sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from modelward.monitoring.performance._kernels import FloatArray, IntArray

_COEF = np.array([2.0, -1.5, 1.0, 0.0])
_INTERCEPT = 0.3


@dataclass(frozen=True)
class Window:
    """One slice of data: features, true labels, the model's P(class 1) and predicted labels."""

    X: FloatArray
    y: IntArray
    proba: FloatArray
    y_pred: IntArray


@dataclass(frozen=True)
class Scenario:
    reference: Window
    windows: tuple[Window, ...]
    classes: tuple[int, int] = (0, 1)


def _features(rng: np.random.Generator, n: int, shift: float) -> FloatArray:
    x = rng.normal(size=(n, 4))
    if shift >= 0:
        x[:, 0] += 1.2 * shift
        x[:, 1] -= 0.6 * shift
        x[:, 2] *= 1.0 + shift
    else:
        x /= 1.0 - shift
    return x


def _labels(rng: np.random.Generator, x: FloatArray) -> IntArray:
    p = 1.0 / (1.0 + np.exp(-(x @ _COEF + _INTERCEPT)))
    drawn: IntArray = (rng.uniform(size=x.shape[0]) < p).astype(np.int64)
    return drawn


def covariate_shift(
    seed: int = 0,
    *,
    n_windows: int = 8,
    window_size: int = 5000,
    n_reference: int = 10_000,
    n_train: int = 10_000,
) -> Scenario:
    """Reference and ``n_windows`` windows with a growing covariate shift (window 0 is unshifted)."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    x_train = _features(rng, n_train, 0.0)
    model: Any = LogisticRegression().fit(x_train, _labels(rng, x_train))

    def window(n: int, shift: float) -> Window:
        x = _features(rng, n, shift)
        proba = np.asarray(model.predict_proba(x)[:, 1], dtype=np.float64)
        return Window(x, _labels(rng, x), proba, (proba > 0.5).astype(np.int64))

    reference = window(n_reference, 0.0)
    shifts = np.linspace(0.0, 1.5, n_windows) * np.where(np.arange(n_windows) % 2 == 0, 1.0, -1.0)
    return Scenario(reference, tuple(window(window_size, float(s)) for s in shifts))
