"""Direct loss estimation (DLE): a regression model's MAE and RMSE without labels.

On the labeled reference, a gradient-boosted model (scikit-learn ``HistGradientBoostingRegressor``,
seeded) learns the expected absolute error ``E[|y - ŷ| | x, ŷ]`` and another the expected squared error
from the features plus the monitored model's own prediction. On an unlabeled window the estimated MAE
is the mean predicted absolute error and the estimated RMSE the root of the mean predicted squared
error. Like CBPE this assumes covariate shift only: the errors' relation to ``(x, ŷ)`` stays as it was.
Tree models do not extrapolate: where a window moves outside the reference's range (or into regions the
reference barely covers) the predicted errors stay at the edge values, and the estimate tends to be low.

Interval (``"normal"``): the realized MAE of a window is a mean of per-row absolute errors whose
variance is ``E[e²|x] - E[|e| | x]²`` (both from the models), so ``MAE ± z·sqrt(Σ var_i)/n``; for the
squared error ``Var(e²|x) ≈ κ·E[e²|x]²`` with ``κ`` measured on the reference (2 for Gaussian errors),
and the bounds on the mean squared error are square-rooted. They describe the sampling noise of the
window, not the error of the loss models themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import pandas as pd

from modelward.errors import ConfigError, DataError
from modelward.monitoring.performance import _inputs
from modelward.monitoring.performance._kernels import FloatArray, z_value
from modelward.monitoring.performance.result import MetricEstimate

logger = logging.getLogger(__name__)

DLE_METRICS = ("mae", "rmse")
PREDICTION_COLUMN = "__prediction__"


class DLE:
    """Estimate a regression model's MAE and RMSE on unlabeled windows.

    Args:
        metrics: any of ``"mae"``, ``"rmse"``.
        confidence: nominal coverage of the interval.
        max_iter, learning_rate: of the two ``HistGradientBoostingRegressor`` loss models.
        seed: their ``random_state``.
        n_threads: OpenMP threads for fitting and predicting (1 by default: the loss models are small,
            and one thread avoids oversubscribing a busy machine; ``None`` leaves scikit-learn's default).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(-2, 2, size=(2000, 2))
    >>> y = x[:, 0] + rng.normal(size=2000) * (0.2 + np.abs(x[:, 1]))     # noisier where |x1| is large
    >>> dle = DLE(max_iter=50).fit(x, y, x[:, 0])                          # the model predicts x0
    >>> x_cur = np.column_stack([rng.uniform(-2, 2, 2000), rng.uniform(1, 2, 2000)])
    >>> mae = dle.estimate(x_cur, x_cur[:, 0])["mae"]                     # true: 1.7 * sqrt(2/pi) = 1.36
    >>> abs(mae.value - 1.36) < 0.1, mae.method, mae.interval
    (True, 'dle', 'normal')
    """

    def __init__(
        self,
        metrics: Sequence[str] = DLE_METRICS,
        *,
        confidence: float = 0.95,
        max_iter: int = 100,
        learning_rate: float = 0.1,
        seed: int = 0,
        n_threads: int | None = 1,
    ) -> None:
        self.metrics = metrics
        self.confidence = confidence
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.seed = seed
        self.n_threads = n_threads

    def _design(self, x: Any, y_pred: Any, fitting: bool) -> pd.DataFrame:
        if isinstance(x, pd.DataFrame):
            frame = x.copy()
            frame.columns = [str(c) for c in frame.columns]
        else:
            arr = np.asarray(x)
            if arr.ndim == 1:
                arr = arr[:, None]
            if arr.ndim != 2:
                raise DataError(
                    f"x must be a DataFrame or a 2-D array (rows x features), got shape {arr.shape}."
                )
            frame = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
        n = frame.shape[0]
        if n == 0:
            raise DataError("x is empty: the window has no rows.")
        if fitting:
            self.features_ = list(frame.columns)
            self.categories_ = {
                c: pd.Index(pd.unique(frame[c].dropna()))
                for c in frame.columns
                if not pd.api.types.is_numeric_dtype(frame[c]) or frame[c].dtype == bool
            }
        else:
            missing = [c for c in self.features_ if c not in frame.columns]
            if missing:
                raise DataError(
                    f"x lacks the reference feature columns {missing}; pass the same columns the "
                    "DLE was fitted on.",
                    details={"missing": missing},
                )
            frame = frame[self.features_]
        for column, categories in self.categories_.items():
            frame[column] = pd.Categorical(frame[column], categories=categories)
        for column in self.features_:
            if column not in self.categories_:
                frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(np.float64)
        frame[PREDICTION_COLUMN] = _inputs.numbers(y_pred, "y_pred", n)
        return frame

    def _model(self) -> Any:
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            random_state=self.seed,
            categorical_features="from_dtype",
        )

    def _threads(self) -> AbstractContextManager[Any]:
        if self.n_threads is None:
            return nullcontext()
        import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime, so that the limit reaches it)
        from threadpoolctl import threadpool_limits

        limits: AbstractContextManager[Any] = threadpool_limits(limits=self.n_threads, user_api="openmp")
        return limits

    def fit(self, x: Any, y_true: Any, y_pred: Any) -> DLE:
        """Learn the expected absolute and squared error from a labeled reference window (features ``x``)."""
        with self._threads():
            return self._fit(x, y_true, y_pred)

    def _fit(self, x: Any, y_true: Any, y_pred: Any) -> DLE:
        metrics = (self.metrics,) if isinstance(self.metrics, str) else tuple(self.metrics)
        unknown = [m for m in metrics if m not in DLE_METRICS]
        if unknown or not metrics:
            raise ConfigError(
                f"DLE cannot estimate {unknown or 'an empty metric list'}; choose from "
                f"{', '.join(DLE_METRICS)}."
            )
        if not 0.0 < self.confidence < 1.0:
            raise ConfigError(f"confidence must lie strictly between 0 and 1, got {self.confidence!r}.")
        self.metrics_ = metrics
        design = self._design(x, y_pred, fitting=True)
        error = _inputs.numbers(y_true, "y_true", design.shape[0]) - design[PREDICTION_COLUMN].to_numpy()
        self.abs_model_ = self._model().fit(design, np.abs(error))
        self.sq_model_ = self._model().fit(design, error**2)
        self.kurtosis_ratio_ = self._kurtosis_ratio(design, error**2)
        self.n_reference_ = design.shape[0]
        logger.debug("DLE fitted on %d rows, %d features", self.n_reference_, len(self.features_))
        return self

    def _kurtosis_ratio(self, design: pd.DataFrame, squared: FloatArray) -> float:
        """``κ`` in ``Var(e²|x) ≈ κ·E[e²|x]²``, measured out of sample (half the reference fits, half tests)."""
        n = design.shape[0]
        if n < 40:
            return 2.0  # the Gaussian value when the reference is too small to measure it
        held_out = np.random.default_rng(self.seed).permutation(n) < n // 2
        model = self._model().fit(design[~held_out], squared[~held_out])
        sq_hat = np.maximum(model.predict(design[held_out]), 0.0)
        spread = float(np.mean(sq_hat**2))
        return float(np.mean((squared[held_out] - sq_hat) ** 2) / spread) if spread > 0 else 2.0

    def estimate(self, x: Any, y_pred: Any) -> dict[str, MetricEstimate]:
        """Estimated MAE/RMSE of the model on an unlabeled window (features ``x`` and its predictions)."""
        if not hasattr(self, "abs_model_"):
            raise ConfigError("This DLE is not fitted yet: call fit(X_ref, y_true_ref, y_pred_ref) first.")
        design = self._design(x, y_pred, fitting=False)
        n = design.shape[0]
        with self._threads():
            abs_hat: FloatArray = np.maximum(self.abs_model_.predict(design), 0.0)
            sq_hat: FloatArray = np.maximum(self.sq_model_.predict(design), 0.0)
        z = z_value(self.confidence)
        out: dict[str, MetricEstimate] = {}
        if "mae" in self.metrics_:
            mae = float(abs_hat.mean())
            half = z * float(np.sqrt(np.sum(np.maximum(sq_hat - abs_hat**2, 0.0)))) / n
            out["mae"] = MetricEstimate(
                "mae", mae, max(0.0, mae - half), mae + half, n, "dle", "normal", self.confidence
            )
        if "rmse" in self.metrics_:
            mse = float(sq_hat.mean())
            half = z * float(np.sqrt(self.kurtosis_ratio_ * np.sum(sq_hat**2))) / n
            out["rmse"] = MetricEstimate(
                "rmse",
                float(np.sqrt(mse)),
                float(np.sqrt(max(0.0, mse - half))),
                float(np.sqrt(mse + half)),
                n,
                "dle",
                "normal",
                self.confidence,
            )
        return {m: out[m] for m in self.metrics_}
