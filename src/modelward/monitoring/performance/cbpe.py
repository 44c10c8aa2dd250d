"""Confidence-based performance estimation (CBPE): a classifier's performance without labels.

If a model's probabilities are calibrated, row ``i`` is correct with probability ``P(predicted class)``,
and the whole confusion matrix has an expectation: the cell (true ``k``, predicted ``j``) is the sum of
``P(k)`` over the rows predicted ``j``. Accuracy, precision, recall and F1 follow from that expected
matrix, ROC AUC from the ROC curve with the probabilities as fractional labels, log loss from the
expected cross-entropy. This is NannyML's CBPE; like it, the estimate assumes the relation between
features and label does not change (covariate shift only — use concept-drift detectors once labels
arrive) and that the probabilities are calibrated on the current data as they were on the reference.

Calibration: :meth:`CBPE.fit` compares the Brier score of the raw reference probabilities with that of
isotonic regression *cross-fitted* on the reference (each fold calibrated by a model fitted on the other
folds, so no row is scored by a calibrator that saw it) and keeps the calibrator only when it lowers the
score (``calibrated_``; the figures are in ``calibration_``).

Interval: labels are drawn ``n_simulations`` times from the calibrated probabilities of the window and
the realized metric computed on each draw; ``lower``/``upper`` are the percentiles: where the realized
value should fall if the probabilities are right (the label noise of a window of that size included).
On windows of :data:`GAUSSIAN_MIN_ROWS` rows or more the confusion matrix and log loss of the draws come
from their normal approximation (exact mean and covariance), so the band costs O(classes²) per draw.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from modelward.errors import ConfigError, DataError
from modelward.monitoring.performance import _inputs
from modelward.monitoring.performance._kernels import (
    FloatArray,
    IntArray,
    blocks,
    confusion_counts,
    confusion_metrics,
    ovr_auc,
    percentile,
)
from modelward.monitoring.performance.realized import check_settings, realized_metrics
from modelward.monitoring.performance.result import MetricEstimate

logger = logging.getLogger(__name__)

CBPE_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
CALIBRATION_MODES = ("auto", "always", "never")
_ECE_BINS = 10
#: From this many rows on, simulated confusion matrices use the normal approximation (see ``_simulate``).
GAUSSIAN_MIN_ROWS = 500
#: Rows drawn one by one for the ROC AUC band at most; larger windows use a subsample (see ``_simulate``).
SIMULATION_MAX_ROWS = 10_000


def brier(proba: FloatArray, codes: IntArray) -> float:
    """Multiclass Brier score: mean over rows of the squared distance to the one-hot label."""
    onehot = np.zeros_like(proba)
    onehot[np.arange(proba.shape[0]), codes] = 1.0
    return float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))


def expected_calibration_error(proba: FloatArray, codes: IntArray, bins: int = _ECE_BINS) -> float:
    """Top-label ECE: confidence vs accuracy in ``bins`` equal-width confidence bins, weighted by size."""
    confidence = proba.max(axis=1)
    correct = (np.argmax(proba, axis=1) == codes).astype(np.float64)
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    gap = np.bincount(which, weights=correct - confidence, minlength=bins)
    return float(np.sum(np.abs(gap)) / max(1, confidence.shape[0]))


class CBPE:
    """Estimate a classifier's accuracy, precision, recall, F1, ROC AUC and log loss without labels.

    Args:
        metrics: which of :data:`CBPE_METRICS` to estimate. Binary: positive class = ``classes[1]``;
            more classes: macro averages (ROC AUC one-vs-rest).
        calibration: ``"auto"`` (isotonic regression when it lowers the cross-fitted Brier score),
            ``"always"`` or ``"never"``.
        n_folds: folds of the cross-fitting on the reference.
        confidence: nominal coverage of the simulated interval; ``n_simulations`` label draws (0: none).
        seed: seeds the folds and the simulations.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p_ref = rng.uniform(size=4000)                       # P(class 1), calibrated by construction
    >>> y_ref = (rng.uniform(size=4000) < p_ref).astype(int)
    >>> cbpe = CBPE(metrics=("accuracy", "roc_auc")).fit(y_ref, p_ref, classes=[0, 1])
    >>> p_cur = rng.beta(0.5, 0.5, size=4000)                # more confident rows: accuracy goes up
    >>> est = cbpe.estimate(p_cur)
    >>> round(est["accuracy"].value, 2), est["accuracy"].method, est["accuracy"].interval
    (0.82, 'cbpe', 'simulated')
    """

    def __init__(
        self,
        metrics: Sequence[str] = ("accuracy", "precision", "recall", "f1", "roc_auc"),
        *,
        calibration: str = "auto",
        n_folds: int = 5,
        confidence: float = 0.95,
        n_simulations: int = 500,
        seed: int = 0,
    ) -> None:
        self.metrics = metrics
        self.calibration = calibration
        self.n_folds = n_folds
        self.confidence = confidence
        self.n_simulations = n_simulations
        self.seed = seed

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> tuple[str, ...]:
        metrics = (self.metrics,) if isinstance(self.metrics, str) else tuple(self.metrics)
        unknown = [m for m in metrics if m not in CBPE_METRICS]
        if unknown or not metrics:
            raise ConfigError(
                f"CBPE cannot estimate {unknown or 'an empty metric list'}; choose from "
                f"{', '.join(CBPE_METRICS)}."
            )
        if self.calibration not in CALIBRATION_MODES:
            raise ConfigError(
                f"calibration must be one of {', '.join(CALIBRATION_MODES)}, got {self.calibration!r}."
            )
        if self.n_folds < 2:
            raise ConfigError(
                f"n_folds must be at least 2 for cross-fitted calibration, got {self.n_folds!r}."
            )
        check_settings(self.confidence, self.n_simulations)
        return metrics

    def fit(self, y_true: Any, proba: Any, classes: Any = None, *, y_pred: Any = None) -> CBPE:
        """Learn the calibration from a labeled reference window (the model's probabilities and truth).

        Sets ``classes_``, ``calibrated_``, ``calibration_`` (Brier and ECE before and after, and the
        decision), ``calibrators_`` and ``reference_metrics_`` (realized metrics on the reference).
        """
        self.metrics_ = self._check_params()
        truth = _inputs.labels(y_true, "y_true")
        n = truth.shape[0]
        width = 2 if np.ndim(proba) == 1 else (np.shape(proba)[1] if np.ndim(proba) == 2 else -1)
        self.classes_ = _inputs.resolve_classes(classes, [truth], width)
        raw = _inputs.probabilities(proba, n, len(self.classes_))
        codes = _inputs.encode(truth, self.classes_, "y_true")
        self.n_reference_ = n
        self.calibrators_: list[Any] | None = None
        self.calibrated_, self.calibration_ = self._decide(raw, codes)
        if self.calibrated_:
            self.calibrators_ = self._fit_calibrators(raw, codes)
        logger.debug("CBPE fitted on %d rows: %s", n, self.calibration_["decision"])
        self.reference_metrics_ = realized_metrics(
            "classification",
            truth,
            y_pred,
            proba=raw,
            classes=self.classes_,
            confidence=self.confidence,
            n_bootstrap=0,
        )
        return self

    def _fit_calibrators(self, raw: FloatArray, codes: IntArray) -> list[Any]:
        from sklearn.isotonic import IsotonicRegression

        columns = [1] if raw.shape[1] == 2 else range(raw.shape[1])
        return [
            IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw[:, k], codes == k)
            for k in columns
        ]

    def _decide(self, raw: FloatArray, codes: IntArray) -> tuple[bool, dict[str, Any]]:
        info: dict[str, Any] = {
            "criterion": "brier",
            "method": "isotonic",
            "n_folds": self.n_folds,
            "brier_raw": brier(raw, codes),
            "ece_raw": expected_calibration_error(raw, codes),
        }
        if self.calibration == "never":
            info["decision"] = "not calibrated: calibration='never'"
            return False, info
        n = raw.shape[0]
        if n < 2 * self.n_folds:
            if self.calibration == "always":
                raise DataError(
                    f"Cross-fitted calibration needs at least {2 * self.n_folds} reference rows, "
                    f"got {n}; use a larger reference or calibration='never'."
                )
            info["decision"] = f"not calibrated: {n} reference rows are too few for {self.n_folds} folds"
            return False, info
        oof = np.empty_like(raw)
        perm = np.random.default_rng(self.seed).permutation(n)
        for fold in np.array_split(perm, self.n_folds):
            train = np.ones(n, dtype=bool)
            train[fold] = False
            oof[fold] = _apply(self._fit_calibrators(raw[train], codes[train]), raw[fold])
        info["brier_calibrated"] = brier(oof, codes)
        info["ece_calibrated"] = expected_calibration_error(oof, codes)
        better = info["brier_calibrated"] < info["brier_raw"]
        if self.calibration == "always":
            info["decision"] = "calibrated: calibration='always'"
            return True, info
        verb = "lowered" if better else "did not lower"
        info["decision"] = (
            f"{'calibrated' if better else 'not calibrated'}: cross-fitted isotonic regression "
            f"{verb} the Brier score ({info['brier_raw']:.6f} -> {info['brier_calibrated']:.6f})"
        )
        return bool(better), info

    # --------------------------------------------------------------- estimating
    def _fitted(self) -> None:
        if not hasattr(self, "calibrated_"):
            raise ConfigError(
                "This CBPE is not fitted yet: call fit(y_true_ref, proba_ref, classes) on the "
                "labeled reference first."
            )

    def calibrate(self, proba: Any) -> FloatArray:
        """The probabilities CBPE uses for ``proba`` (unchanged when calibration was not kept)."""
        self._fitted()
        raw = _inputs.probabilities(proba, None, len(self.classes_))
        return raw if self.calibrators_ is None else _apply(self.calibrators_, raw)

    def estimate(self, proba: Any, *, y_pred: Any = None) -> dict[str, MetricEstimate]:
        """Estimated metrics for an unlabeled window of the model's probabilities.

        ``y_pred`` defaults to the most probable class of each row (pass the model's own labels if it
        uses another threshold). Raises :class:`~modelward.errors.DataError` for a matrix of the wrong
        width, rows that do not sum to 1, or labels outside ``classes_``.
        """
        self._fitted()
        k = len(self.classes_)
        raw = _inputs.probabilities(proba, None, k)
        n = raw.shape[0]
        if y_pred is None:
            pred = np.argmax(raw, axis=1).astype(np.int64)
        else:
            pred = _inputs.encode(_inputs.labels(y_pred, "y_pred", n), self.classes_, "y_pred")
        cal = raw if self.calibrators_ is None else _apply(self.calibrators_, raw)
        positive = 1 if k == 2 else None
        nll = -np.log(np.clip(raw, np.finfo(np.float64).eps, 1.0 - np.finfo(np.float64).eps))
        expected: FloatArray = np.stack(
            [np.bincount(pred, weights=cal[:, t], minlength=k).astype(np.float64) for t in range(k)]
        )
        point = {name: float(v[0]) for name, v in confusion_metrics(expected[None], positive).items()}
        if "roc_auc" in self.metrics_:
            point["roc_auc"] = float(
                ovr_auc(raw, lambda c: cal[None, :, c], lambda c: 1.0 - cal[None, :, c], positive)[0]
            )
        point["log_loss"] = float(np.mean(np.sum(cal * nll, axis=1)))
        sims = self._simulate(raw, cal, pred, nll, positive, point)
        out = {}
        for j, name in enumerate(self.metrics_):
            lower, upper = percentile(sims[:, j], self.confidence)
            out[name] = MetricEstimate(
                name,
                point[name],
                lower,
                upper,
                n,
                "cbpe",
                "simulated" if lower is not None else "none",
                self.confidence,
            )
        return out

    def _simulate(
        self,
        raw: FloatArray,
        cal: FloatArray,
        pred: IntArray,
        nll: FloatArray,
        positive: int | None,
        point: dict[str, float],
    ) -> FloatArray:
        """Realized metrics on ``n_simulations`` label draws from ``cal``: ``(n_simulations, metrics)``.

        From :data:`GAUSSIAN_MIN_ROWS` rows on, the confusion matrix of the drawn labels and their mean log
        loss are drawn from their normal approximation (sums of independent per-row draws: exact mean and
        covariance), which costs nothing per row; ROC AUC, and everything on smaller windows, comes from
        drawing every row's label (for ROC AUC on windows above :data:`SIMULATION_MAX_ROWS`, on a seeded
        subsample of that size, the spread rescaled by ``sqrt(subsample / n)``).
        """
        n = cal.shape[0]
        rng = np.random.default_rng(self.seed)
        gaussian = n >= GAUSSIAN_MIN_ROWS
        per_row = [m for m in self.metrics_ if m == "roc_auc" or not gaussian]
        columns: dict[str, FloatArray] = {}
        if len(per_row) < len(self.metrics_):
            confusion = _gaussian_confusions(cal, pred, self.n_simulations, rng)
            columns |= confusion_metrics(confusion, positive)
            mean = np.sum(cal * nll, axis=1)
            spread = np.sqrt(np.sum(np.sum(cal * nll**2, axis=1) - mean**2).clip(0.0)) / n
            columns["log_loss"] = mean.mean() + spread * rng.standard_normal(self.n_simulations)
        if per_row and gaussian and n > SIMULATION_MAX_ROWS:
            # Only ROC AUC is left: draw on a subsample and rescale the spread to the window's size.
            rows = np.sort(rng.choice(n, size=SIMULATION_MAX_ROWS, replace=False))
            sub_raw, sub_cal = raw[rows], cal[rows]
            centre = ovr_auc(
                sub_raw, lambda c: sub_cal[None, :, c], lambda c: 1.0 - sub_cal[None, :, c], positive
            )
            draws = self._draw_rows(sub_raw, sub_cal, pred[rows], nll[rows], positive, per_row, rng)[:, 0]
            columns["roc_auc"] = point["roc_auc"] + (draws - centre) * np.sqrt(SIMULATION_MAX_ROWS / n)
        elif per_row:
            columns |= dict(
                zip(per_row, self._draw_rows(raw, cal, pred, nll, positive, per_row, rng).T, strict=True)
            )
        if self.n_simulations == 0:
            return np.empty((0, len(self.metrics_)))
        return np.column_stack([columns[m] for m in self.metrics_])

    def _draw_rows(
        self,
        raw: FloatArray,
        cal: FloatArray,
        pred: IntArray,
        nll: FloatArray,
        positive: int | None,
        metrics: list[str],
        rng: np.random.Generator,
    ) -> FloatArray:
        n, k = cal.shape
        cumulative = np.cumsum(cal, axis=1)[:, :-1]
        rows = np.arange(n) * k
        out = []
        for b in blocks(self.n_simulations, n):
            u = rng.random((b, n))
            drawn: npt.NDArray[np.int64] = np.zeros((b, n), dtype=np.int64)
            for c in range(k - 1):
                drawn += u >= cumulative[None, :, c]
            m = confusion_metrics(confusion_counts(drawn * k + pred, k * k).reshape(b, k, k), positive)
            cols = []
            for name in metrics:
                if name == "roc_auc":
                    cols.append(_simulated_auc(raw, drawn, positive))
                elif name == "log_loss":
                    cols.append(nll.ravel()[rows + drawn].mean(axis=1))
                else:
                    cols.append(m[name])
            out.append(np.column_stack(cols))
        return np.concatenate(out) if out else np.empty((0, len(metrics)))


def _gaussian_confusions(cal: FloatArray, pred: IntArray, draws: int, rng: np.random.Generator) -> FloatArray:
    """``draws`` confusion matrices ``(draws, K, K)`` (rows: truth) of labels drawn from ``cal``, by the normal
    approximation: the true-label counts among the rows predicted ``j`` have mean ``Σ p_i`` and covariance
    ``Σ (diag(p_i) - p_i p_iᵀ)``; counts are clipped at 0."""
    k = cal.shape[1]
    out = np.zeros((draws, k, k))
    for j in range(k):
        rows = cal[pred == j]
        if rows.shape[0] == 0:
            continue
        mean = rows.sum(axis=0)
        values, vectors = np.linalg.eigh(np.diag(mean) - rows.T @ rows)
        root = vectors * np.sqrt(values.clip(0.0))
        out[:, :, j] = (mean + rng.standard_normal((draws, k)) @ root.T).clip(0.0)
    return out


def _simulated_auc(raw: FloatArray, drawn: IntArray, positive: int | None) -> FloatArray:
    return ovr_auc(
        raw, lambda c: (drawn == c).astype(np.float64), lambda c: (drawn != c).astype(np.float64), positive
    )


def _apply(calibrators: list[Any], raw: FloatArray) -> FloatArray:
    """Calibrated probabilities: the positive column for binary models, each column then renormalised."""
    if raw.shape[1] == 2:
        p = np.asarray(calibrators[0].predict(raw[:, 1]), dtype=np.float64)
        return np.column_stack([1.0 - p, p])
    cal = np.column_stack(
        [np.asarray(c.predict(raw[:, k]), dtype=np.float64) for k, c in enumerate(calibrators)]
    )
    total = cal.sum(axis=1, keepdims=True)
    return np.where(total > 0, cal / np.where(total > 0, total, 1.0), raw)
