"""A window report as time-series rows (long format) for ``monitoring_metrics``: one value per
(kind, name, feature). ``kind`` is "window", "drift", "quality", "prediction_drift", "label_drift",
"realized", "estimated", "concept_drift" or "multivariate"."""

from __future__ import annotations

from typing import Any

from modelward.monitoring import DriftReport, MetricEstimate, WindowReport

__all__ = ["realized_rows", "window_rows"]

Row = dict[str, Any]


def _drift_rows(report: DriftReport | None, kind: str) -> list[Row]:
    if report is None:
        return []
    rows: list[Row] = []
    for f in report.features:
        if f.status != "ok":
            continue
        common = {"kind": kind, "feature": f.column, "method": f.method, "n": f.n_current}
        rows.append({**common, "name": "effect_size", "value": f.effect_size})
        rows.append(
            {**common, "name": "p_value", "value": f.p_value_adjusted if f.p_value is not None else None}
        )
        rows.append({**common, "name": "drifted", "value": float(f.drifted)})
    if kind == "drift":
        rows.append({"kind": kind, "name": "dataset_drift", "value": float(report.dataset_drift)})
        rows.append({"kind": kind, "name": "drifted_share", "value": report.drifted_share})
        rows.append({"kind": "quality", "name": "findings", "value": float(len(report.quality))})
        for q in report.quality:
            rows.append(
                {
                    "kind": "quality",
                    "name": q.check[:64],
                    "feature": q.column,
                    "value": 1.0,
                    "method": q.severity,
                }
            )
    return rows


def _metric_rows(kind: str, metrics: dict[str, MetricEstimate]) -> list[Row]:
    return [
        {
            "kind": kind,
            "name": name,
            "value": m.value,
            "lower": m.lower,
            "upper": m.upper,
            "n": m.n,
            "method": m.method,
        }
        for name, m in metrics.items()
    ]


def _concept_drift_rows(report: WindowReport) -> list[Row]:
    # value: how many detections the detector signalled in the window
    return [
        {
            "kind": "concept_drift",
            "name": r.detector[:64],
            "value": float(len(r.detections)),
            "n": r.n,
            "method": r.implementation,
        }
        for r in report.concept_drift
    ]


def window_rows(report: WindowReport) -> list[Row]:
    """Every row of a freshly analysed window."""
    rows: list[Row] = [
        {"kind": "window", "name": "n_rows", "value": float(report.n_rows)},
        {"kind": "window", "name": "n_labeled", "value": float(report.n_labeled)},
    ]
    rows += _drift_rows(report.drift, "drift")
    rows += _drift_rows(
        None if report.prediction_drift is None else report.prediction_drift.report, "prediction_drift"
    )
    rows += _drift_rows(None if report.label_drift is None else report.label_drift.report, "label_drift")
    rows += _metric_rows("realized", report.realized)
    rows += _metric_rows("estimated", report.estimated)
    rows += _concept_drift_rows(report)
    mv = report.multivariate
    if mv is not None:
        rows += [
            {"kind": "multivariate", "name": "auc", "value": mv.auc, "n": mv.n_current},
            {"kind": "multivariate", "name": "p_value", "value": mv.p_value},
            {"kind": "multivariate", "name": "drifted", "value": float(mv.drifted)},
        ]
        rows += [
            {"kind": "multivariate", "name": "attribution", "feature": a.feature, "value": a.share}
            for a in mv.attributions
        ]
    return rows


REALIZED_KINDS = ("realized", "concept_drift")


def realized_rows(report: WindowReport) -> list[Row]:
    """The rows that change when labels arrive: labeled rows, realized metrics, concept-drift detectors."""
    return [
        {"kind": "window", "name": "n_labeled", "value": float(report.n_labeled)},
        *_metric_rows("realized", report.realized),
        *_concept_drift_rows(report),
    ]
