"""One report bundling everything a monitoring run found: feature drift, multivariate drift, output
drift and performance. It is what :func:`modelward.monitoring.html.render_html` renders and what
``modelward drift --json`` writes.

>>> import numpy as np, pandas as pd
>>> from modelward.monitoring import Profile
>>> ref = pd.DataFrame({"x": np.arange(100.0)})
>>> report = MonitoringReport(drift=Profile.fit(ref).compare(ref),
...                           performance={"accuracy": {"value": 0.91, "lower": 0.89, "upper": 0.93,
...                                                     "method": "bootstrap"}})
>>> sorted(report.to_dict())
['drift', 'label_drift', 'metadata', 'multivariate', 'performance', 'prediction_drift', 'summary']
>>> report.drift_detected
False
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelward.errors import DataError
from modelward.monitoring._json import jsonable
from modelward.monitoring.multivariate import MultivariateResult
from modelward.monitoring.outputs import OutputDriftResult
from modelward.monitoring.report import DriftReport

PERFORMANCE_KEYS = ("value", "lower", "upper", "method")


class _HasToDict(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def performance_entry(metric: str, value: Mapping[str, Any] | _HasToDict | float) -> dict[str, Any]:
    """A performance entry as a plain dict ``{value, lower, upper, method, …}``.

    Accepts a mapping, anything with ``to_dict()`` (e.g. ``MetricEstimate``) or a bare number.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"value": float(value), "lower": None, "upper": None, "method": None}
    if isinstance(value, Mapping):
        doc = dict(value)
    elif hasattr(value, "to_dict"):
        doc = dict(value.to_dict())
    else:
        raise DataError(f"Performance metric {metric!r}: expected a number, a mapping with 'value' or an "
                        f"object with to_dict(), got {type(value).__name__}.")
    if "value" not in doc:
        raise DataError(f"Performance metric {metric!r} has no 'value' (keys: {', '.join(map(str, doc))}); "
                        f"expected {', '.join(PERFORMANCE_KEYS)}.", details={"metric": metric})
    for key in PERFORMANCE_KEYS:
        doc.setdefault(key, None)
    out: dict[str, Any] = jsonable(doc)
    return out


@dataclass(frozen=True)
class MonitoringReport:
    """Everything one comparison found. Only ``drift`` is required.

    Attributes:
        drift: the per-feature :class:`DriftReport` (with its data-quality findings).
        multivariate: the domain-classifier result, when run.
        prediction_drift, label_drift: drift of the model's outputs / of the labels, when available.
        performance: metric name → ``{value, lower, upper, method}`` (mappings, numbers or objects with
            ``to_dict()`` such as ``modelward.monitoring.performance.MetricEstimate``).
        metadata: free-form context shown in the report header (file names, model, window, timings).
    """

    drift: DriftReport
    multivariate: MultivariateResult | None = None
    prediction_drift: OutputDriftResult | None = None
    label_drift: OutputDriftResult | None = None
    performance: Mapping[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.drift, DriftReport):
            raise DataError(f"MonitoringReport.drift must be a DriftReport, got {type(self.drift).__name__}.")
        if self.performance is not None:
            # normalise once, so rendering and JSON see the same plain dicts
            object.__setattr__(self, "performance",
                               {str(k): performance_entry(str(k), v) for k, v in self.performance.items()})

    @property
    def drift_detected(self) -> bool:
        """Dataset-level drift by the per-feature rule, or by the domain classifier."""
        return self.drift.dataset_drift or bool(self.multivariate is not None and self.multivariate.drifted)

    def summary(self) -> dict[str, Any]:
        """The headline: what drifted, in one small dict."""
        return {
            "drift_detected": self.drift_detected,
            "dataset_drift": self.drift.dataset_drift,
            "dataset_reason": self.drift.dataset_reason,
            "drifted_features": self.drift.drifted_features,
            "n_features": len(self.drift.features),
            "multivariate_drift": None if self.multivariate is None else self.multivariate.drifted,
            "prediction_drift": None if self.prediction_drift is None else self.prediction_drift.drifted,
            "label_drift": None if self.label_drift is None else self.label_drift.drifted,
            "quality_errors": sum(q.severity == "error" for q in self.drift.quality),
            "quality_warnings": sum(q.severity == "warning" for q in self.drift.quality),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "metadata": jsonable(self.metadata),
            "drift": self.drift.to_dict(),
            "multivariate": None if self.multivariate is None else self.multivariate.to_dict(),
            "prediction_drift": None if self.prediction_drift is None else self.prediction_drift.to_dict(),
            "label_drift": None if self.label_drift is None else self.label_drift.to_dict(),
            "performance": None if self.performance is None else dict(self.performance),
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)
