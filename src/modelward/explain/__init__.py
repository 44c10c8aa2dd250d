"""Explanations: which input columns made a model answer what it did (SHAP values).

Pure analysis, like :mod:`modelward.monitoring`: a fitted model and frames in, arrays out.

* :func:`explainer_for` picks the explainer: exact TreeSHAP for scikit-learn tree ensembles
  (by the ``shap`` library), exact linear SHAP for linear models, exact or sampled
  model-agnostic Shapley values over a background sample for anything else; a pipeline's
  expanded columns (one-hot, ...) are summed back to its input columns.
* :func:`global_importance` (mean |SHAP| and permutation importance on holdout rows) is what
  each version records at registration.
* :class:`Explanation` holds the attributions (rows x columns x outputs), the base values, the
  method and the output space (probability, log-odds, prediction) they add up to.
"""

from __future__ import annotations

from modelward.explain._result import OUTPUTS, Explanation, RowExplanation
from modelward.explain.explainer import ADDITIVITY_TOLERANCE, ModelExplainer, explainer_for
from modelward.explain.importance import (
    FeatureImportance,
    GlobalImportance,
    explain_dataset,
    global_importance,
)

__all__ = [
    "ADDITIVITY_TOLERANCE",
    "OUTPUTS",
    "Explanation",
    "FeatureImportance",
    "GlobalImportance",
    "ModelExplainer",
    "RowExplanation",
    "explain_dataset",
    "explainer_for",
    "global_importance",
]
