"""Drift results: one :class:`FeatureResult` per column inside a :class:`DriftReport` (what
:meth:`Profile.compare <modelward.monitoring.Profile.compare>` returns).

``to_dict`` gives plain JSON values and ``from_dict`` reads them back:

>>> import numpy as np, pandas as pd
>>> from modelward.monitoring import Profile
>>> ref = pd.DataFrame({"x": np.arange(100.0)})
>>> report = Profile.fit(ref).compare(ref + 30)
>>> DriftReport.from_dict(report.to_dict()).to_dict() == report.to_dict()
True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from modelward.errors import NotFoundError
from modelward.monitoring._json import jsonable
from modelward.monitoring.quality import Finding


@dataclass(frozen=True)
class FeatureResult:
    """The drift verdict on one column.

    Attributes:
        column, kind: the column and how it was treated (numeric / categorical / boolean).
        method: registry name of the test that ran (``None`` when skipped).
        reason: why that method ran (chosen automatically, or by the caller) — or why it was skipped.
        auto: whether the method was chosen automatically.
        status: ``"ok"`` or ``"skipped"``.
        statistic, p_value: the test's own output (``p_value`` is ``None`` for distances).
        p_value_adjusted: after the correction across features (p-value tests only).
        effect_size, effect_measure: how large the change is, and in which unit.
        threshold: ``alpha`` for p-value tests, the distance threshold otherwise.
        min_effect: for p-value tests, the effect size an alarm also needs.
        drifted: the verdict.
        n_reference, n_current: non-missing values on each side.
        details: method-specific extras (p-value method, new categories, bin edges…).
        distribution: reference vs current summary for plots (histogram on shared edges or top
            categories, quantiles, missing rates); no raw rows. Empty when skipped or not requested.
    """

    column: str
    kind: str
    method: str | None
    reason: str
    auto: bool
    status: Literal["ok", "skipped"]
    drifted: bool = False
    statistic: float | None = None
    p_value: float | None = None
    p_value_adjusted: float | None = None
    effect_size: float | None = None
    effect_measure: str | None = None
    threshold: float | None = None
    min_effect: float | None = None
    n_reference: int = 0
    n_current: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    distribution: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(asdict(self))
        return out

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> FeatureResult:
        """The result :meth:`to_dict` wrote (non-finite numbers come back as ``None``)."""
        return cls(**{f.name: doc[f.name] for f in fields(cls) if f.name in doc})


@dataclass(frozen=True)
class DriftReport:
    """The comparison of a current window with a reference profile.

    Attributes:
        features: one result per reference column, in reference order.
        dataset_drift: the dataset-level verdict, and ``dataset_reason`` says why.
        drifted_share: drifted features / tested features.
        settings: the decision settings in force (alpha, correction, min_effect, drift_share, …).
        quality: data-quality and upstream-change findings (see :mod:`modelward.monitoring.quality`).
        n_reference, n_current: rows of the reference profile and of the current window.
    """

    features: tuple[FeatureResult, ...]
    dataset_drift: bool
    dataset_reason: str
    drifted_share: float
    settings: dict[str, Any]
    quality: tuple[Finding, ...]
    n_reference: int
    n_current: int

    @property
    def drifted_features(self) -> list[str]:
        """Names of the drifted columns, in reference order."""
        return [f.column for f in self.features if f.drifted]

    def __getitem__(self, column: str) -> FeatureResult:
        for f in self.features:
            if f.column == column:
                return f
        raise NotFoundError(
            f"No drift result for column {column!r}; the report has: {', '.join(f.column for f in self.features)}."
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values; non-finite floats become ``None``."""
        return {
            "dataset_drift": self.dataset_drift,
            "dataset_reason": self.dataset_reason,
            "drifted_share": self.drifted_share,
            "drifted_features": self.drifted_features,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "settings": jsonable(self.settings),
            "features": [f.to_dict() for f in self.features],
            "quality": [q.to_dict() for q in self.quality],
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> DriftReport:
        """The report :meth:`to_dict` wrote."""
        return cls(
            features=tuple(FeatureResult.from_dict(f) for f in doc["features"]),
            dataset_drift=bool(doc["dataset_drift"]),
            dataset_reason=str(doc["dataset_reason"]),
            drifted_share=doc["drifted_share"],
            settings=dict(doc["settings"]),
            quality=tuple(Finding(**q) for q in doc["quality"]),
            n_reference=int(doc["n_reference"]),
            n_current=int(doc["n_current"]),
        )

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)
