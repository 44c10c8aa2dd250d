"""What the console's pages show, read through the core owners (registry, monitoring results, rollouts,
jobs, datasets, the prediction log) with bounded queries: a page of rows, the last few windows, a count.

Every function returns plain dicts and lists ready for a template; none holds SQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from markupsafe import Markup

from modelward.errors import ModelwardError
from modelward.predlog import count_predictions
from modelward.registry import ModelInfo
from modelward.results import MonitoringRun
from modelward.rollouts import Rollout
from modelward.ui.evidence import fairness_badge, model_evidence
from modelward.ui.model_charts import (
    CHART_WINDOWS,
    drift_charts,
    error_chart,
    latency_chart,
    performance_chart,
)
from modelward.ui.views import (
    Page,
    event_view,
    finite,
    job_view,
    num,
    page_number,
    rollout_view,
    short,
    version_view,
    when,
)
from modelward.workspace import Workspace

__all__ = [
    "CHART_WINDOWS",
    "PAGE_SIZE",
    "Page",
    "dataset_page",
    "datasets_page",
    "model_page",
    "models_page",
]

PAGE_SIZE = 20  # rows per table page
_LOWER_IS_BETTER = {"mae", "mse", "rmse", "log_loss", "brier", "mape"}
#: Events the timeline leaves out: bookkeeping with no decision in it.
QUIET = ("loop_job_started", "model_created", "tags_set", "description_set")


# -- models list ------------------------------------------------------------------------------------


def _metric_name(ws: Workspace, model: str, task: str) -> tuple[str, float]:
    """The performance metric the loop judges for ``model`` and its relative drop that counts as below."""
    spec = ws.settings.models.get(model)
    default = "accuracy" if task == "classification" else "mae"
    if spec is None:
        return default, 0.05
    return spec.loop.performance.metric or default, spec.loop.performance.drop


def _health(
    ws: Workspace, info: ModelInfo, run: MonitoringRun | None, rollout: Rollout | None
) -> dict[str, Any]:
    """Drift, performance, data quality and fairness of the latest window, and the live rollout's guardrails,
    each ``ok``/``bad``/``none``."""
    out: dict[str, Any] = {"window": None, "drift": "none", "performance": "none", "quality": "none"}
    out["fairness"], out["fairness_flags"] = fairness_badge(ws, info.name, run)
    if run is not None:
        rows = ws.monitoring_results.metrics_of([run.id], kinds=["quality", "realized", "estimated"])
        findings = [r["value"] for r in rows if r["kind"] == "quality" and r["name"] == "findings"]
        metric, drop = _metric_name(ws, info.name, info.task)
        out["window"] = {
            "id": run.id,
            "version": run.version,
            "end": when(run.end_ts),
            "rows": run.n_rows,
            "drifted_share": run.drifted_share,
        }
        out["drift"] = "bad" if run.dataset_drift else "ok"
        n_findings = int(findings[0] or 0) if findings else 0
        out["quality"] = "bad" if n_findings else "ok"
        out["findings"] = n_findings
        out["metric"] = metric
        out["figures"] = []
        holdout = _holdout(ws, info.name, run.version, metric)
        state = "none"
        for kind in ("realized", "estimated"):
            found = [r for r in rows if r["kind"] == kind and r["name"] == metric]
            if not found:
                continue
            value, lower, upper = (finite(found[0][k]) for k in ("value", "lower", "upper"))
            out["figures"].append({"kind": kind, "value": value, "lower": lower, "upper": upper})
            if value is None or holdout is None:
                continue
            if metric in _LOWER_IS_BETTER:
                below = (lower if lower is not None else value) > holdout * (1 + drop)
            else:
                below = (upper if upper is not None else value) < holdout * (1 - drop)
            state = "bad" if below or state == "bad" else "ok"
        out["performance"] = state
        out["holdout"] = holdout
    out["guardrails"] = "none"
    if rollout is not None and rollout.active:
        statuses = [g.get("status") for g in (rollout.evaluation or {}).get("guardrails", [])]
        out["guardrails"] = "bad" if "fail" in statuses else "ok" if statuses else "none"
    return out


def _holdout(ws: Workspace, model: str, version: int, metric: str) -> float | None:
    try:
        return finite(ws.registry.get(model, version).metrics.get(metric))
    except ModelwardError:
        return None


def models_page(ws: Workspace, number: int, *, now: dt.datetime) -> dict[str, Any]:
    """Every model (a page of them) at a glance."""
    page = Page(page_number(number), PAGE_SIZE, ws.registry.count_models())
    rows = []
    for info in ws.registry.list_models(offset=page.offset, limit=page.size):
        rollout = ws.rollouts.active(info.name) or next(iter(ws.rollouts.latest(info.name, limit=1)), None)
        runs, _ = ws.monitoring_results.runs_page(info.name, limit=1)
        run = runs[0] if runs else None
        rows.append(
            {
                "name": info.name,
                "task": info.task,
                "versions": info.versions,
                "champion": info.aliases.get("champion"),
                "challenger": info.aliases.get("challenger"),
                "aliases": {
                    a: v for a, v in sorted(info.aliases.items()) if a not in ("champion", "challenger")
                },
                "rollout": rollout_view(rollout),
                "health": _health(ws, info, run, rollout),
                "volume_24h": count_predictions(ws.store, info.name, since=now - dt.timedelta(hours=24)),
                "job": job_view(next(iter(ws.jobs.latest(info.name, limit=1)), None)),
            }
        )
    return {"models": rows, "page": page}


# -- one model ------------------------------------------------------------------------------------


def model_page(
    ws: Workspace, name: str, *, versions_page: int, windows_page: int, before: int | None
) -> dict[str, Any]:
    """One model: versions, alias history, charts over its latest windows, the champion's importance, the
    latest window's drift ranked by it, fairness over the windows, quality findings, timeline."""
    found = ws.registry.list_models(name=name)
    if not found:
        ws.registry.list_aliases(name)  # raises the registry's NotFoundError, naming the known models
    info = found[0]
    vpage = Page(page_number(versions_page), PAGE_SIZE, info.versions)
    versions, _ = ws.registry.versions_page(name, offset=vpage.offset, limit=vpage.size)
    latest, runs_total = ws.monitoring_results.runs_page(name, limit=CHART_WINDOWS)
    wpage = Page(page_number(windows_page), PAGE_SIZE, runs_total)
    if wpage.number == 1:
        table_runs = latest[: wpage.size]
    else:
        table_runs, _ = ws.monitoring_results.runs_page(name, offset=wpage.offset, limit=wpage.size)
    chart_runs = list(reversed(latest))
    labels = [short(r.end_ts) for r in chart_runs]
    pos = {r.id: i for i, r in enumerate(chart_runs)}
    metric, _drop = _metric_name(ws, name, info.task)
    rows = ws.monitoring_results.metrics_of(
        [r.id for r in chart_runs],
        kinds=["drift", "quality", "realized", "estimated"],
        names={"drift": ["p_value", "effect_size"], "realized": [metric], "estimated": [metric]},
    )
    ends = {r.id: r.end_ts for r in chart_runs}
    active = ws.rollouts.active(name)
    rollouts = ws.rollouts.latest(name, limit=5)
    shown = active or (rollouts[0] if rollouts else None)
    charts = drift_charts(rows, labels, pos)
    charts["performance"] = performance_chart(rows, labels, pos, metric)
    charts["latency"] = latency_chart(ws, name, chart_runs, labels)
    charts["errors"] = error_chart(ws, shown)
    quality = sorted(
        (r for r in rows if r["kind"] == "quality" and r["name"] != "findings"),
        key=lambda r: pos[int(r["run_id"])],
        reverse=True,
    )[:50]
    findings = [
        {
            "window": int(r["run_id"]),
            "end": when(ends[int(r["run_id"])]),
            "check": r["name"],
            "column": r["feature"],
            "severity": r["method"],
        }
        for r in quality
    ]
    events = ws.registry.events_page(name, before=before, limit=PAGE_SIZE + 10, exclude=QUIET)
    alias_changes = ws.registry.events_page(
        name, limit=PAGE_SIZE, kinds=["alias_set", "alias_rollback", "alias_removed"]
    )
    return {
        **model_evidence(ws, name, chart_runs, labels),
        "charts": {key: Markup(svg) for key, svg in charts.items()},  # noqa: S704 - line_chart escapes every name
        "info": info,
        "versions": [version_view(v) for v in versions],
        "vpage": vpage,
        "windows": [
            {
                "id": r.id,
                "version": r.version,
                "spec": r.window_spec,
                "start": when(r.start_ts),
                "end": when(r.end_ts),
                "rows": r.n_rows,
                "labeled": r.n_labeled,
                "drift": r.dataset_drift,
                "drifted_share": num(r.drifted_share, 3),
            }
            for r in table_runs
        ],
        "wpage": wpage,
        "metric": metric,
        "findings": findings,
        "timeline": [event_view(e) for e in events],
        "older": events[-1].id if len(events) == PAGE_SIZE + 10 else None,
        "before": before,
        "aliases": [event_view(e) for e in alias_changes],
        "rollout": rollout_view(active),
        "rollouts": [rollout_view(r) for r in rollouts],
        "declared": name in ws.settings.models,
        "chart_windows": len(chart_runs),
    }


# -- datasets -------------------------------------------------------------------------------------


def datasets_page(ws: Workspace, number: int) -> dict[str, Any]:
    """The latest version of every dataset (a page of them)."""
    page = Page(page_number(number), PAGE_SIZE, ws.datasets.count_datasets())
    return {
        "page": page,
        "datasets": [
            {
                "name": d.name,
                "version": d.version,
                "rows": d.rows,
                "columns": len(d.schema),
                "created": when(d.created_at),
            }
            for d in ws.datasets.list_datasets(offset=page.offset, limit=page.size)
        ],
    }


def dataset_page(ws: Workspace, name: str, *, number: int, a: int | None, b: int | None) -> dict[str, Any]:
    """A dataset's versions (a page) and the schema/statistics diff between versions ``a`` and ``b``."""
    versions, total = ws.datasets.versions_page(
        name, offset=(page_number(number) - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    page = Page(page_number(number), PAGE_SIZE, total)
    diff = None
    if total >= 2 or (a is not None and b is not None):
        b = b if b is not None else total
        a = a if a is not None else max(1, b - 1)
        va, vb = ws.datasets.get(name, a), ws.datasets.get(name, b)
        raw = ws.datasets.diff(va, vb)
        diff = {
            "a": a,
            "b": b,
            "rows": raw["rows"],
            "added": raw["added_columns"],
            "removed": raw["removed_columns"],
            "types": raw["type_changes"],
            "columns": {
                col: {stat: {"a": num(v.get("a")), "b": num(v.get("b"))} for stat, v in stats.items()}
                for col, stats in raw["columns"].items()
            },
        }
    return {
        "name": name,
        "versions": [
            {
                "version": v.version,
                "rows": v.rows,
                "columns": len(v.schema),
                "hash": v.content_hash[:12],
                "parent": v.parent_version,
                "source": v.source,
                "created": when(v.created_at),
                "created_by": v.created_by,
            }
            for v in versions
        ],
        "page": page,
        "total": total,
        "diff": diff,
    }
