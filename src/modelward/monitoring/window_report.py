"""What one window analysis found, as a typed :class:`WindowReport`, and the same findings laid out as a
:class:`MonitoringReport` — what :func:`~modelward.monitoring.render_html` renders and ``modelward drift
--json`` writes.

:func:`~modelward.monitoring.analyse` returns a ``WindowReport``; the monitor stores its
:meth:`~WindowReport.to_dict` with every window and reads it back with :meth:`~WindowReport.from_dict`.

>>> import numpy as np, pandas as pd
>>> from modelward.monitoring import Profile
>>> ref = pd.DataFrame({"x": np.arange(100.0)})
>>> window = WindowReport(n_rows=100, n_labeled=0, drift=Profile.fit(ref).compare(ref))
>>> WindowReport.from_dict(window.to_dict()).to_dict() == window.to_dict()
True
>>> report = MonitoringReport(drift=window.drift,
...                           performance={"accuracy": {"value": 0.91, "lower": 0.89, "upper": 0.93,
...                                                     "method": "bootstrap"}})
>>> sorted(report.to_dict())
['drift', 'label_drift', 'metadata', 'multivariate', 'performance', 'prediction_drift', 'summary']
>>> report.drift_detected
False
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from modelward.errors import DataError
from modelward.monitoring._json import jsonable
from modelward.monitoring.attribution_drift import AttributionDrift
from modelward.monitoring.drift_report import DriftReport
from modelward.monitoring.fairness import FairnessResult
from modelward.monitoring.importance_drift import RankedDrift
from modelward.monitoring.multivariate import MultivariateResult
from modelward.monitoring.outputs import OutputDriftResult
from modelward.monitoring.performance import ConceptDriftResult, MetricEstimate

__all__ = ["MonitoringReport", "WindowReport", "performance_entry"]


@dataclass(frozen=True)
class WindowReport:
    """Everything one window analysis found.

    Attributes:
        n_rows, n_labeled: rows of the window, and how many of them have a label.
        drift: per-feature drift with the data-quality findings (``None`` only for a window without rows).
        prediction_drift, label_drift: drift of the model's outputs and of the labels, when checked.
        multivariate: the domain classifier's verdict, when run.
        realized: performance computed from the labeled rows; ``estimated``: without labels (CBPE/DLE).
        concept_drift: the detectors run on the labeled rows' error stream.
        notes: what was skipped or bounded, and why.
        timings: seconds per stage.
        relabel_notes, labels_as_of: set when the realized figures were recomputed because labels
            arrived after the window was analysed (with labels stored up to ``labels_as_of``).
        drift_by_importance: every tested column with the model's use of it, drifted ones first,
            most important first; empty when the model's importance is unknown.
        fairness: the fairness check of each sensitive column (empty when none is declared).
        attribution_drift: the change of each input column's mean |SHAP| from the reference rows to
            the window's (None when not computed: no exact explainer, or ``attribution_rows: 0``).
    """

    n_rows: int
    n_labeled: int
    drift: DriftReport | None = None
    prediction_drift: OutputDriftResult | None = None
    label_drift: OutputDriftResult | None = None
    multivariate: MultivariateResult | None = None
    realized: dict[str, MetricEstimate] = field(default_factory=dict)
    estimated: dict[str, MetricEstimate] = field(default_factory=dict)
    concept_drift: tuple[ConceptDriftResult, ...] = ()
    notes: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    relabel_notes: tuple[str, ...] | None = None
    labels_as_of: dt.datetime | None = None
    drift_by_importance: tuple[RankedDrift, ...] = ()
    fairness: tuple[FairnessResult, ...] = ()
    attribution_drift: AttributionDrift | None = None

    @property
    def dataset_drift(self) -> bool:
        """The dataset-level verdict of the feature drift (false for a window without rows)."""
        return bool(self.drift is not None and self.drift.dataset_drift)

    @property
    def drifted_share(self) -> float | None:
        return None if self.drift is None else self.drift.drifted_share

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (the document stored with a monitored window)."""
        doc: dict[str, Any] = {
            "n_rows": self.n_rows,
            "n_labeled": self.n_labeled,
            "drift": None if self.drift is None else self.drift.to_dict(),
            "prediction_drift": _output_doc(self.prediction_drift),
            "label_drift": _output_doc(self.label_drift),
            "multivariate": None if self.multivariate is None else self.multivariate.to_dict(),
            "realized": {name: m.to_dict() for name, m in self.realized.items()},
            "estimated": {name: m.to_dict() for name, m in self.estimated.items()},
            "concept_drift": [c.to_dict() for c in self.concept_drift],
            "notes": list(self.notes),
            "timings": {k: round(v, 6) for k, v in self.timings.items()},
        }
        if self.relabel_notes is not None:
            doc["relabel_notes"] = list(self.relabel_notes)
        if self.labels_as_of is not None:
            doc["labels_as_of"] = self.labels_as_of.isoformat()
        if self.drift_by_importance:
            doc["drift_by_importance"] = [r.to_dict() for r in self.drift_by_importance]
        if self.fairness:
            doc["fairness"] = [f.to_dict() for f in self.fairness]
        if self.attribution_drift is not None:
            doc["attribution_drift"] = self.attribution_drift.to_dict()
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> WindowReport:
        """The report :meth:`to_dict` wrote."""
        relabel_notes = doc.get("relabel_notes")
        labels_as_of = doc.get("labels_as_of")
        return cls(
            n_rows=int(doc["n_rows"]),
            n_labeled=int(doc["n_labeled"]),
            drift=None if doc.get("drift") is None else DriftReport.from_dict(doc["drift"]),
            prediction_drift=_output_result("prediction", doc.get("prediction_drift")),
            label_drift=_output_result("label", doc.get("label_drift")),
            multivariate=None
            if doc.get("multivariate") is None
            else MultivariateResult.from_dict(doc["multivariate"]),
            realized={name: MetricEstimate.from_dict(m) for name, m in (doc.get("realized") or {}).items()},
            estimated={name: MetricEstimate.from_dict(m) for name, m in (doc.get("estimated") or {}).items()},
            concept_drift=tuple(ConceptDriftResult.from_dict(c) for c in doc.get("concept_drift") or ()),
            notes=tuple(doc.get("notes") or ()),
            timings={str(k): float(v) for k, v in (doc.get("timings") or {}).items()},
            relabel_notes=None if relabel_notes is None else tuple(relabel_notes),
            labels_as_of=None if labels_as_of is None else dt.datetime.fromisoformat(labels_as_of),
            drift_by_importance=tuple(RankedDrift.from_dict(r) for r in doc.get("drift_by_importance") or ()),
            fairness=tuple(FairnessResult.from_dict(f) for f in doc.get("fairness") or ()),
            attribution_drift=None
            if doc.get("attribution_drift") is None
            else AttributionDrift.from_dict(doc["attribution_drift"]),
        )

    def monitoring_report(self, metadata: Mapping[str, Any] | None = None) -> MonitoringReport | None:
        """The findings as a :class:`MonitoringReport` (None for a window without rows). Its performance
        lists realized values as ``accuracy`` and estimates as ``accuracy (estimated)``."""
        if self.drift is None:
            return None
        performance: dict[str, Any] = {name: m.to_dict() for name, m in self.realized.items()}
        performance.update({f"{name} (estimated)": m.to_dict() for name, m in self.estimated.items()})
        return MonitoringReport(
            drift=self.drift,
            multivariate=self.multivariate,
            prediction_drift=self.prediction_drift,
            label_drift=self.label_drift,
            performance=performance or None,
            metadata=dict(metadata or {}),
            fairness=self.fairness,
            drift_by_importance=self.drift_by_importance,
            attribution_drift=self.attribution_drift,
        )


def _output_doc(result: OutputDriftResult | None) -> dict[str, Any] | None:
    """An output drift as stored: its drift report, and the task it was tested as."""
    return None if result is None else {**result.report.to_dict(), "task": result.task}


def _output_result(
    target: Literal["prediction", "label"], doc: Mapping[str, Any] | None
) -> OutputDriftResult | None:
    if doc is None:
        return None
    report = DriftReport.from_dict(doc)
    task = doc.get("task") or _stored_task(report)
    return OutputDriftResult(target=target, task=str(task), report=report)


def _stored_task(report: DriftReport) -> str:
    """The task of an output drift stored without one (before it was recorded): classes are categorical
    columns, several numeric columns are class scores, one is a number."""
    kinds = [f.kind for f in report.features]
    if "categorical" in kinds or "boolean" in kinds:
        return "classification"
    return "probabilities" if len(kinds) > 1 else "regression"


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
        raise DataError(
            f"Performance metric {metric!r}: expected a number, a mapping with 'value' or an "
            f"object with to_dict(), got {type(value).__name__}."
        )
    if "value" not in doc:
        raise DataError(
            f"Performance metric {metric!r} has no 'value' (keys: {', '.join(map(str, doc))}); "
            f"expected {', '.join(PERFORMANCE_KEYS)}.",
            details={"metric": metric},
        )
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
        fairness: the fairness check of each sensitive column, when declared (``fairness`` in the JSON
            only then).
        drift_by_importance: the tested columns ranked by the model's use of them, when its importance
            is known (``drift_by_importance`` in the JSON only then).
        attribution_drift: the change of each input column's mean |SHAP|, when computed
            (``attribution_drift`` in the JSON only then).
    """

    drift: DriftReport
    multivariate: MultivariateResult | None = None
    prediction_drift: OutputDriftResult | None = None
    label_drift: OutputDriftResult | None = None
    performance: Mapping[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    fairness: tuple[FairnessResult, ...] = ()
    drift_by_importance: tuple[RankedDrift, ...] = ()
    attribution_drift: AttributionDrift | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.drift, DriftReport):
            raise DataError(f"MonitoringReport.drift must be a DriftReport, got {type(self.drift).__name__}.")
        if self.performance is not None:
            # normalise once, so rendering and JSON see the same plain dicts
            object.__setattr__(
                self,
                "performance",
                {str(k): performance_entry(str(k), v) for k, v in self.performance.items()},
            )

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
        doc = {
            "summary": self.summary(),
            "metadata": jsonable(self.metadata),
            "drift": self.drift.to_dict(),
            "multivariate": None if self.multivariate is None else self.multivariate.to_dict(),
            "prediction_drift": None if self.prediction_drift is None else self.prediction_drift.to_dict(),
            "label_drift": None if self.label_drift is None else self.label_drift.to_dict(),
            "performance": None if self.performance is None else dict(self.performance),
        }
        if self.fairness:
            doc["fairness"] = [f.to_dict() for f in self.fairness]
        if self.drift_by_importance:
            doc["drift_by_importance"] = [r.to_dict() for r in self.drift_by_importance]
        if self.attribution_drift is not None:
            doc["attribution_drift"] = self.attribution_drift.to_dict()
        return doc

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)
