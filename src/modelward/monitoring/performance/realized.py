"""Realized performance on a labeled window, with confidence intervals.

Values equal scikit-learn's (``accuracy_score``, ``precision_score``/``recall_score``/``f1_score`` with
``zero_division=0``, ``roc_auc_score`` (``multi_class="ovr"`` for several classes), ``log_loss``,
``mean_absolute_error``, ``root_mean_squared_error``, ``r2_score``). Intervals:

- accuracy, and binary precision and recall: Wilson score interval (each is an exact binomial proportion:
  correct / rows, true positives / predicted positives, true positives / actual positives);
- F1, macro precision/recall, ROC AUC, log loss, MAE, RMSE, R²: seeded percentile bootstrap over rows
  (``n_bootstrap`` resamples drawn at once as an index matrix; every metric of a window from the same
  resamples; windows above 10,000 rows are resampled on a 10,000-row subsample with the spread rescaled
  to the window's size — see :func:`~modelward.monitoring.performance._kernels.bootstrap_bounds`).

The interval each figure got is recorded in :attr:`MetricEstimate.interval`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from modelward.errors import ConfigError, DataError
from modelward.monitoring.performance import _inputs
from modelward.monitoring.performance._kernels import (
    FloatArray,
    IntArray,
    bootstrap_bounds,
    confusion_counts,
    confusion_metrics,
    ovr_auc,
    wilson,
)
from modelward.monitoring.performance.result import MetricEstimate

Task = Literal["classification", "regression"]
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("mae", "rmse", "r2")


def check_settings(confidence: float, n_bootstrap: int) -> None:
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must lie strictly between 0 and 1, got {confidence!r} (e.g. 0.95).")
    if n_bootstrap < 0:
        raise ConfigError(f"n_bootstrap must be >= 0 (0 turns the bootstrap off), got {n_bootstrap!r}.")


def realized_metrics(
    task: Task,
    y_true: Any,
    y_pred: Any,
    *,
    proba: Any = None,
    classes: Any = None,
    confidence: float = 0.95,
    n_bootstrap: int = 500,
    seed: int = 0,
) -> dict[str, MetricEstimate]:
    """Performance of a labeled window, each figure with an interval at ``confidence``.

    Args:
        task: ``"classification"`` or ``"regression"``.
        y_true: true labels (or targets).
        y_pred: predicted labels (or values). For classification it may be ``None`` when ``proba`` is
            given: the most probable class is used.
        proba: classification only, ``(n, K)`` class probabilities (columns in ``classes`` order), or 1-D
            P(``classes[1]``) for a binary model. Adds ``roc_auc`` and ``log_loss``.
        classes: the class list; default: the sorted labels seen. Binary metrics treat ``classes[1]`` as
            positive; with more than two classes precision, recall, F1 and ROC AUC are macro averages.
        confidence: nominal coverage of the intervals.
        n_bootstrap: bootstrap resamples (0: no bootstrap intervals), drawn from ``seed``.

    >>> r = realized_metrics("classification", [0, 1, 1, 0, 1, 1], [0, 1, 0, 0, 1, 1])
    >>> r["accuracy"].value, r["recall"].value, r["accuracy"].interval
    (0.8333333333333334, 0.75, 'wilson')
    >>> r = realized_metrics("regression", [1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.5, 4.0])
    >>> r["mae"].value, r["rmse"].interval
    (0.25, 'bootstrap')
    """
    _check_task(task)
    check_settings(confidence, n_bootstrap)
    if task == "regression":
        if proba is not None or classes is not None:
            raise ConfigError(
                "proba and classes apply to classification only; drop them for task='regression'."
            )
        return _regression(y_true, y_pred, confidence, n_bootstrap, seed)
    return _classification(y_true, y_pred, proba, classes, confidence, n_bootstrap, seed)


def _check_task(task: str) -> None:
    if task not in ("classification", "regression"):
        raise ConfigError(f"task must be 'classification' or 'regression', got {task!r}.")


def _estimate(
    metric: str,
    value: float,
    bounds: tuple[float | None, float | None],
    n: int,
    interval: str,
    confidence: float,
) -> MetricEstimate:
    lower, upper = bounds
    if lower is None:
        interval = "none"
    return MetricEstimate(metric, float(value), lower, upper, n, "realized", interval, confidence)


def _classification(
    y_true: Any, y_pred: Any, proba: Any, classes: Any, confidence: float, n_bootstrap: int, seed: int
) -> dict[str, MetricEstimate]:
    truth = _inputs.labels(y_true, "y_true")
    n = truth.shape[0]
    if n == 0:
        raise DataError("y_true is empty: the window has no labeled rows.")
    width = None
    if proba is not None:
        shape = np.shape(proba)
        width = 2 if len(shape) == 1 else (shape[1] if len(shape) == 2 else -1)
    predicted = None if y_pred is None else _inputs.labels(y_pred, "y_pred", n)
    if predicted is None and proba is None:
        raise DataError("Pass y_pred (predicted labels) or proba (class probabilities) to score a window.")
    observed = [truth] if predicted is None else [truth, predicted]
    cls = _inputs.resolve_classes(classes, observed, width)
    k = cls.shape[0]
    probs = None if proba is None else _inputs.probabilities(proba, n, k)
    t = _inputs.encode(truth, cls, "y_true")
    if predicted is not None:
        p = _inputs.encode(predicted, cls, "y_pred")
    else:
        assert probs is not None
        p = np.argmax(probs, axis=1).astype(np.int64)
    positive = 1 if k == 2 else None
    cells = t * k + p
    cm = confusion_counts(cells[None, :], k * k).reshape(1, k, k)
    point = {name: float(v[0]) for name, v in confusion_metrics(cm, positive).items()}
    loss = None
    if probs is not None:
        eps = np.finfo(np.float64).eps
        loss = -np.log(np.clip(probs[np.arange(n), t], eps, 1.0 - eps))
        point["roc_auc"] = float(_auc(probs, t, np.ones((1, n)), positive)[0])
        point["log_loss"] = float(loss.mean())

    names = ["precision", "recall", "f1"] + (["roc_auc", "log_loss"] if probs is not None else [])

    def make_statistic(rows: IntArray | None) -> Callable[[IntArray], FloatArray]:
        c, tt = (cells, t) if rows is None else (cells[rows], t[rows])
        pp = probs if rows is None or probs is None else probs[rows]
        ll = loss if rows is None or loss is None else loss[rows]
        m = c.shape[0]

        def statistic(idx: IntArray) -> FloatArray:
            b = idx.shape[0]
            metrics = confusion_metrics(confusion_counts(c[idx], k * k).reshape(b, k, k), positive)
            cols = [metrics["precision"], metrics["recall"], metrics["f1"]]
            if pp is not None and ll is not None:
                cols += [_auc(pp, tt, confusion_counts(idx, m), positive), ll[idx].mean(axis=1)]
            return np.column_stack(cols)

        return statistic

    bounds = bootstrap_bounds(n, n_bootstrap, seed, make_statistic, [point[m] for m in names], confidence)
    boot_bounds = dict(zip(names, bounds, strict=True))
    tp, fp, fn = (float(cm[0, 1, 1]), float(cm[0, 0, 1]), float(cm[0, 1, 0])) if k == 2 else (0.0, 0.0, 0.0)
    out = {
        "accuracy": _estimate(
            "accuracy",
            point["accuracy"],
            wilson(float(np.sum(t == p)), n, confidence),
            n,
            "wilson",
            confidence,
        )
    }
    if k == 2:
        out["precision"] = _estimate(
            "precision", point["precision"], wilson(tp, tp + fp, confidence), n, "wilson", confidence
        )
        out["recall"] = _estimate(
            "recall", point["recall"], wilson(tp, tp + fn, confidence), n, "wilson", confidence
        )
    else:
        for name in ("precision", "recall"):
            out[name] = _estimate(name, point[name], boot_bounds[name], n, "bootstrap", confidence)
    for name in names[2:]:
        out[name] = _estimate(name, point[name], boot_bounds[name], n, "bootstrap", confidence)
    return out


def _auc(probs: FloatArray, t: IntArray, weights: FloatArray, positive: int | None) -> FloatArray:
    """Realized ROC AUC per weight row (bootstrap counts, or ones for the point value)."""
    return ovr_auc(probs, lambda c: weights * (t == c), lambda c: weights * (t != c), positive)


def _regression(
    y_true: Any, y_pred: Any, confidence: float, n_bootstrap: int, seed: int
) -> dict[str, MetricEstimate]:
    y = _inputs.numbers(y_true, "y_true")
    n = y.shape[0]
    if n == 0:
        raise DataError("y_true is empty: the window has no labeled rows.")
    residual = y - _inputs.numbers(y_pred, "y_pred", n)
    absolute, squared = np.abs(residual), residual**2
    centred = y - y.mean()
    point = {
        "mae": float(absolute.mean()),
        "rmse": float(np.sqrt(squared.mean())),
        "r2": _r2(float(squared.sum()), float((centred**2).sum())),
    }

    def make_statistic(rows: IntArray | None) -> Callable[[IntArray], FloatArray]:
        ab, sq_all, cy = (
            (absolute, squared, centred) if rows is None else (absolute[rows], squared[rows], centred[rows])
        )

        def statistic(idx: IntArray) -> FloatArray:
            sq = sq_all[idx]
            yy = cy[idx]
            ss_tot = np.sum((yy - yy.mean(axis=1, keepdims=True)) ** 2, axis=1)
            ss_res = sq.sum(axis=1)
            r2 = np.full(ss_res.shape, np.nan)
            np.divide(ss_res, ss_tot, out=r2, where=ss_tot > 0)
            return np.column_stack([ab[idx].mean(axis=1), np.sqrt(sq.mean(axis=1)), 1.0 - r2])

        return statistic

    bounds = bootstrap_bounds(
        n, n_bootstrap, seed, make_statistic, [point[m] for m in REGRESSION_METRICS], confidence
    )
    return {
        name: _estimate(name, point[name], bounds[j], n, "bootstrap", confidence)
        for j, name in enumerate(REGRESSION_METRICS)
    }


def _r2(ss_res: float, ss_tot: float) -> float:
    """R² as scikit-learn's ``r2_score`` (1 for a perfect fit of a constant target, else 0 there)."""
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot
