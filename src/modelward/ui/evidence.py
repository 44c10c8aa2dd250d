"""What the console shows of a model's use of its columns and of its fairness (issue 13): the champion's global
importance as bars, the latest window's drift ranked by that importance, the fairness gaps of each sensitive
column over the latest windows with their intervals, and the models list's fairness badge.

It is apart from :mod:`modelward.ui.data` (which assembles the pages) because these figures come from the
stored documents (a version's importance record, a window's report), not from the metric rows the other
charts read. Reads stay bounded: one version; the latest window's report; and the reports of the charted
windows (at most :data:`~modelward.ui.model_charts.CHART_WINDOWS`) only for a model that checks fairness.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup

from modelward.errors import ModelwardError
from modelward.explain.importance import GlobalImportance
from modelward.monitoring import WindowReport
from modelward.monitoring.fairness import FairnessResult, Gap
from modelward.results import MonitoringRun
from modelward.ui.charts import Bar, Point, Series, bar_chart, line_chart
from modelward.ui.views import finite
from modelward.workspace import Workspace

__all__ = ["IMPORTANCE_COLUMNS", "RANKED_ROWS", "fairness_badge", "model_evidence"]

IMPORTANCE_COLUMNS = 15  # columns drawn in the importance bars, the most important first
RANKED_ROWS = 20  # rows of the latest window's drift ranked by importance, drifted first

_GAPS = (("demographic_parity", "demographic parity gap"), ("equalized_odds", "equalized odds gap"))


def _sensitive(ws: Workspace, model: str) -> list[str]:
    spec = ws.settings.models.get(model)
    return list(spec.monitor.sensitive_columns) if spec is not None else []


def importance_view(ws: Workspace, model: str) -> dict[str, Any]:
    """The champion's global importance: mean |SHAP| share and permutation importance (± its standard
    deviation over the shuffles) of its most important columns, as bars."""
    try:
        mv = ws.registry.get(model, "champion")
    except ModelwardError:
        return {"version": None}
    if not mv.importance:
        return {"version": mv.version, "recorded": False}
    try:
        imp = GlobalImportance.from_dict(mv.importance)
    except (ValueError, KeyError, TypeError):
        return {"version": mv.version, "recorded": False}
    shares = imp.shap_shares()
    top = imp.features[:IMPORTANCE_COLUMNS]
    permutation = [
        Bar(f.feature, f.permutation_mean, f.permutation_std) for f in top if f.permutation_mean is not None
    ]
    return {
        "version": mv.version,
        "recorded": True,
        "method": imp.method,
        "output": imp.output,
        "rows": imp.rows,
        "scoring": imp.scoring,
        "repeats": imp.repeats,
        "permutation_rows": imp.permutation_rows,
        "more": len(imp.features) - len(top),
        "shap": Markup(  # noqa: S704 - bar_chart escapes every name
            bar_chart(
                [Bar(f.feature, shares[f.feature]) for f in top], title="share of mean |SHAP|", percent=True
            )
        ),
        "permutation": Markup(  # noqa: S704 - bar_chart escapes every name
            bar_chart(permutation, title=f"permutation importance (drop of {imp.scoring})")
        )
        if permutation
        else None,
    }


def ranked_view(report: WindowReport | None, version: int | None) -> dict[str, Any]:
    """The latest window's tested columns ranked by the use ``version`` (the one it monitored) makes of them
    (its first rows)."""
    ranking = () if report is None else report.drift_by_importance
    return {
        "version": version,
        "rows": [
            {
                "column": r.column,
                "share": r.importance,
                "share_pct": "-" if r.importance is None else f"{100 * r.importance:.1f}%",
                "drifted": r.drifted,
                "ignored": r.ignored,
                "effect_size": r.effect_size,
            }
            for r in ranking[:RANKED_ROWS]
        ],
        "more": max(len(ranking) - RANKED_ROWS, 0),
        "ignored": sum(r.ignored for r in ranking),
    }


def _gap_view(gap: Gap) -> dict[str, Any]:
    return {
        "name": gap.name,
        "value": finite(gap.value),
        "lower": finite(gap.lower),
        "upper": finite(gap.upper),
        "confidence": gap.confidence,
        "tolerance": gap.tolerance,
        "flagged": gap.flagged,
        "between": " vs ".join(gap.between) if gap.between else None,
        "reason": gap.reason,
    }


def fairness_view(
    ws: Workspace,
    model: str,
    runs: Sequence[MonitoringRun],
    labels: list[str],
    latest: WindowReport | None,
) -> list[dict[str, Any]]:
    """Per sensitive column (declared ones first, then any other the windows checked): its two gaps over
    ``runs`` (oldest first; ``latest`` is the last one's report) with their intervals as bands, and the
    latest window's figures."""
    declared = _sensitive(ws, model)
    if not runs or (not declared and (latest is None or not latest.fairness)):
        return []
    reports = [ws.monitoring_results.report(r.id) for r in runs[:-1]] + [latest]
    by_window = [{f.column: f for f in (rep.fairness if rep is not None else ())} for rep in reports]
    columns = declared + sorted({c for found in by_window for c in found} - set(declared))
    out = []
    for column in columns:
        series = []
        tolerance: float | None = None
        for key, title in _GAPS:
            points = []
            for i, found in enumerate(by_window):
                result = found.get(column)
                gap = None if result is None else getattr(result, key)
                value = None if gap is None else finite(gap.value)
                if gap is None or value is None:
                    continue
                tolerance = gap.tolerance
                points.append(Point(i, value, finite(gap.lower), finite(gap.upper)))
            series.append(Series(title, points, dashed=key == "equalized_odds"))
        last: FairnessResult | None = by_window[-1].get(column)
        out.append(
            {
                "column": column,
                "chart": Markup(  # noqa: S704 - line_chart escapes every name
                    line_chart(
                        series,
                        labels,
                        title=f"fairness gaps of {column}",
                        rule=tolerance,
                        rule_label="" if tolerance is None else f"tolerance {tolerance:g}",
                    )
                ),
                "windows": sum(column in found for found in by_window),
                "latest": None
                if last is None
                else {
                    "flagged": last.flagged,
                    "gaps": [_gap_view(getattr(last, key)) for key, _ in _GAPS],
                    "too_small": last.too_small,
                    "groups": len(last.groups),
                },
            }
        )
    return out


def model_evidence(
    ws: Workspace, model: str, runs: Sequence[MonitoringRun], labels: list[str]
) -> dict[str, Any]:
    """The model page's importance and fairness sections over its charted ``runs`` (oldest first)."""
    latest = ws.monitoring_results.report(runs[-1].id) if runs else None
    return {
        "importance": importance_view(ws, model),
        "ranked": ranked_view(latest, runs[-1].version if runs else None),
        "fairness": fairness_view(ws, model, runs, labels, latest),
        "sensitive": _sensitive(ws, model),
    }


def fairness_badge(ws: Workspace, model: str, run: MonitoringRun | None) -> tuple[str, list[str]]:
    """The models list's fairness state of the latest window, ``ok``/``bad``/``none``, and the flagged gaps
    in words. Reads that window's report only when the model declares sensitive columns."""
    if run is None or not _sensitive(ws, model):
        return "none", []
    results = ws.monitoring_results.report(run.id).fairness
    if not results:
        return "none", []
    flagged = [
        f"{r.column}: {gap.name} {gap.value:.3g} [{gap.lower:.3g}, {gap.upper:.3g}]"
        for r in results
        for gap in (r.demographic_parity, r.equalized_odds)
        if gap.flagged and gap.value is not None and gap.lower is not None and gap.upper is not None
    ]
    return ("bad" if any(r.flagged for r in results) else "ok"), flagged
