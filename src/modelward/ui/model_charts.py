"""The model page's charts over its latest windows: drift p-values and effect sizes per feature, realized vs
estimated performance with their intervals, latency percentiles from the prediction log, error rate per arm
of the latest rollout. Each builds :class:`~modelward.ui.charts.Series` from bounded reads and draws it."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from modelward.predlog import latency_samples
from modelward.results import MonitoringRun
from modelward.rollouts import Rollout
from modelward.ui.charts import Point, Series, line_chart
from modelward.ui.views import finite, short
from modelward.workspace import Workspace

CHART_WINDOWS = 30  # the charts draw the latest windows, at most this many
LATENCY_SAMPLE = 200  # logged predictions per window read for its latency percentiles, at most
_DRIFT_FEATURES = 8  # features drawn in the drift charts (the most drifted ones)

Row = dict[str, Any]


def drift_charts(rows: list[Row], labels: list[str], pos: dict[int, int]) -> dict[str, str]:
    drift = [r for r in rows if r["kind"] == "drift" and r["feature"] is not None]
    effects = [r for r in drift if r["name"] == "effect_size"]
    if not effects:
        return {
            "drift_p": line_chart([], [], title="p-value per feature"),
            "drift_effect": line_chart([], [], title="effect size per feature"),
        }
    last = max((r["run_id"] for r in effects), key=lambda run_id: pos[int(run_id)])  # the latest window
    latest = sorted((r for r in effects if r["run_id"] == last), key=lambda r: -(finite(r["value"]) or 0.0))
    top = [r["feature"] for r in latest[:_DRIFT_FEATURES]]
    method = {r["feature"]: r["method"] for r in latest}
    charts = {}
    for name, key, title in (
        ("p_value", "drift_p", "adjusted p-value per feature (drift below the line)"),
        ("effect_size", "drift_effect", "drift statistic (effect size) per feature"),
    ):
        by_feature: dict[str, list[Point]] = {f: [] for f in top}
        for r in drift:
            value = finite(r["value"])
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


def performance_chart(rows: list[Row], labels: list[str], pos: dict[int, int], metric: str) -> str:
    series = []
    for kind, dashed in (("realized", False), ("estimated", True)):
        series.append(
            Series(
                f"{metric} {kind}",
                [
                    Point(pos[int(r["run_id"])], value, finite(r["lower"]), finite(r["upper"]))
                    for r in rows
                    if r["kind"] == kind and r["name"] == metric and (value := finite(r["value"])) is not None
                ],
                dashed=dashed,
            )
        )
    return line_chart(series, labels, title=f"{metric}: realized vs estimated, with intervals")


def latency_chart(ws: Workspace, model: str, runs: Sequence[MonitoringRun], labels: list[str]) -> str:
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


def error_chart(ws: Workspace, rollout: Rollout | None) -> str:
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
    labels = [short(since + dt.timedelta(seconds=interval * (i + 1))) for i in range(width)]
    return line_chart(series, labels, title=f"error rate per arm, rollout {rollout.id}")
