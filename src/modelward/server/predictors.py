"""Cheaper ways to run a micro-batch through common models, each checked against the estimator.

* :func:`float_matrix`: when every input column is a float column, the batch becomes one 2-D
  array (and a DataFrame over it, for models fitted with column names) instead of a frame
  assembled column by column.
* :class:`ForestProba`: class probabilities of a fitted ``RandomForestClassifier`` or
  ``ExtraTreesClassifier`` computed the way scikit-learn computes them (the same float32
  input, the same per-tree ``tree_.predict``, summed in the same order, divided by the number
  of trees) but without the per-tree Python overhead of ``predict_proba`` (a fitted check,
  input validation, a joblib task with its config and warning filters for each of the 100
  trees), which is nearly all of its cost for a few rows.

:func:`compile_forest` only returns a :class:`ForestProba` after checking that it gives
*bit-identical* probabilities to ``predict_proba`` on the model's input example and on
seeded rows around it; otherwise the server calls the estimator as usual.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ForestProba", "compile_forest", "float_matrix"]

log = logging.getLogger(__name__)

_FORESTS = ("RandomForestClassifier", "ExtraTreesClassifier")


def float_matrix(columns: Mapping[str, Sequence[Any]], names: Sequence[str], dtype: Any = np.float64) -> np.ndarray:
    """Rows x columns array of ``columns`` in ``names`` order (``None`` becomes NaN)."""
    return np.array([columns[n] for n in names], dtype=np.float64).T.astype(dtype, order="C", copy=False)


class ForestProba:
    """``predict_proba`` of a fitted single-output forest classifier, minus its per-tree overhead."""

    def __init__(self, forest: Any) -> None:
        self.trees = [est.tree_ for est in forest.estimators_]
        self.n_classes = int(forest.n_classes_)
        self.n_features = int(forest.n_features_in_)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for ``x``, a C-contiguous float32 array of shape (rows, features)."""
        out = np.zeros((x.shape[0], self.n_classes), dtype=np.float64)
        k = self.n_classes
        for tree in self.trees:
            out += tree.predict(x)[:, :k]
        out /= len(self.trees)
        return out


def compile_forest(estimator: Any, names: Sequence[str], example: Sequence[Mapping[str, Any]]) -> ForestProba | None:
    """A verified :class:`ForestProba` for ``estimator``, or None when it does not apply or differs."""
    if type(estimator).__name__ not in _FORESTS or not type(estimator).__module__.startswith("sklearn."):
        return None
    if getattr(estimator, "n_outputs_", None) != 1 or not hasattr(estimator, "estimators_"):
        return None
    if getattr(estimator, "n_features_in_", None) != len(names):
        return None
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if fitted_names is not None and list(fitted_names) != list(names):
        return None
    if not all(hasattr(est, "tree_") for est in estimator.estimators_):
        return None
    fast = ForestProba(estimator)
    try:
        rows = _check_rows(names, example)
        frame = pd.DataFrame(rows, columns=list(names))
        expected = np.asarray(estimator.predict_proba(frame if fitted_names is not None else rows))
        got = fast(np.ascontiguousarray(rows, dtype=np.float32))
    except Exception:
        log.debug("forest fast path not used", exc_info=True)
        return None
    if not np.array_equal(expected, got):
        log.warning("forest fast path differs from predict_proba; using predict_proba")
        return None
    return fast


def _check_rows(names: Sequence[str], example: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """The input example's rows plus seeded rows spread around them (float64, rows x features)."""
    base = np.array([[float(row[n]) for n in names] for row in example], dtype=np.float64)
    if base.size == 0:
        base = np.zeros((1, len(names)))
    rng = np.random.default_rng(0)
    center, scale = base.mean(axis=0), np.maximum(base.std(axis=0), 1.0)
    spread = center + rng.normal(size=(256, len(names))) * scale * 2
    return np.vstack([base, spread])
