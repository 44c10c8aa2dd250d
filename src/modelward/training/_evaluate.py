"""Holdout metrics for a fitted estimator (scikit-learn's implementations)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def predict_proba(model: Any, features: pd.DataFrame) -> np.ndarray | None:
    """Class probabilities, or ``None`` when the estimator has no ``predict_proba``."""
    if not hasattr(model, "predict_proba"):
        return None
    try:
        return np.asarray(model.predict_proba(features), dtype=float)
    except (AttributeError, NotImplementedError):
        return None


def evaluate(task: str, model: Any, features: pd.DataFrame, y_true: pd.Series) -> dict[str, float | None]:
    """Classification: accuracy, precision, recall, F1, ROC AUC, log loss. Regression: MAE, RMSE, R²."""
    from sklearn import metrics as skm  # imported on first use: scikit-learn is slow to import

    y_pred = np.asarray(model.predict(features))
    if task == "regression":
        y = y_true.to_numpy(dtype=float)
        return {
            "mae": _f(skm.mean_absolute_error(y, y_pred)),
            "rmse": _f(math.sqrt(skm.mean_squared_error(y, y_pred))),
            "r2": _f(skm.r2_score(y, y_pred)) if len(y) > 1 else None,
        }
    classes = list(getattr(model, "classes_", np.unique(y_true)))
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    kwargs: dict[str, Any] = {"average": average, "zero_division": 0}
    if binary:
        kwargs["pos_label"] = classes[1]
    out: dict[str, float | None] = {
        "accuracy": _f(skm.accuracy_score(y_true, y_pred)),
        "precision": _f(skm.precision_score(y_true, y_pred, **kwargs)),
        "recall": _f(skm.recall_score(y_true, y_pred, **kwargs)),
        "f1": _f(skm.f1_score(y_true, y_pred, **kwargs)),
        "roc_auc": None,
        "log_loss": None,
    }
    proba = predict_proba(model, features)
    present = set(pd.unique(y_true))
    if proba is not None and len(present) > 1:
        if binary:
            out["roc_auc"] = _f(skm.roc_auc_score(y_true == classes[1], proba[:, 1]))
        elif present == set(classes):
            out["roc_auc"] = _f(skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes))
        out["log_loss"] = _f(skm.log_loss(y_true, proba, labels=classes))
    return out


def _f(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value
