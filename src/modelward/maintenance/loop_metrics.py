"""Prometheus metrics of the maintenance loop, written to a text file that ``modelward serve`` appends to ``/metrics``.

The loop runs in one thread of ``modelward serve`` (whatever the number of uvicorn workers), so its
metrics cannot live in a worker's registry: after each pass (or each try to lead) :class:`LoopMetrics`
writes them atomically to a file in the server's runtime directory, and every worker's ``/metrics``
appends that file. Exported:

- by every process: ``modelward_loop_leader`` (1 while this process leads the loop);
- by the leader only (so summing over replicas counts nothing twice):
  ``modelward_loop_last_pass_timestamp_seconds`` (the end of its last pass), the monitor's gauges of each
  model's latest window (:class:`~modelward.maintenance.MonitorGauges`), the state of each watched
  model's rollout (``modelward_rollout_*``: active, held, the challenger's share and version, when the
  rollout and its current step started), and ``modelward_loop_events_total{model, event}``: how many
  events of each of the loop's kinds (:data:`EVENTS`) the model has in the store. The counts come from
  the append-only event log, so they only grow and agree whichever replica leads; every kind is exported
  from zero, so rates and ``increase`` see the first event. And ``modelward_loop_performance_limit``: the
  value below which (``direction="min"``; above which for an error, ``"max"``) the champion's realized or
  estimated metric makes the performance trigger consider it degraded, for alert rules to compare with
  ``modelward_monitor_performance``.

Labels are ``model`` (declared models) and ``event`` (the fixed list below): cardinality stays bounded.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from modelward.evaluation import HIGHER_IS_BETTER
from modelward.maintenance._exporter import MonitorGauges
from modelward.maintenance.policies import default_metric
from modelward.rollouts import Rollout
from modelward.workspace import Workspace

__all__ = ["EVENTS", "LoopMetrics"]

EVENTS = (
    "loop_trigger_fired",
    "loop_trigger_suppressed",
    "loop_job_started",
    "loop_job_resumed",
    "loop_challenger_registered",
    "loop_gate_decided",
    "loop_promoted",
    "loop_rollout_started",
    "loop_rejected",
    "loop_training_failed",
    "loop_training_timed_out",
    "loop_job_failed",
    "rollout_started",
    "rollout_step",
    "rollout_held",
    "rollout_promoted",
    "rollout_rolled_back",
    "rollout_expired",
    "rollout_aborted",
)


class _Snapshot:
    """What the leader read from the store at its last export."""

    def __init__(
        self,
        models: Sequence[str],
        rollouts: dict[str, Rollout],
        counts: dict[tuple[str, str], int],
        at: float | None,
        limits: list[tuple[str, str, str, str, float]],
    ) -> None:
        self.limits = limits
        self.models = list(models)
        self.rollouts = rollouts
        self.counts = counts
        self.at = at


class _LoopCollector(Collector):
    def __init__(self) -> None:
        self.leading = False
        self.snapshot: _Snapshot | None = None

    def describe(self) -> list[GaugeMetricFamily]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        leader = GaugeMetricFamily(
            "modelward_loop_leader", "1 while this process leads the maintenance loop."
        )
        leader.add_metric([], 1.0 if self.leading else 0.0)
        yield leader
        snap = self.snapshot
        if not self.leading or snap is None:
            return
        if snap.at is not None:
            last = GaugeMetricFamily(
                "modelward_loop_last_pass_timestamp_seconds",
                "End of the leader's last loop pass (Unix time).",
            )
            last.add_metric([], snap.at)
            yield last

        def gauge(name: str, doc: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"modelward_rollout_{name}", doc, labels=["model"])

        active = gauge("active", "1 while the model has a rollout running or held, else 0.")
        held = gauge("held", "1 while the model's rollout is held (its deadline passed undecided), else 0.")
        share = gauge("challenger_share", "Share of requests the challenger answers (0 for shadow or none).")
        version = gauge("challenger_version", "Version rolled out (0 when none).")
        started = gauge("started_timestamp_seconds", "When the model's running rollout started (Unix time).")
        step = gauge("step_started_timestamp_seconds", "When the running rollout's current step started.")
        for model in snap.models:
            r = snap.rollouts.get(model)
            active.add_metric([model], 0.0 if r is None else 1.0)
            held.add_metric([model], 1.0 if r is not None and r.status == "held" else 0.0)
            share.add_metric([model], 0.0 if r is None else r.share)
            version.add_metric([model], 0.0 if r is None else float(r.challenger_version))
            if r is not None:
                started.add_metric([model], r.started_at.timestamp())
                step.add_metric([model], r.step_started_at.timestamp())
        yield from (active, held, share, version, started, step)
        limit = GaugeMetricFamily(
            "modelward_loop_performance_limit",
            "The performance trigger's limit on the champion's metric: baseline x (1 - drop) for a metric that "
            "must stay above it (direction min), baseline x (1 + drop) for an error (direction max).",
            labels=["model", "metric", "kind", "direction"],
        )
        for model, metric, kind, direction, value in snap.limits:
            limit.add_metric([model, metric, kind, direction], value)
        yield limit
        events = CounterMetricFamily(
            "modelward_loop_events",
            "Events of the loop's kinds stored for the model.",
            labels=["model", "event"],
        )
        for model in snap.models:
            for kind in EVENTS:
                events.add_metric([model, kind], float(snap.counts.get((model, kind), 0)))
        yield events


class LoopMetrics:
    """The loop's metrics: refreshed from the store by :meth:`export`, written to ``path``."""

    def __init__(self, path: Path, top_k: int = 20) -> None:
        self.path = path
        self.monitor = MonitorGauges(top_k=top_k)
        self._loop = _LoopCollector()
        self._lock = threading.Lock()
        self._leader = CollectorRegistry(auto_describe=False)
        self._leader.register(self._loop)
        self._leader.register(self.monitor)
        self._follower = CollectorRegistry(auto_describe=False)
        self._follower.register(self._loop)

    def export(
        self,
        ws: Workspace,
        models: Sequence[str],
        *,
        leading: bool,
        passed: dt.datetime | None,
        baselines: Mapping[str, tuple[str, Mapping[str, Mapping[str, Any]]]] | None = None,
    ) -> None:
        """Read what the leader exports from the store (when ``leading``) and write the file; ``passed``:
        when the pass that just ended ended (None when this was only a try to lead or a renewal);
        ``baselines``: ``{model: (task, {kind: metrics})}``, what the loop judges each champion against (the
        performance limits are computed from them)."""
        with self._lock:
            if leading:
                rollouts = {r.model: r for r in ws.rollouts.all_active() if r.model in models}
                counts = ws.registry.event_counts(EVENTS)
                last = self._loop.snapshot
                at = passed.timestamp() if passed is not None else (None if last is None else last.at)
                self._loop.snapshot = _Snapshot(models, rollouts, counts, at, _limits(ws, baselines or {}))
            self._loop.leading = leading
            write_to_textfile(str(self.path), self._leader if leading else self._follower)


def _limits(
    ws: Workspace, baselines: Mapping[str, tuple[str, Mapping[str, Mapping[str, Any]]]]
) -> list[tuple[str, str, str, str, float]]:
    """``(model, metric, kind, direction, limit)`` of each enabled performance trigger; ``baselines``:
    ``{model: (task, metrics)}``, what the loop judges each champion against."""
    out = []
    for model, (task, baseline) in baselines.items():
        policy = ws.model_spec(model).loop
        for kind, cfg in (("realized", policy.performance), ("estimated", policy.estimated)):
            metric = cfg.metric or default_metric(task)
            base = baseline[kind].get(metric)
            if not cfg.enabled or not isinstance(base, int | float) or not math.isfinite(base):
                continue
            higher = HIGHER_IS_BETTER.get(metric, True)
            limit = base * (1 - cfg.drop) if higher else base * (1 + cfg.drop)
            out.append((model, metric, kind, "min" if higher else "max", float(limit)))
    return out
