"""Everything checked on one window: feature drift and data quality, prediction and label drift,
realized and estimated performance. Pure computation over a decoded window and a reference."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelward.maintenance._performance import Performance, PerformanceResult
from modelward.maintenance._reference import Reference, label_column, output_frame
from modelward.monitoring import DriftReport, MonitoringReport, OutputDriftResult
from modelward.monitoring.multivariate import MultivariateResult, multivariate_drift
from modelward.predlog._read import PredictionWindow

__all__ = ["DriftSettings", "WindowAnalysis", "analyse_window", "relabel_window"]


@dataclass(frozen=True)
class DriftSettings:
    alpha: float = 0.05
    correction: str = "bh"
    drift_share: float = 0.5
    important_features: tuple[str, ...] = ()
    multivariate_rows: int = 0  # > 0: domain classifier on at most this many rows a side


@dataclass
class WindowAnalysis:
    n_rows: int
    n_labeled: int
    drift: DriftReport | None
    prediction_drift: DriftReport | None
    label_drift: DriftReport | None
    performance: PerformanceResult
    timings: dict[str, float] = field(default_factory=dict)
    multivariate: MultivariateResult | None = None

    @property
    def dataset_drift(self) -> bool:
        return bool(self.drift is not None and self.drift.dataset_drift)

    def report(self) -> dict[str, Any]:
        """The JSON document stored with the run."""
        return {
            "n_rows": self.n_rows,
            "n_labeled": self.n_labeled,
            "drift": None if self.drift is None else self.drift.to_dict(),
            "prediction_drift": None if self.prediction_drift is None else self.prediction_drift.to_dict(),
            "label_drift": None if self.label_drift is None else self.label_drift.to_dict(),
            "multivariate": None if self.multivariate is None else self.multivariate.to_dict(),
            "realized": self.performance.realized,
            "estimated": self.performance.estimated,
            "concept_drift": self.performance.concept_drift,
            "notes": self.performance.notes,
            "timings": {k: round(v, 6) for k, v in self.timings.items()},
        }


def _drift_rows(report: DriftReport | None, kind: str) -> list[dict[str, Any]]:
    if report is None:
        return []
    rows: list[dict[str, Any]] = []
    for f in report.features:
        if f.status != "ok":
            continue
        common = {"kind": kind, "feature": f.column, "method": f.method, "n": f.n_current}
        rows.append({**common, "name": "effect_size", "value": f.effect_size})
        rows.append({**common, "name": "p_value", "value": f.p_value_adjusted if f.p_value is not None else None})
        rows.append({**common, "name": "drifted", "value": float(f.drifted)})
    if kind == "drift":
        rows.append({"kind": kind, "name": "dataset_drift", "value": float(report.dataset_drift)})
        rows.append({"kind": kind, "name": "drifted_share", "value": report.drifted_share})
        rows.append({"kind": "quality", "name": "findings", "value": float(len(report.quality))})
        for q in report.quality:
            rows.append({"kind": "quality", "name": q.check[:64], "feature": q.column, "value": 1.0,
                         "method": q.severity})
    return rows


def performance_rows(perf: PerformanceResult, kinds: tuple[str, ...] = ("realized", "estimated")) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for kind in kinds:
        for name, m in (perf.realized if kind == "realized" else perf.estimated).items():
            rows.append({"kind": kind, "name": name, "value": m.get("value"), "lower": m.get("lower"),
                         "upper": m.get("upper"), "n": m.get("n"), "method": m.get("method")})
    if "realized" in kinds:
        for r in perf.concept_drift:  # value: how many detections the detector signalled in the window
            rows.append({"kind": "concept_drift", "name": str(r.get("detector"))[:64],
                         "value": float(len(r.get("detections") or ())), "n": r.get("n"),
                         "method": r.get("implementation")})
    return rows


def metric_rows(analysis: WindowAnalysis) -> list[dict[str, Any]]:
    """The run's time-series rows (long format) for ``monitoring_metrics``."""
    rows = [
        {"kind": "window", "name": "n_rows", "value": float(analysis.n_rows)},
        {"kind": "window", "name": "n_labeled", "value": float(analysis.n_labeled)},
    ]
    rows += _drift_rows(analysis.drift, "drift")
    rows += _drift_rows(analysis.prediction_drift, "prediction_drift")
    rows += _drift_rows(analysis.label_drift, "label_drift")
    rows += performance_rows(analysis.performance)
    mv = analysis.multivariate
    if mv is not None:
        rows += [{"kind": "multivariate", "name": "auc", "value": mv.auc, "n": mv.n_current},
                 {"kind": "multivariate", "name": "p_value", "value": mv.p_value},
                 {"kind": "multivariate", "name": "drifted", "value": float(mv.drifted)}]
        rows += [{"kind": "multivariate", "name": "attribution", "feature": a.feature, "value": a.share}
                 for a in mv.attributions]
    return rows


def analyse_window(
    window: PredictionWindow, reference: Reference, performance: Performance, settings: DriftSettings
) -> WindowAnalysis:
    """Run every check of one window against ``reference``."""
    timings: dict[str, float] = {}
    t = time.perf_counter()
    important = [f for f in settings.important_features if f in reference.profile.columns]
    drift = reference.profile.compare(
        window.features, alpha=settings.alpha, correction=settings.correction,
        drift_share=settings.drift_share, important_features=important,
    ) if len(window) else None
    timings["drift_quality"] = time.perf_counter() - t
    multivariate = None
    if settings.multivariate_rows > 0 and len(window):
        t = time.perf_counter()
        columns = [c for c in reference.features if c in window.features.columns]
        multivariate = multivariate_drift(reference.eval_features[columns], window.features[columns],
                                          alpha=settings.alpha, max_rows=settings.multivariate_rows, seed=0)
        timings["multivariate"] = time.perf_counter() - t

    t = time.perf_counter()
    outputs = output_frame(reference.task, reference.classes, window.prediction, window.probabilities)
    # The outputs (and the labels) drift when any of their columns drifts, as in monitoring.outputs.
    prediction_drift = reference.output_profile.compare(
        outputs, alpha=settings.alpha, correction=settings.correction, quality=False,
        important_features=list(reference.output_profile.columns),
    ) if len(window) else None
    labeled = np.flatnonzero(window.labeled)
    label_drift = None
    if len(labeled) and reference.label_profile is not None:
        labels = label_column(reference.task, reference.classes, window.label[labeled])
        label_drift = reference.label_profile.compare(labels, alpha=settings.alpha, quality=False,
                                                      important_features=["label"])
    timings["prediction_label_drift"] = time.perf_counter() - t

    t = time.perf_counter()
    perf = PerformanceResult()
    proba = window.probabilities
    performance.realized(window.label[labeled], window.prediction[labeled],
                         None if proba is None else proba[labeled], perf)
    timings["realized"] = time.perf_counter() - t
    t = time.perf_counter()
    if len(window):
        performance.estimated(window.features, window.prediction, proba, perf)
    timings["estimated"] = time.perf_counter() - t
    return WindowAnalysis(len(window), len(labeled), drift, prediction_drift, label_drift, perf, timings,
                          multivariate)


def relabel_window(labeled: PredictionWindow, performance: Performance) -> PerformanceResult:
    """Realized metrics of a window's labeled rows only (when labels arrived after it was processed)."""
    perf = PerformanceResult()
    performance.realized(labeled.label, labeled.prediction, labeled.probabilities, perf)
    return perf


def monitoring_report(analysis: WindowAnalysis, task: str, metadata: dict[str, Any]) -> MonitoringReport | None:
    """The window as a :class:`~modelward.monitoring.MonitoringReport` (for the HTML report); None when the
    window had no rows. Performance lists realized values as ``accuracy`` and estimates as
    ``accuracy (estimated)``."""
    if analysis.drift is None:
        return None
    performance: dict[str, Any] = dict(analysis.performance.realized)
    performance.update({f"{k} (estimated)": v for k, v in analysis.performance.estimated.items()})
    return MonitoringReport(
        drift=analysis.drift,
        multivariate=analysis.multivariate,
        prediction_drift=None if analysis.prediction_drift is None
        else OutputDriftResult("prediction", task, analysis.prediction_drift),
        label_drift=None if analysis.label_drift is None else OutputDriftResult("label", task, analysis.label_drift),
        performance=performance or None,
        metadata=metadata,
    )
