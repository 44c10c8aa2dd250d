"""What the console's pages show, read through the core owners (registry, monitoring results, rollouts,
jobs, datasets, the prediction log) with bounded queries: a page of rows, the last few windows, a count.

Every function returns plain dicts and lists ready for a template; none holds SQL.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from modelward.cli.narration import event_lines, gate_lines
from modelward.errors import ModelwardError
from modelward.predlog import count_predictions, latency_samples
from modelward.registry import Event, ModelInfo
from modelward.results import MonitoringRun
from modelward.rollouts import Rollout
from modelward.ui.charts import Point, Series, line_chart
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
CHART_WINDOWS = 30  # the charts draw the latest windows, at most this many
LATENCY_SAMPLE = 200  # logged predictions per window read for its latency percentiles, at most
_DRIFT_FEATURES = 8  # features drawn in the drift charts (the most drifted ones)
_LOWER_IS_BETTER = {"mae", "mse", "rmse", "log_loss", "brier", "mape"}
#: Events the timeline leaves out: bookkeeping with no decision in it.
QUIET = ("loop_job_started", "model_created", "tags_set", "description_set")


@dataclass(frozen=True)
class Page:
    """Where a paginated table is: page ``number`` (1-based) of ``pages``."""

    number: int
    size: int
    total: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_number(value: int | None) -> int:
    return max(1, int(value or 1))


def _when(ts: dt.datetime | None) -> str:
    return "" if ts is None else ts.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _short(ts: dt.datetime) -> str:
    return ts.astimezone(dt.UTC).strftime("%m-%d %H:%M")


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "-" if not math.isfinite(value) else f"{value:.{digits}g}"
    return str(value)


# -- models list ------------------------------------------------------------------------------------


def _test_state(rollout: Rollout) -> dict[str, Any]:
    """The rollout's sequential test and guardrails, from its last evaluation."""
    evaluation = rollout.evaluation or {}
    test = evaluation.get("test") or {}
    return {
        "decision": test.get("decision") or "no evaluation yet",
        "estimate": test.get("estimate"),
        "lower": test.get("lower"),
        "upper": test.get("upper"),
        "p_value": test.get("p_value"),
        "n_champion": test.get("n_champion"),
        "n_challenger": test.get("n_challenger"),
        "verdict": (evaluation.get("verdict") or {}).get("reason"),
        "guardrails": [
            {"name": g.get("name"), "status": g.get("status"), "reason": g.get("reason")}
            for g in evaluation.get("guardrails", [])
        ],
        "at": evaluation.get("at"),
    }


def _rollout_view(rollout: Rollout | None) -> dict[str, Any] | None:
    if rollout is None:
        return None
    return {
        **rollout.summary(),
        "active": rollout.active,
        "percent": rollout.share * 100,
        "started": _when(rollout.started_at),
        "finished": _when(rollout.finished_at),
        "test": _test_state(rollout),
    }


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
    """Drift, performance, data quality and guardrails of the latest window, each ``ok``/``bad``/``none``."""
    out: dict[str, Any] = {"window": None, "drift": "none", "performance": "none", "quality": "none"}
    if run is not None:
        rows = ws.monitoring_results.metrics_of([run.id], kinds=["quality", "realized", "estimated"])
        findings = [r["value"] for r in rows if r["kind"] == "quality" and r["name"] == "findings"]
        metric, drop = _metric_name(ws, info.name, info.task)
        out["window"] = {
            "id": run.id,
            "version": run.version,
            "end": _when(run.end_ts),
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
            value, lower, upper = (_float(found[0][k]) for k in ("value", "lower", "upper"))
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


def _float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _holdout(ws: Workspace, model: str, version: int, metric: str) -> float | None:
    try:
        return _float(ws.registry.get(model, version).metrics.get(metric))
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
                "rollout": _rollout_view(rollout),
                "health": _health(ws, info, run, rollout),
                "volume_24h": count_predictions(ws.store, info.name, since=now - dt.timedelta(hours=24)),
                "job": _job_view(ws, info.name),
            }
        )
    return {"models": rows, "page": page}


def _job_view(ws: Workspace, model: str) -> dict[str, Any] | None:
    jobs = ws.jobs.latest(model, limit=1)
    if not jobs:
        return None
    job = jobs[0]
    return {"id": job.id, "status": job.status, "active": job.active, "trigger": job.summary().get("trigger")}


# -- one model ------------------------------------------------------------------------------------


def describe_event(event: Event) -> tuple[str, list[str]]:
    """An event as a summary and its evidence lines (the loop's words, as ``models history`` says them)."""
    p = event.payload
    if event.kind.startswith(("loop_", "rollout_")):
        return event_lines(event)
    if event.kind == "version_registered":
        metrics = p.get("metrics") or {}
        figures = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, int | float))
        return f"v{p.get('version')} registered", [f"its own holdout: {figures}"] if figures else []
    if event.kind in ("alias_set", "alias_rollback", "alias_removed"):
        was = "nothing" if p.get("from") is None else f"v{p.get('from')}"
        now = "nothing" if p.get("to") is None else f"v{p.get('to')}"
        verb = {"alias_set": "set", "alias_rollback": "rolled back", "alias_removed": "removed"}[event.kind]
        return f"{p.get('alias')} {verb}: {was} -> {now}", [f"reason: {p.get('reason') or 'none given'}"]
    return event.kind.replace("_", " "), []


def _event_view(event: Event) -> dict[str, Any]:
    summary, evidence = describe_event(event)
    extra = gate_lines(event.payload)[1:] if event.kind == "loop_gate_decided" and not evidence else []
    return {
        "id": event.id,
        "ts": _when(event.ts),
        "kind": event.kind,
        "actor": event.actor,
        "summary": summary,
        "evidence": [*evidence, *extra],
        "group": event.kind.split("_", 1)[0],
    }


def _version_view(v: Any, ws: Workspace) -> dict[str, Any]:
    lineage = v.lineage or {}
    dataset = lineage.get("dataset") or {}
    code = lineage.get("code") or {}
    return {
        "version": v.version,
        "aliases": v.aliases,
        "created": _when(v.created_at),
        "created_by": v.created_by,
        "metrics": {k: _num(val) for k, val in sorted(v.metrics.items())},
        "params": {k: _num(val) for k, val in sorted(v.params.items())},
        "dataset": dataset,
        "code": code,
        "entrypoint": lineage.get("entrypoint"),
        "features": lineage.get("features") or [],
        "evaluation": lineage.get("evaluation") or lineage.get("split"),
    }


Row = dict[str, Any]


def _drift_charts(rows: list[Row], labels: list[str], pos: dict[int, int]) -> dict[str, str]:
    drift = [r for r in rows if r["kind"] == "drift" and r["feature"] is not None]
    effects = [r for r in drift if r["name"] == "effect_size"]
    if not effects:
        return {
            "drift_p": line_chart([], [], title="p-value per feature"),
            "drift_effect": line_chart([], [], title="effect size per feature"),
        }
    last = max((r["run_id"] for r in effects), key=lambda run_id: pos[int(run_id)])  # the latest window
    latest = sorted((r for r in effects if r["run_id"] == last), key=lambda r: -(_float(r["value"]) or 0.0))
    top = [r["feature"] for r in latest[:_DRIFT_FEATURES]]
    method = {r["feature"]: r["method"] for r in latest}
    charts = {}
    for name, key, title in (
        ("p_value", "drift_p", "adjusted p-value per feature (drift below the line)"),
        ("effect_size", "drift_effect", "drift statistic (effect size) per feature"),
    ):
        by_feature: dict[str, list[Point]] = {f: [] for f in top}
        for r in drift:
            value = _float(r["value"])
            if r["name"] == name and r["feature"] in by_feature and value is not None:
                by_feature[r["feature"]].append(Point(pos[int(r["run_id"])], value))
        charts[key] = line_chart(
            [Series(f"{f} ({method.get(f) or ''})", points) for f, points in by_feature.items()],
            labels,
            title=title,
            y_range=(0.0, 1.0) if name == "p_value" else None,
            rule=0.05 if name == "p_value" else None,
            rule_label="0.05" if name == "p_value" else "",
        )
    return charts


def _performance_chart(rows: list[Row], labels: list[str], pos: dict[int, int], metric: str) -> str:
    series = []
    for kind, dashed in (("realized", False), ("estimated", True)):
        series.append(
            Series(
                f"{metric} {kind}",
                [
                    Point(pos[int(r["run_id"])], value, _float(r["lower"]), _float(r["upper"]))
                    for r in rows
                    if r["kind"] == kind and r["name"] == metric and (value := _float(r["value"])) is not None
                ],
                dashed=dashed,
            )
        )
    return line_chart(series, labels, title=f"{metric}: realized vs estimated, with intervals")


def _latency_chart(ws: Workspace, model: str, runs: Sequence[MonitoringRun], labels: list[str]) -> str:
    p50, p95 = Series("latency p50 (ms)"), Series("latency p95 (ms)")
    samples = latency_samples(
        ws.store, model, [(r.start_ts, r.end_ts, r.version) for r in runs], per_window=LATENCY_SAMPLE
    )
    for i, sample in enumerate(samples):
        if sample:
            ordered = sorted(sample)
            p50.points.append(Point(i, _rank(ordered, 0.50)))
            p95.points.append(Point(i, _rank(ordered, 0.95)))
    return line_chart([p50, p95], labels, title="latency per window (from the prediction log)")


def _rank(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of sorted values, nearest rank (numpy's per-call overhead is most of 30 windows)."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _error_chart(ws: Workspace, rollout: Rollout | None) -> str:
    """Error rate per arm per interval of the latest rollout (the servers' counters: server and input
    errors over requests), its last :data:`CHART_WINDOWS` intervals; a model without rollout has no stored
    error counters."""
    if rollout is None:
        return line_chart([], [], title="error rate")
    interval = max(float(rollout.settings.get("guardrails", {}).get("interval", 60)), 1.0)
    end = rollout.finished_at or dt.datetime.now(dt.UTC)
    since = max(rollout.started_at, end - dt.timedelta(seconds=interval * CHART_WINDOWS))
    counts = ws.rollouts.counts(rollout, interval=interval, since=since)
    series: list[Series] = []
    width = 0
    for arm, c in counts.items():
        requests = [int(r) for r in c.requests]
        errors = [int(a) + int(b) for a, b in zip(c.server_errors, c.input_errors, strict=True)]
        width = max(width, len(requests))
        series.append(
            Series(
                f"{arm} error rate",
                [Point(i, e / r) for i, (e, r) in enumerate(zip(errors, requests, strict=True)) if r > 0],
            )
        )
    labels = [_short(since + dt.timedelta(seconds=interval * (i + 1))) for i in range(width)]
    return line_chart(series, labels, title=f"error rate per arm, rollout {rollout.id}")


def model_page(
    ws: Workspace, name: str, *, versions_page: int, windows_page: int, before: int | None
) -> dict[str, Any]:
    """One model: versions, alias history, charts over its latest windows, quality findings, timeline."""
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
    labels = [_short(r.end_ts) for r in chart_runs]
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
    charts = _drift_charts(rows, labels, pos)
    charts["performance"] = _performance_chart(rows, labels, pos, metric)
    charts["latency"] = _latency_chart(ws, name, chart_runs, labels)
    charts["errors"] = _error_chart(ws, shown)
    quality = sorted(
        (r for r in rows if r["kind"] == "quality" and r["name"] != "findings"),
        key=lambda r: pos[int(r["run_id"])],
        reverse=True,
    )[:50]
    findings = [
        {
            "window": int(r["run_id"]),
            "end": _when(ends[int(r["run_id"])]),
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
        "charts": {key: Markup(svg) for key, svg in charts.items()},  # noqa: S704 - line_chart escapes every name
        "info": info,
        "versions": [_version_view(v, ws) for v in versions],
        "vpage": vpage,
        "windows": [
            {
                "id": r.id,
                "version": r.version,
                "spec": r.window_spec,
                "start": _when(r.start_ts),
                "end": _when(r.end_ts),
                "rows": r.n_rows,
                "labeled": r.n_labeled,
                "drift": r.dataset_drift,
                "drifted_share": _num(r.drifted_share, 3),
            }
            for r in table_runs
        ],
        "wpage": wpage,
        "metric": metric,
        "findings": findings,
        "timeline": [_event_view(e) for e in events],
        "older": events[-1].id if len(events) == PAGE_SIZE + 10 else None,
        "before": before,
        "aliases": [_event_view(e) for e in alias_changes],
        "rollout": _rollout_view(active),
        "rollouts": [_rollout_view(r) for r in rollouts],
        "declared": name in ws.settings.models,
        "chart_windows": len(chart_runs),
    }


# -- datasets -------------------------------------------------------------------------------------


def datasets_page(ws: Workspace) -> dict[str, Any]:
    """The latest version of every dataset."""
    return {
        "datasets": [
            {
                "name": d.name,
                "version": d.version,
                "rows": d.rows,
                "columns": len(d.schema),
                "created": _when(d.created_at),
            }
            for d in ws.datasets.list_datasets()
        ]
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
                col: {stat: {"a": _num(v.get("a")), "b": _num(v.get("b"))} for stat, v in stats.items()}
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
                "created": _when(v.created_at),
                "created_by": v.created_by,
            }
            for v in versions
        ],
        "page": page,
        "total": total,
        "diff": diff,
    }
