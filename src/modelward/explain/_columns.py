"""From a pipeline's expanded columns back to the user's input columns.

A scikit-learn ``Pipeline`` of preprocessing steps and a final estimator is explained on the
final estimator's columns (one-hot indicators, scaled numbers, ...); :func:`source_map` says which
input column each of them comes from, so the attributions can be summed back (Shapley values are
additive: a group's sum is the group's share of the output, and local accuracy is kept).

Only transformers whose outputs are known to each come from one input are mapped: element-wise
scalers and encoders, one-hot encoders, imputers without indicators, ``ColumnTransformer`` and
``Pipeline`` of those, and any transformer of a single column. Anything else returns ``None`` and
the model is explained as a whole over its input columns instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["source_map"]

# One output per input, each computed from its own input only.
_ELEMENTWISE = {
    "StandardScaler",
    "MinMaxScaler",
    "MaxAbsScaler",
    "RobustScaler",
    "OrdinalEncoder",
    "PowerTransformer",
    "QuantileTransformer",
}


def source_map(transformer: Any, n_inputs: int) -> list[int] | None:
    """For each output column of fitted ``transformer``, the index of the input column it comes from;
    ``None`` when that is not known. The caller checks the length against the real output width."""
    if isinstance(transformer, str):
        if transformer == "passthrough":
            return list(range(n_inputs))
        if transformer == "drop":
            return []
        return None
    name = type(transformer).__name__
    if name == "Pipeline":
        mapping: list[int] | None = list(range(n_inputs))
        for _, step in transformer.steps:
            if step is None or step == "passthrough":
                continue
            assert mapping is not None
            inner = source_map(step, len(mapping))
            if inner is None:
                return None
            mapping = [mapping[j] for j in inner]
        return mapping
    if name == "ColumnTransformer":
        return _column_transformer(transformer, n_inputs)
    if name == "OneHotEncoder":
        return _one_hot(transformer)
    if name == "SimpleImputer":
        if getattr(transformer, "add_indicator", False):
            return None
        kept = ~np.isnan(np.asarray(transformer.statistics_, dtype=float))
        if getattr(transformer, "keep_empty_features", False) or transformer.strategy == "constant":
            kept[:] = True
        return [int(i) for i in np.flatnonzero(kept)]
    if name == "KBinsDiscretizer":
        if transformer.encode == "ordinal":
            return list(range(n_inputs))
        return [i for i, n in enumerate(transformer.n_bins_) for _ in range(int(n))]
    if name == "FunctionTransformer" and transformer.func is None:  # identity (a fitted "passthrough")
        return list(range(n_inputs))
    if name in _ELEMENTWISE and type(transformer).__module__.startswith("sklearn."):
        return list(range(n_inputs))
    if n_inputs == 1:
        return None  # width unknown here: the caller maps all outputs of a single column to it
    return None


def _one_hot(encoder: Any) -> list[int] | None:
    widths = getattr(encoder, "_n_features_outs", None)
    if widths is None:
        if any(c is not None for c in getattr(encoder, "infrequent_categories_", []) or []):
            return None
        drop = getattr(encoder, "drop_idx_", None)
        widths = [
            len(cats) - (1 if drop is not None and drop[i] is not None else 0)
            for i, cats in enumerate(encoder.categories_)
        ]
    return [i for i, n in enumerate(widths) for _ in range(int(n))]


def _column_transformer(ct: Any, n_inputs: int) -> list[int] | None:
    names = list(getattr(ct, "feature_names_in_", []))
    out: list[int] = []
    for tname, trans, cols in ct.transformers_:
        indices = _indices(cols, names, n_inputs)
        if indices is None:
            return None
        if not indices or (isinstance(trans, str) and trans == "drop"):
            continue
        if tname == "remainder" and isinstance(trans, str) and trans == "drop":
            continue
        inner = source_map(trans, len(indices))
        if inner is None:
            if len(indices) != 1:
                return None
            width = _width(trans)
            if width is None:
                return None
            inner = [0] * width
        out.extend(indices[j] for j in inner)
    return out


def _width(trans: Any) -> int | None:
    try:
        return len(trans.get_feature_names_out())
    except Exception:  # no names out: the width is unknown
        return None


def _indices(cols: Any, names: Sequence[str], n_inputs: int) -> list[int] | None:
    if isinstance(cols, str):
        cols = [cols]
    elif isinstance(cols, int | np.integer):
        cols = [int(cols)]
    elif isinstance(cols, slice):
        return list(range(n_inputs))[cols]
    try:
        items = list(cols)
    except TypeError:
        return None
    if items and all(isinstance(c, bool | np.bool_) for c in items):
        return [i for i, c in enumerate(items) if c]
    out: list[int] = []
    for c in items:
        if isinstance(c, str):
            if c not in names:
                return None
            out.append(list(names).index(c))
        elif isinstance(c, int | np.integer):
            out.append(int(c))
        else:
            return None
    return out
