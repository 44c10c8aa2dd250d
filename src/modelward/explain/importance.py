"""Global importance of a model's input columns on its holdout: mean |SHAP| and permutation importance.

Two views, stored with each registered version:

* **mean |SHAP|**: the average absolute attribution of each input column over at most
  :data:`MAX_ROWS` holdout rows (over every output for a multi-output model), in the
  explainer's output space; how much the column moves the model's answers. The first
  :data:`FIRST_ROWS` rows are always explained; more only while ``shap_budget_s`` lasts (a
  deep forest costs milliseconds per row), and the count used is recorded.
* **permutation importance** (scikit-learn's ``permutation_importance``): how much the model's
  score (accuracy for classifiers, R² for regressors) drops when the column is shuffled, mean
  and standard deviation over :data:`N_REPEATS` shuffles; how much the column matters to the
  model being right.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from modelward.explain._result import Explanation
from modelward.explain.explainer import explainer_for

__all__ = [
    "FIRST_ROWS",
    "FORMAT",
    "MAX_ROWS",
    "N_REPEATS",
    "FeatureImportance",
    "GlobalImportance",
    "global_importance",
]

FORMAT = "modelward.importance/1"
MAX_ROWS = 1000
N_REPEATS = 3
FIRST_ROWS = 100
_BACKGROUND_ROWS = 100


@dataclass(frozen=True)
class FeatureImportance:
    """One input column's importance.

    Attributes:
        feature: the input column.
        mean_abs_shap: its mean absolute SHAP value (over rows and outputs).
        permutation_mean, permutation_std: the score's drop when it is shuffled, mean and standard
            deviation over the repeats (``None`` without labels).
    """

    feature: str
    mean_abs_shap: float
    permutation_mean: float | None  # None: no labels to score against
    permutation_std: float | None


@dataclass(frozen=True)
class GlobalImportance:
    """Importance of every input column, most important (by mean |SHAP|) first.

    Attributes:
        features: one :class:`FeatureImportance` per input column.
        method: the SHAP method (``tree_shap``, ``linear_shap``, ``exact_shap``, ``permutation_shap``).
        output: the space of the SHAP values (``probability``, ``log_odds``, ``logit``, ``prediction``).
        rows: holdout rows the SHAP values were computed on.
        permutation_rows: holdout rows permutation importance was computed on.
        scoring: the score permutation importance measures the drop of (``accuracy``, ``r2``).
        repeats: shuffles per column.
        seconds: how long computing both took.
    """

    features: list[FeatureImportance]
    method: str
    output: str
    rows: int
    permutation_rows: int
    scoring: str | None
    repeats: int
    seconds: float

    def shap_shares(self) -> dict[str, float]:
        """Each column's share of the total mean |SHAP| (sums to 1 when any is non-zero)."""
        total = sum(f.mean_abs_shap for f in self.features)
        return {f.feature: (f.mean_abs_shap / total if total > 0 else 0.0) for f in self.features}

    def permutation_shares(self) -> dict[str, float]:
        """Each column's share of the total positive permutation importance."""
        gain = {f.feature: max(f.permutation_mean or 0.0, 0.0) for f in self.features}
        total = sum(gain.values())
        return {k: (v / total if total > 0 else 0.0) for k, v in gain.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "method": self.method,
            "output": self.output,
            "rows": self.rows,
            "permutation_rows": self.permutation_rows,
            "scoring": self.scoring,
            "repeats": self.repeats,
            "seconds": round(self.seconds, 3),
            "features": [
                {
                    "feature": f.feature,
                    "mean_abs_shap": f.mean_abs_shap,
                    "permutation_mean": f.permutation_mean,
                    "permutation_std": f.permutation_std,
                }
                for f in self.features
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GlobalImportance:
        if data.get("format") != FORMAT:
            raise ValueError(f"importance format {data.get('format')!r}, expected {FORMAT!r}")
        return cls(
            features=[FeatureImportance(**f) for f in data["features"]],
            method=data["method"],
            output=data["output"],
            rows=int(data["rows"]),
            permutation_rows=int(data["permutation_rows"]),
            scoring=data.get("scoring"),
            repeats=int(data["repeats"]),
            seconds=float(data["seconds"]),
        )


def global_importance(
    model: Any,
    features: list[str],
    x: pd.DataFrame,
    y: Any,
    *,
    task: str,
    max_rows: int = MAX_ROWS,
    n_repeats: int = N_REPEATS,
    seed: int = 0,
    shap_budget_s: float = 0.5,
) -> GlobalImportance:
    """Mean |SHAP| and permutation importance of ``model``'s columns on holdout rows ``x``, ``y``
    (at most ``max_rows`` of them, drawn with ``seed``; SHAP on as many of them as
    ``shap_budget_s`` allows, at least :data:`FIRST_ROWS`). ``y`` None: no permutation importance."""
    return explain_dataset(
        model,
        features,
        x,
        y,
        task=task,
        max_rows=max_rows,
        n_repeats=n_repeats,
        seed=seed,
        shap_budget_s=shap_budget_s,
    )[0]


def explain_dataset(
    model: Any,
    features: list[str],
    x: pd.DataFrame,
    y: Any,
    *,
    task: str,
    max_rows: int = MAX_ROWS,
    n_repeats: int = N_REPEATS,
    seed: int = 0,
    shap_budget_s: float = 0.5,
) -> tuple[GlobalImportance, Explanation, pd.DataFrame]:
    """:func:`global_importance`, with the SHAP values it averaged and the rows they explain."""
    started = time.perf_counter()
    x = x[features].reset_index(drop=True)
    labels = None if y is None else np.asarray(y)
    if len(x) > max_rows:
        pick = np.sort(np.random.default_rng(seed).choice(len(x), size=max_rows, replace=False))
        x = x.iloc[pick].reset_index(drop=True)
        labels = None if labels is None else labels[pick]
    background = x.sample(n=min(_BACKGROUND_ROWS, len(x)), random_state=seed)
    explainer = explainer_for(
        model, features, background, task=task, time_budget_s=shap_budget_s / 2, seed=seed
    )
    first = min(FIRST_ROWS, len(x))
    clock = time.perf_counter()
    explanation = explainer.explain(x.iloc[:first])
    per_row = (time.perf_counter() - clock) / first
    more = min(len(x), int(shap_budget_s / max(per_row, 1e-9))) - first
    if more > 0 and explanation.exact:
        rest = explainer.explain(x.iloc[first : first + more])
        explanation = replace(explanation, values=np.concatenate([explanation.values, rest.values], axis=0))
    mean_abs = np.abs(explanation.values).mean(axis=(0, 2))
    scoring: str | None = None
    perm_mean: list[float | None] = [None] * len(features)
    perm_std: list[float | None] = [None] * len(features)
    if labels is not None:
        from sklearn.inspection import permutation_importance

        scoring = "accuracy" if task == "classification" else "r2"
        perm = permutation_importance(
            model, x, labels, scoring=scoring, n_repeats=n_repeats, random_state=seed
        )
        perm_mean = [float(v) for v in perm.importances_mean]
        perm_std = [float(v) for v in perm.importances_std]
    items = [
        FeatureImportance(f, float(mean_abs[j]), perm_mean[j], perm_std[j]) for j, f in enumerate(features)
    ]
    items.sort(key=lambda f: -f.mean_abs_shap)
    importance = GlobalImportance(
        features=items,
        method=explanation.method,
        output=explanation.output,
        rows=explanation.rows,
        permutation_rows=0 if labels is None else len(x),
        scoring=scoring,
        repeats=n_repeats if labels is not None else 0,
        seconds=time.perf_counter() - started,
    )
    return importance, explanation, x.iloc[: explanation.rows]
