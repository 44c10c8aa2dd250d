"""Attributions for the monitor: a sample of each window's rows and of the version's holdout, explained by
the version's own model, compared by :func:`modelward.monitoring.attribution_drift`.

Why this exists: the window analysis is pure and never loads a model; attribution drift needs the model's
SHAP values. The monitor keeps one :class:`Attributor` per version: the model, its explainer and the
holdout's attributions are made once, then each window costs one explanation of at most
``models.NAME.monitor.attribution_rows`` rows (a few hundred milliseconds for a forest). Only exact
explainers (trees, linear models) are used, so a monitoring pass never waits on a sampling explainer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelward.errors import ModelwardError
from modelward.explain import explainer_for
from modelward.monitoring import AttributionDrift, attribution_drift
from modelward.registry import ModelVersion
from modelward.workspace import Workspace

__all__ = ["Attributor", "attributor_for"]

log = logging.getLogger(__name__)

_BACKGROUND_ROWS = 100
_SEED = 0


def _per_row(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``rows x columns x outputs`` SHAP values → each row's |SHAP| per column (averaged over the
    outputs, as the version's stored importance is)."""
    out: np.ndarray[Any, Any] = np.abs(values).mean(axis=2)
    return out


def _sample(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    if len(frame) <= rows:
        return frame.reset_index(drop=True)
    pick = np.sort(np.random.default_rng(_SEED).choice(len(frame), size=rows, replace=False))
    return frame.iloc[pick].reset_index(drop=True)


@dataclass
class Attributor:
    """One version's explainer and its holdout's per-row attributions."""

    features: list[str]
    explainer: Any
    reference: np.ndarray[Any, Any]
    rows: int
    method: str
    output: str

    def compare(
        self, window: pd.DataFrame, *, alpha: float, correction: str, min_change: float
    ) -> AttributionDrift:
        """Attribution drift of ``window``'s feature rows (a sample of at most ``rows``)."""
        explanation = self.explainer.explain(_sample(window[self.features], self.rows))
        return attribution_drift(
            self.reference,
            _per_row(explanation.values),
            self.features,
            alpha=alpha,
            min_change=min_change,
            correction=correction,
            method=self.method,
            output=self.output,
        )


def attributor_for(
    ws: Workspace, mv: ModelVersion, holdout: pd.DataFrame | None, rows: int
) -> Attributor | str:
    """The :class:`Attributor` of ``mv`` on its ``holdout`` feature rows, or why there is none (a note)."""
    if rows <= 0:
        return "attribution drift off (monitor.attribution_rows: 0)"
    if holdout is None or len(holdout) < 20:
        return f"attribution drift skipped: {mv.ref} has no holdout rows to compare with"
    features = list(mv.lineage.get("features") or holdout.columns)
    try:
        model = ws.load_model(mv)
        reference_rows = _sample(holdout[features], rows)
        background = reference_rows.sample(n=min(_BACKGROUND_ROWS, len(reference_rows)), random_state=_SEED)
        explainer = explainer_for(model, features, background, task=mv.task, seed=_SEED, exact_only=True)
        explanation = explainer.explain(reference_rows)
    except TypeError as exc:  # exact_only: no tree or linear model to explain exactly
        return f"attribution drift skipped: {mv.ref} has no exact explainer ({exc}); it is computed for trees and linear models"
    except (ModelwardError, ValueError, KeyError) as exc:
        log.warning("%s: attribution drift skipped: %s", mv.ref, exc)
        return f"attribution drift skipped: {mv.ref} could not be explained ({type(exc).__name__}: {exc})"
    if not explanation.exact:
        return (
            f"attribution drift skipped: {mv.ref} has no exact explainer ({explanation.method}); it is computed "
            "for trees and linear models"
        )
    return Attributor(
        features, explainer, _per_row(explanation.values), rows, explanation.method, explanation.output
    )
