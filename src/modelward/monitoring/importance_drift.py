"""Drift ranked by what the model uses: drifted columns ordered by the model's importance, and a drifted
column the model ignores reported as such instead of counted towards the dataset's drift alarm.

The importance is each input column's share of the model's mean |SHAP| on its holdout (what every
registered version records, see :mod:`modelward.explain.importance`); pure numbers in, so this module
needs nothing of the explainer.

>>> import numpy as np, pandas as pd
>>> from modelward.monitoring import Profile
>>> rng = np.random.default_rng(0)
>>> ref = pd.DataFrame({"used": rng.normal(size=2000), "unused": rng.normal(size=2000)})
>>> cur = pd.DataFrame({"used": rng.normal(size=2000), "unused": rng.normal(1, 1, size=2000)})
>>> drift = Profile.fit(ref).compare(cur, drift_share=0.5)
>>> drift.dataset_drift, drift.drifted_features
(True, ['unused'])
>>> decided, ranking = rank_by_importance(drift, {"used": 0.995, "unused": 0.005})
>>> decided.dataset_drift, [(r.column, r.drifted, r.ignored) for r in ranking]
(False, [('unused', True, True), ('used', False, False)])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from modelward.monitoring._decision import dataset_decision
from modelward.monitoring.drift_report import DriftReport

__all__ = ["IGNORED_BELOW", "RankedDrift", "rank_by_importance"]

# A column whose share of the model's mean |SHAP| is under a fifth of an equal share (2 % of 10 columns)
# is one the model ignores.
IGNORED_BELOW = 0.2


@dataclass(frozen=True)
class RankedDrift:
    """One tested column, with the model's use of it.

    Attributes:
        column: the input column.
        importance: its share of the model's mean |SHAP| (``None``: not a model input / unknown).
        drifted: the column's drift verdict.
        ignored: drifted, but the model hardly uses it (share below ``ignored_below`` times an equal
            share, ``1 / columns``): reported, not counted towards the dataset's drift.
        effect_size: the drift test's effect size (``None`` when the test gives none).
    """

    column: str
    importance: float | None
    drifted: bool
    ignored: bool
    effect_size: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> RankedDrift:
        return cls(
            str(doc["column"]),
            doc.get("importance"),
            bool(doc["drifted"]),
            bool(doc["ignored"]),
            doc.get("effect_size"),
        )


def rank_by_importance(
    drift: DriftReport,
    importance: Mapping[str, float],
    *,
    ignored_below: float = IGNORED_BELOW,
) -> tuple[DriftReport, tuple[RankedDrift, ...]]:
    """``drift`` with its dataset verdict re-decided without the drifted columns the model ignores, and
    every tested column ranked: drifted ones first, each group by importance (largest first).

    ``importance`` maps columns to their share of mean |SHAP| (normalised here to sum to 1); a drifted
    column whose share is under ``ignored_below / len(importance)`` is ignored. The rule
    (``drift_share``, ``important_features``) is the one ``drift`` was decided with.
    """
    total = sum(max(v, 0.0) for v in importance.values())
    shares = {k: (max(v, 0.0) / total if total > 0 else 0.0) for k, v in importance.items()}
    floor = ignored_below / max(len(shares), 1)
    tested = [f for f in drift.features if f.status == "ok"]
    ranking = [
        RankedDrift(
            f.column,
            shares.get(f.column),
            f.drifted,
            f.drifted and f.column in shares and shares[f.column] < floor,
            f.effect_size,
        )
        for f in tested
    ]
    ranking.sort(key=lambda r: (not r.drifted, -(r.importance if r.importance is not None else -1.0)))
    ignored = [r.column for r in ranking if r.ignored]
    if not ignored:
        return replace(drift, settings={**drift.settings, "ignored_below": ignored_below}), tuple(ranking)
    flags = {r.column: r.drifted and not r.ignored for r in ranking}
    important = list(drift.settings.get("important_features") or [])
    hit, share, reason = dataset_decision(flags, float(drift.settings.get("drift_share", 0.5)), important)
    reason += (
        f"; drifted but ignored by the model (under {floor:.1%} of its mean |SHAP|), not counted: "
        + ", ".join(ignored)
    )
    decided = replace(
        drift,
        dataset_drift=hit,
        drifted_share=share,
        dataset_reason=reason,
        settings={**drift.settings, "ignored_below": ignored_below},
    )
    return decided, tuple(ranking)
