"""Exact SHAP values of linear models: ``coef_j * (x_j - mean_j)``.

With the features taken as independent (interventional SHAP over a background sample, as
``shap.LinearExplainer`` computes by default), the Shapley value of column ``j`` of a linear
function is its coefficient times the column's distance from its background mean, and the base
value is the function at the mean. Logistic regression is explained in log-odds (its decision
function): per class score for a multinomial model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["LINEAR_MODELS", "LinearShap"]

_CLASSIFIERS = ("LogisticRegression", "LogisticRegressionCV")
_REGRESSORS = (
    "LinearRegression",
    "Ridge",
    "RidgeCV",
    "Lasso",
    "LassoCV",
    "ElasticNet",
    "ElasticNetCV",
    "BayesianRidge",
    "ARDRegression",
    "HuberRegressor",
)
LINEAR_MODELS = frozenset((*_CLASSIFIERS, *_REGRESSORS))


class LinearShap:
    """Exact linear SHAP of a fitted scikit-learn linear model over a background matrix."""

    method = "linear_shap"
    exact = True

    def __init__(self, model: Any, background: np.ndarray) -> None:
        name = type(model).__name__
        if name not in LINEAR_MODELS or not type(model).__module__.startswith("sklearn."):
            raise TypeError(f"{name} is not a linear model linear SHAP supports")
        coef = np.asarray(model.coef_, dtype=np.float64)
        if name in _REGRESSORS and coef.ndim != 1:
            raise TypeError("multi-output linear regression is not supported")
        self.model = model
        self.coef = np.atleast_2d(coef)  # (outputs, features)
        intercept = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64))
        bg = np.asarray(background, dtype=np.float64)
        self.mean = bg.mean(axis=0)
        self.base = self.coef @ self.mean + intercept
        self.background = f"{len(bg)} background rows"
        if name in _CLASSIFIERS:
            self.classes: list[Any] | None = np.asarray(model.classes_).tolist()
            assert self.classes is not None
            binary = len(self.classes) == 2
            self.output = "log_odds" if binary else "logit"
            self.labels: list[Any] | None = self.classes[1:] if binary else self.classes
        else:
            self.classes, self.labels, self.output = None, None, "prediction"

    def shap_values(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Attributions (rows, features, outputs) and base values (outputs,)."""
        centered = np.asarray(x, dtype=np.float64) - self.mean
        return centered[:, :, None] * self.coef.T[None, :, :], self.base.copy()

    def raw_output(self, x: np.ndarray) -> np.ndarray:
        from modelward.explain.tree import raw_output

        return raw_output(self.model, x, self.output)
