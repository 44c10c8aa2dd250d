"""Exact TreeSHAP for scikit-learn tree models, computed by the ``shap`` library (the reference).

Path-dependent TreeSHAP (Lundberg et al. 2020, Algorithm 2): the expectation over absent
features follows each tree's training covers, so no background sample is needed and the base
value is the model's average output on its training data. Outputs are the model's raw output:
probabilities for forests and single trees (their ``predict_proba`` is an average of leaf class
frequencies), log-odds (binary) or per-class scores (multiclass) for gradient boosting,
the prediction for regressors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["TREE_MODELS", "TreeShap"]

_AVERAGED = (
    "RandomForestClassifier",
    "ExtraTreesClassifier",
    "DecisionTreeClassifier",
    "ExtraTreeClassifier",
)
_BOOSTED = ("GradientBoostingClassifier", "HistGradientBoostingClassifier")
_REGRESSORS = (
    "RandomForestRegressor",
    "ExtraTreesRegressor",
    "DecisionTreeRegressor",
    "ExtraTreeRegressor",
    "GradientBoostingRegressor",
    "HistGradientBoostingRegressor",
)
TREE_MODELS = frozenset((*_AVERAGED, *_BOOSTED, *_REGRESSORS))


class TreeShap:
    """Exact TreeSHAP of one fitted scikit-learn tree model (its input columns, as fitted)."""

    method = "tree_shap"
    exact = True
    background = "the training data (tree covers)"

    def __init__(self, model: Any) -> None:
        import shap  # slow to import (numba): only when a tree is explained

        name = type(model).__name__
        if name not in TREE_MODELS or not type(model).__module__.startswith("sklearn."):
            raise TypeError(f"{name} is not a scikit-learn tree model TreeSHAP supports")
        self.model = model
        self.explainer = shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")
        classes = getattr(model, "classes_", None)
        self.classes: list[Any] | None = None if name in _REGRESSORS else np.asarray(classes).tolist()
        # sklearn's own trees compare float32 inputs (HistGradientBoosting bins float64 itself)
        self._float32 = not name.startswith("HistGradientBoosting")
        if name in _REGRESSORS:
            self.output, self.labels = "prediction", None
        elif name in _AVERAGED:
            self.output, self.labels = "probability", self.classes
        else:
            assert self.classes is not None
            binary = len(self.classes) == 2
            self.output = "log_odds" if binary else "logit"
            self.labels = self.classes[1:] if binary else self.classes

    def shap_values(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Attributions (rows, features, outputs) and base values (outputs,) for a float matrix."""
        x = np.asarray(x, dtype=np.float64)
        if self._float32:
            x = x.astype(np.float32).astype(np.float64)
        values = np.asarray(self.explainer.shap_values(x, check_additivity=False), dtype=np.float64)
        if values.ndim == 2:
            values = values[:, :, None]
        base = np.atleast_1d(np.asarray(self.explainer.expected_value, dtype=np.float64))
        return values, base

    def raw_output(self, x: np.ndarray) -> np.ndarray:
        """The model's output in the explained space, (rows, outputs): what base + attributions equal."""
        return raw_output(self.model, x, self.output)


def raw_output(model: Any, x: Any, output: str) -> np.ndarray:
    """``predict_proba``, ``decision_function`` or ``predict`` of ``model`` as (rows, outputs)."""
    if output == "probability":
        out = model.predict_proba(x)
    elif output in ("log_odds", "logit"):
        out = model.decision_function(x)
    else:
        out = model.predict(x)
    out = np.asarray(out, dtype=np.float64)
    return out[:, None] if out.ndim == 1 else out
