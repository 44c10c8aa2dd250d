"""The explainer of a fitted model: exact where the model allows it, model-agnostic otherwise.

:func:`explainer_for` looks at the model (the last step of a ``Pipeline``): a scikit-learn tree
model gets exact TreeSHAP (:mod:`.tree`), a linear model exact linear SHAP (:mod:`.linear`), on
the columns the final step sees, summed back to the user's input columns (:mod:`._columns`).
Every exact explainer is checked once on background rows: base value plus attributions must
equal the model's own output within :data:`ADDITIVITY_TOLERANCE`, or it is not used. Anything
else (or a pipeline whose columns cannot be traced back) gets :class:`.permutation.SampledShap`
over the whole model and its input columns.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from modelward.explain._columns import source_map
from modelward.explain._result import Explanation
from modelward.explain.linear import LINEAR_MODELS, LinearShap
from modelward.explain.permutation import SampledShap
from modelward.explain.tree import TREE_MODELS, TreeShap, raw_output

__all__ = ["ADDITIVITY_TOLERANCE", "ModelExplainer", "explainer_for"]

log = logging.getLogger(__name__)

ADDITIVITY_TOLERANCE = 1e-6
_CHECK_ROWS = 8


class ModelExplainer:
    """Explains rows of the model's input frame (see :func:`explainer_for`)."""

    def __init__(
        self,
        features: list[str],
        inner: Any,
        *,
        pre: Any = None,
        final: Any = None,
        groups: np.ndarray | None = None,
        fallback_reason: str | None = None,
    ) -> None:
        self.features = features
        self.inner = inner
        self.pre = pre
        self.final = final
        self.groups = groups  # (input columns, model columns) 0/1 matrix, or None: input columns as they are
        self.fallback_reason = fallback_reason

    @property
    def method(self) -> str:
        return str(self.inner.method)

    @property
    def output(self) -> str:
        return str(self.inner.output)

    def model_matrix(self, x: pd.DataFrame) -> np.ndarray:
        """The final step's input for ``x``: the preprocessing applied, dense float64."""
        z: Any = x[self.features] if self.pre is None else self.pre.transform(x[self.features])
        dense = z.toarray() if hasattr(z, "toarray") else z
        return np.asarray(dense, dtype=np.float64)

    def explain(self, x: pd.DataFrame) -> Explanation:
        """Attributions of every row of ``x`` (the model's input columns, as served)."""
        if isinstance(self.inner, SampledShap):
            values, base = self.inner.shap_values(x[self.features])
            exact, perms = self.inner.exact, self.inner.permutations
            method = "exact_shap" if exact else "permutation_shap"
        else:
            values, base = self.inner.shap_values(self.model_matrix(x))
            exact, perms, method = True, None, self.inner.method
            if self.groups is not None:
                values = np.einsum("nmk,jm->njk", values, self.groups)
        return Explanation(
            method=method,
            output=self.inner.output,
            exact=exact,
            features=list(self.features),
            values=values,
            base_values=base,
            labels=self.inner.labels,
            classes=self.inner.classes,
            background=self.inner.background,
            permutations=perms,
        )

    def raw_output(self, x: pd.DataFrame) -> np.ndarray:
        """What base value plus attributions equal: the model's output in :attr:`output`'s space."""
        if isinstance(self.inner, SampledShap):
            return np.asarray(self.inner.predict(x[self.features]), dtype=np.float64)
        return raw_output(self.final, _final_input(self.final, self.model_matrix(x)), self.inner.output)


def explainer_for(
    model: Any,
    features: list[str],
    background: pd.DataFrame,
    *,
    task: str,
    time_budget_s: float = 1.0,
    seed: int = 0,
    exact_only: bool = False,
) -> ModelExplainer:
    """The explainer of fitted ``model`` over input columns ``features``.

    ``background``: rows of the model's inputs (e.g. the reference holdout) that stand for
    "column absent" in linear and model-agnostic SHAP, and on which the exact explainers are
    verified. ``time_budget_s`` bounds the model-agnostic explainer's sampling per call.
    ``exact_only``: raise ``TypeError`` instead of falling back.
    """
    if len(background) == 0:
        raise ValueError("explainer_for needs at least one background row")
    background = background[features]
    reason = None
    try:
        exact = _exact(model, features, background)
        if exact is not None:
            return exact
        reason = f"no exact explainer for {_final_name(model)}"
    except Exception as exc:  # an exact explainer that does not apply or does not add up
        reason = f"exact explainer not usable for {_final_name(model)}: {type(exc).__name__}: {exc}"
        log.debug("%s; using the model-agnostic explainer", reason)
    if exact_only:
        raise TypeError(reason)
    classifier = task == "classification" and hasattr(model, "predict_proba")

    def predict(frame: pd.DataFrame) -> np.ndarray:
        return raw_output(model, frame, "probability" if classifier else "prediction")

    inner = SampledShap(
        predict,
        background,
        time_budget_s=time_budget_s,
        seed=seed,
        output="probability" if classifier else "prediction",
        classes=np.asarray(model.classes_).tolist() if classifier else None,
    )
    return ModelExplainer(features, inner, fallback_reason=reason)


def _final_name(model: Any) -> str:
    final = model.steps[-1][1] if type(model).__name__ == "Pipeline" else model
    return type(final).__name__


def _final_input(final: Any, z: np.ndarray) -> Any:
    names = getattr(final, "feature_names_in_", None)
    return pd.DataFrame(z, columns=list(names)) if names is not None else z


def _exact(model: Any, features: list[str], background: pd.DataFrame) -> ModelExplainer | None:
    pre, final, groups = None, model, None
    if type(model).__name__ == "Pipeline":
        if len(model.steps) > 1:
            pre = model[:-1]
        final = model.steps[-1][1]
    name = type(final).__name__
    if name not in TREE_MODELS and name not in LINEAR_MODELS:
        return None
    probe = ModelExplainer(features, None, pre=pre)
    z = probe.model_matrix(background)
    if pre is not None:
        mapping = source_map(pre, len(features))
        if mapping is None or len(mapping) != z.shape[1]:
            raise TypeError("the pipeline's columns cannot be traced back to its inputs")
        groups = np.zeros((len(features), z.shape[1]))
        groups[mapping, np.arange(z.shape[1])] = 1.0
    elif getattr(final, "feature_names_in_", None) is not None and list(final.feature_names_in_) != features:
        raise TypeError("the model's fitted columns differ from its signature's")
    inner: TreeShap | LinearShap = TreeShap(final) if name in TREE_MODELS else LinearShap(final, z)
    explainer = ModelExplainer(features, inner, pre=pre, final=final, groups=groups)
    check = background.iloc[:_CHECK_ROWS]
    got = explainer.explain(check)
    total = got.base_values[None, :] + got.values.sum(axis=1)
    expected = explainer.raw_output(check)
    error = float(np.max(np.abs(total - expected)))
    if not error <= ADDITIVITY_TOLERANCE:
        raise ArithmeticError(f"attributions miss the model's output by {error:.3g}")
    return explainer
