"""Cheaper ways to run a micro-batch through common models, each checked against the estimator.

* :func:`float_matrix`: when every input column is a float column, the batch becomes one 2-D
  array (and a DataFrame over it, for models fitted with column names) instead of a frame
  assembled column by column.
* :class:`LinearProba`: ``predict_proba`` and ``predict`` of a fitted ``LogisticRegression``
  as scikit-learn computes them (``X @ coef_.T + intercept_`` on an array laid out as a
  DataFrame's values, then ``expit`` or ``softmax``), without the per-call input validation
  (feature-name and dtype checks through pandas and narwhals) that dominates for a few rows.
* :class:`ForestProba`: class probabilities of a fitted ``RandomForestClassifier`` or
  ``ExtraTreesClassifier`` computed the way scikit-learn computes them (the same float32
  input, the same per-tree ``tree_.predict``, summed in the same order, divided by the number
  of trees) but without the per-tree Python overhead of ``predict_proba`` (a fitted check,
  input validation, a joblib task with its config and warning filters for each of the 100
  trees), which is nearly all of its cost for a few rows.

:func:`compile_fast` only returns one of them after checking that it gives *bit-identical*
probabilities and the same predictions as ``predict_proba`` and ``predict`` on the model's
input example and on seeded rows around it, in batches of several sizes; otherwise the
server calls the estimator as usual.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd

__all__ = ["FastProba", "ForestProba", "LinearProba", "compile_fast", "compile_forest", "float_matrix"]

log = logging.getLogger(__name__)

_FORESTS = ("RandomForestClassifier", "ExtraTreesClassifier")
_CHECK_SIZES = (1, 2, 7, 32)


class FastProba(Protocol):
    """A verified cheaper ``(predict, predict_proba)`` for validated columns."""

    kind: str

    def predict_columns(self, columns: Mapping[str, Sequence[Any]]) -> tuple[np.ndarray, np.ndarray]: ...


def float_matrix(
    columns: Mapping[str, Sequence[Any]], names: Sequence[str], dtype: Any = np.float64
) -> np.ndarray:
    """Rows x columns array of ``columns`` in ``names`` order (``None`` becomes NaN)."""
    return np.array([columns[n] for n in names], dtype=np.float64).T.astype(dtype, order="C", copy=False)


class ForestProba:
    """``predict_proba`` of a fitted single-output forest classifier, minus its per-tree overhead."""

    kind = "forest"

    def __init__(self, forest: Any, names: Sequence[str] = ()) -> None:
        self.trees = [est.tree_ for est in forest.estimators_]
        self.n_classes = int(forest.n_classes_)
        self.n_features = int(forest.n_features_in_)
        self.classes = np.asarray(forest.classes_)
        self.names = list(names)

    def predict_columns(self, columns: Mapping[str, Sequence[Any]]) -> tuple[np.ndarray, np.ndarray]:
        proba = self(float_matrix(columns, self.names, np.float32))
        return self.classes.take(np.argmax(proba, axis=1), axis=0), proba  # = ForestClassifier.predict

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for ``x``, a C-contiguous float32 array of shape (rows, features)."""
        out = np.zeros((x.shape[0], self.n_classes), dtype=np.float64)
        k = self.n_classes
        for tree in self.trees:
            out += tree.predict(x)[:, :k]
        out /= len(self.trees)
        return out


def compile_forest(
    estimator: Any, names: Sequence[str], example: Sequence[Mapping[str, Any]]
) -> ForestProba | None:
    """A verified :class:`ForestProba` for ``estimator``, or None when it does not apply or differs."""
    if not _is_sklearn(estimator, _FORESTS) or getattr(estimator, "n_outputs_", None) != 1:
        return None
    if not hasattr(estimator, "estimators_") or not all(hasattr(e, "tree_") for e in estimator.estimators_):
        return None
    if not _same_inputs(estimator, names):
        return None
    return _verified(ForestProba(estimator, names), estimator, names, example)


class LinearProba:
    """``predict_proba`` and ``predict`` of a fitted ``LogisticRegression``, minus input validation."""

    kind = "linear"

    def __init__(self, model: Any, names: Sequence[str]) -> None:
        from sklearn.utils.extmath import softmax

        self.softmax = softmax
        self.coef_t = model.coef_.T
        self.intercept = model.intercept_
        self.classes = np.asarray(model.classes_)
        self.binary = self.classes.size <= 2
        self.names = list(names)

    def predict_columns(self, columns: Mapping[str, Sequence[Any]]) -> tuple[np.ndarray, np.ndarray]:
        from scipy.special import expit

        # The layout of a float DataFrame's values (Fortran order): what sklearn multiplies.
        x = np.array([columns[n] for n in self.names], dtype=np.float64).T
        scores = x @ self.coef_t + self.intercept  # LinearClassifierMixin.decision_function
        if self.binary:
            decision = scores.reshape(-1)
            preds = self.classes.take((decision > 0).astype(np.intp), axis=0)
            prob = expit(decision)
            return preds, np.stack([1 - prob, prob], axis=1)
        preds = self.classes.take(np.argmax(scores, axis=1), axis=0)
        return preds, self.softmax(scores, copy=False)


def compile_linear(
    estimator: Any, names: Sequence[str], example: Sequence[Mapping[str, Any]]
) -> LinearProba | None:
    """A verified :class:`LinearProba` for ``estimator``, or None when it does not apply or differs."""
    if not _is_sklearn(estimator, ("LogisticRegression",)) or not _same_inputs(estimator, names):
        return None
    coef = getattr(estimator, "coef_", None)
    if not isinstance(coef, np.ndarray) or coef.ndim != 2 or coef.dtype != np.float64:
        return None
    return _verified(LinearProba(estimator, names), estimator, names, example)


_F = TypeVar("_F", ForestProba, LinearProba)


def compile_fast(
    estimator: Any, names: Sequence[str], example: Sequence[Mapping[str, Any]]
) -> FastProba | None:
    """The first verified fast path that applies to ``estimator`` (all-float inputs assumed)."""
    return compile_forest(estimator, names, example) or compile_linear(estimator, names, example)


def _is_sklearn(estimator: Any, classes: Sequence[str]) -> bool:
    cls = type(estimator)
    return cls.__name__ in classes and cls.__module__.startswith("sklearn.")


def _same_inputs(estimator: Any, names: Sequence[str]) -> bool:
    if getattr(estimator, "n_features_in_", None) != len(names):
        return False
    fitted = getattr(estimator, "feature_names_in_", None)
    return fitted is None or list(fitted) == list(names)


def _verified(
    fast: _F, estimator: Any, names: Sequence[str], example: Sequence[Mapping[str, Any]]
) -> _F | None:
    """``fast`` if it matches the estimator exactly on the check rows (in batches of several sizes)."""
    try:
        rows = _check_rows(names, example)
        with_names = getattr(estimator, "feature_names_in_", None) is not None
        for size in (*_CHECK_SIZES, len(rows)):
            for start in range(0, min(len(rows), 4 * size), size):
                chunk = rows[start : start + size]
                x: Any = pd.DataFrame(chunk, columns=list(names)) if with_names else chunk
                preds, proba = fast.predict_columns({n: chunk[:, i].tolist() for i, n in enumerate(names)})
                if not (
                    np.array_equal(proba, np.asarray(estimator.predict_proba(x)))
                    and np.array_equal(preds, np.asarray(estimator.predict(x)))
                ):
                    log.warning("%s fast path differs from scikit-learn; using the estimator", fast.kind)
                    return None
    except Exception:
        log.debug("%s fast path not used", fast.kind, exc_info=True)
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
