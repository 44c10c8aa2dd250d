"""Performance of one window: realized metrics on its labeled rows, label-free estimates on all rows.

Uses :mod:`modelward.monitoring.performance` (``realized_metrics``, ``CBPE`` for classifiers, ``DLE``
for regression, ``detect_concept_drift``). Fitted estimators are cached on the
:class:`~modelward.monitoring.Holdout`, so a monitor loop calibrates once per model version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from modelward.errors import ModelwardError
from modelward.monitoring.performance import (
    CBPE,
    CBPE_METRICS,
    DLE,
    ConceptDriftResult,
    MetricEstimate,
    detect_concept_drift,
    realized_metrics,
)
from modelward.monitoring.reference import Holdout, class_index

__all__ = ["Performance", "PerformanceResult", "resamples"]

log = logging.getLogger(__name__)

_MIN_LABELED = 1  # realized metrics need at least this many labeled rows
_MAX_BOOTSTRAP = 1000  # resamples on small windows; large ones get fewer (monitor.resample_budget)
_MAX_SIMULATIONS = 500  # CBPE's default
_MIN_RESAMPLES = 50


def resamples(rows: int, most: int, budget: int) -> int:
    """Bootstrap resamples / CBPE simulations for a window of ``rows``: ``most`` while
    ``rows * most`` fits the budget, fewer on larger windows (whose intervals are narrow anyway),
    never fewer than 50.

    >>> resamples(5_000, 1000, 6_000_000), resamples(30_000, 1000, 6_000_000), resamples(10**6, 500, 6_000_000)
    (1000, 200, 50)
    """
    return int(max(_MIN_RESAMPLES, min(most, budget // max(rows, 1))))


@dataclass
class PerformanceResult:
    """What :class:`Performance` found on one window (filled in place)."""

    realized: dict[str, MetricEstimate] = field(default_factory=dict)
    estimated: dict[str, MetricEstimate] = field(default_factory=dict)
    concept_drift: list[ConceptDriftResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Unavailable:
    """Why a holdout has no label-free estimator (cached like a fitted one)."""

    reason: str


class Performance:
    """Performance figures of windows of one model, from its :class:`Holdout` (estimators fitted once, lazily)."""

    def __init__(
        self,
        holdout: Holdout,
        *,
        confidence: float = 0.95,
        resample_budget: int = 6_000_000,
        concept_drift_rows: int = 10_000,
    ) -> None:
        self.holdout = holdout
        self.confidence = confidence
        self.resample_budget = resample_budget
        self.concept_drift_rows = concept_drift_rows

    # -- label handling ----------------------------------------------------------------------

    def _classes(self) -> npt.NDArray[Any]:
        return np.asarray(self.holdout.classes, dtype=object)

    def _as_classes(self, values: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]:
        """Values mapped onto the class list (by equality, so ``1.0`` is class ``1``); mask of valid."""
        idx = class_index(list(self.holdout.classes or []), values)
        ok = ~np.isnan(idx)
        out = np.empty(len(values), dtype=object)
        out[ok] = self._classes()[idx[ok].astype(np.int64)]
        return out, ok

    def _numbers(self, values: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(np.float64)

    # -- realized ----------------------------------------------------------------------------

    def realized(
        self,
        labels: npt.NDArray[Any],
        prediction: npt.NDArray[Any],
        proba: npt.NDArray[np.float64] | None,
        result: PerformanceResult,
    ) -> None:
        """Realized metrics (and concept-drift detectors) on the labeled rows given, in log order."""
        ref = self.holdout
        if len(labels) < _MIN_LABELED:
            return
        if ref.task == "classification" and ref.classes is not None:
            y_true, ok_true = self._as_classes(labels)
            y_pred, ok_pred = self._as_classes(prediction)
            ok = ok_true & ok_pred
            if proba is not None:
                ok &= np.isfinite(proba).all(axis=1)
            if (~ok).any():
                result.notes.append(
                    f"{int((~ok).sum())} labeled rows skipped: label or prediction is not one of "
                    f"the model's classes {list(ref.classes)}, or probabilities are missing"
                )
            if not ok.any():
                return
            metrics = realized_metrics(
                "classification",
                y_true[ok],
                y_pred[ok],
                proba=None if proba is None else proba[ok],
                classes=self._classes(),
                confidence=self.confidence,
                n_bootstrap=resamples(int(ok.sum()), _MAX_BOOTSTRAP, self.resample_budget),
            )
            errors = (y_true[ok] != y_pred[ok]).astype(np.float64)
        else:
            y, p = self._numbers(labels), self._numbers(prediction)
            ok = np.isfinite(y) & np.isfinite(p)
            if (~ok).any():
                result.notes.append(
                    f"{int((~ok).sum())} labeled rows skipped: label or prediction is not a number"
                )
            if not ok.any():
                return
            metrics = realized_metrics(
                "regression",
                y[ok],
                p[ok],
                confidence=self.confidence,
                n_bootstrap=resamples(int(ok.sum()), _MAX_BOOTSTRAP, self.resample_budget),
            )
            errors = np.abs(y[ok] - p[ok])
        result.realized = dict(metrics)
        self._concept_drift(errors, result)

    def _concept_drift(self, errors: npt.NDArray[np.float64], result: PerformanceResult) -> None:
        if self.concept_drift_rows <= 0:
            return
        if len(errors) > self.concept_drift_rows:  # the detectors update row by row: bound their work
            result.notes.append(
                f"concept-drift detectors ran on the last {self.concept_drift_rows} of "
                f"{len(errors)} labeled rows (monitor.concept_drift_rows)"
            )
            errors = errors[-self.concept_drift_rows :]
        try:
            found = detect_concept_drift(errors)
        except ModelwardError as exc:
            result.notes.append(f"concept-drift detectors skipped: {exc.message}")
            return
        result.concept_drift = list(found)

    # -- estimated ---------------------------------------------------------------------------

    def _fitted(self) -> Any:
        """The estimator fitted on the holdout at this confidence (or why there is none), cached on it."""
        cache = self.holdout.estimators
        if self.confidence not in cache:
            cache[self.confidence] = self._fit()
        return cache[self.confidence]

    def _fit(self) -> Any:
        ref = self.holdout
        try:
            if ref.task == "classification":
                if ref.proba is None or ref.classes is None:
                    return _Unavailable("the model gives no probabilities, so CBPE cannot estimate")
                cbpe = CBPE(metrics=CBPE_METRICS, confidence=self.confidence)
                return cbpe.fit(ref.y, ref.proba, self._classes(), y_pred=ref.y_pred)
            dle = DLE(confidence=self.confidence)
            return dle.fit(ref.features, ref.y, ref.y_pred)
        except ModelwardError as exc:
            return _Unavailable(f"label-free estimation unavailable: {exc.message}")

    def estimated(
        self,
        features: pd.DataFrame,
        prediction: npt.NDArray[Any],
        proba: npt.NDArray[np.float64] | None,
        result: PerformanceResult,
    ) -> None:
        """CBPE (classifier) or DLE (regression) estimates over every row of the window."""
        estimator = self._fitted()
        if isinstance(estimator, _Unavailable):
            result.notes.append(estimator.reason)
            return
        ref = self.holdout
        try:
            if ref.task == "classification":
                if proba is None:
                    result.notes.append("the logged predictions carry no probabilities: CBPE skipped")
                    return
                ok = np.isfinite(proba).all(axis=1)
                y_pred, ok_pred = self._as_classes(prediction)
                ok &= ok_pred
                if not ok.any():
                    return
                estimator.n_simulations = resamples(int(ok.sum()), _MAX_SIMULATIONS, self.resample_budget)
                estimates = estimator.estimate(proba[ok], y_pred=y_pred[ok])
            else:
                p = self._numbers(prediction)
                ok = np.isfinite(p)
                if not ok.any():
                    return
                x = features.reindex(columns=ref.feature_names)[ok].reset_index(drop=True)
                estimates = estimator.estimate(x, p[ok])
        except ModelwardError as exc:
            result.notes.append(f"label-free estimation failed on this window: {exc.message}")
            return
        result.estimated = dict(estimates)
