"""``modelward monitor``: windows of the prediction log checked against each model version's reference.

A :class:`Monitor` watches one model. Each pass (:meth:`Monitor.run_once`):

1. for every registered version, finds the complete windows not processed yet (the state is the
   last stored window of that version and windowing, so a restart neither skips nor repeats one);
2. reads each window in bulk, runs drift + data quality, prediction and label drift, realized
   metrics on the labeled rows and CBPE/DLE estimates (:func:`analyse_window`), and stores a run
   with its metrics in one transaction;
3. recomputes the realized metrics of recent windows that received feedback since (estimated
   values stay as they were, so estimated and realized sit side by side);
4. updates the Prometheus gauges (:class:`MonitorGauges`).

:meth:`Monitor.run_forever` repeats passes every ``interval`` seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from modelward.config import MonitorSettings
from modelward.errors import ModelwardError
from modelward.maintenance._analysis import (
    DriftSettings,
    WindowAnalysis,
    analyse_window,
    metric_rows,
    performance_rows,
    relabel_window,
)
from modelward.maintenance._exporter import MonitorGauges, WindowGauges
from modelward.maintenance._performance import Performance
from modelward.maintenance._reference import Reference, get_reference
from modelward.maintenance._results import (
    RunRow,
    last_window,
    list_runs,
    mark_labels_checked,
    run_report,
    runs_with_new_labels,
    save_run,
    update_realized,
)
from modelward.maintenance._windows import (
    Window,
    WindowSpec,
    next_count_window,
    next_time_window,
    parse_window,
)
from modelward.predlog._read import PredictionWindow, read_window
from modelward.registry import ModelVersion
from modelward.store.schema import utcnow
from modelward.workspace import Workspace

__all__ = ["Monitor", "MonitorPass", "RelabelResult", "WindowResult", "gauges_from_report"]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass
class WindowResult:
    """One processed window."""

    model: str
    window: Window
    run_id: int
    analysis: WindowAnalysis
    timings: dict[str, float]

    @property
    def version(self) -> int:
        return self.window.version

    def html(self, task: str) -> str | None:
        """The window as one self-contained HTML page (None when it had no rows)."""
        from modelward.maintenance._analysis import monitoring_report
        from modelward.monitoring import render_html

        meta = {"model": f"{self.model}@{self.version}", "window": f"{self.window.start_ts.isoformat()} → "
                f"{self.window.end_ts.isoformat()}", "rows": self.analysis.n_rows,
                "labeled rows": self.analysis.n_labeled, "windowing": self.window.spec.describe()}
        report = monitoring_report(self.analysis, task, meta)
        if report is None:
            return None
        return render_html(report, title=f"modelward monitor: {self.model}@{self.version}")

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (the full report is stored with the run)."""
        a = self.analysis
        drift = a.drift
        return {
            "model": self.model,
            "version": self.version,
            "run_id": self.run_id,
            "window": {"spec": self.window.spec.key, "start": self.window.start_ts.isoformat(),
                       "end": self.window.end_ts.isoformat(), "start_id": self.window.start_id,
                       "end_id": self.window.end_id},
            "n_rows": a.n_rows,
            "n_labeled": a.n_labeled,
            "dataset_drift": a.dataset_drift,
            "drifted_share": None if drift is None else drift.drifted_share,
            "drifted_features": [] if drift is None else drift.drifted_features,
            "quality": [] if drift is None else [q.to_dict() for q in drift.quality],
            "prediction_drift": None if a.prediction_drift is None else a.prediction_drift.drifted_features,
            "multivariate": None if a.multivariate is None else {
                "auc": a.multivariate.auc, "p_value": a.multivariate.p_value, "drifted": a.multivariate.drifted,
                "top_features": a.multivariate.top_features(5)},
            "realized": a.performance.realized,
            "estimated": a.performance.estimated,
            "concept_drift": a.performance.concept_drift,
            "notes": a.performance.notes,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


@dataclass
class RelabelResult:
    """A stored window whose realized metrics were recomputed because labels arrived."""

    run: RunRow
    n_labeled: int
    realized: dict[str, dict[str, Any]]
    estimated: dict[str, dict[str, Any]]


@dataclass
class MonitorPass:
    windows: list[WindowResult] = field(default_factory=list)
    relabeled: list[RelabelResult] = field(default_factory=list)


def gauges_from_report(model: str, version: int, end_ts: dt.datetime, run_ts: dt.datetime,
                       report: dict[str, Any]) -> WindowGauges:
    """The exported gauges of one stored window report."""
    drift = report.get("drift") or {}
    scores = {f["column"]: f["effect_size"] for f in drift.get("features", [])
              if f.get("status") == "ok" and f.get("effect_size") is not None}
    pred = report.get("prediction_drift") or {}
    pred_scores = [f["effect_size"] for f in pred.get("features", [])
                   if f.get("column") == "prediction" and f.get("effect_size") is not None]
    return WindowGauges(
        model=model, version=version, dataset_drift=bool(drift.get("dataset_drift", False)),
        drifted_share=drift.get("drifted_share"), prediction_drift=pred_scores[0] if pred_scores else None,
        n_rows=int(report.get("n_rows", 0)), n_labeled=int(report.get("n_labeled", 0)),
        window_end=end_ts.timestamp(), run_ts=run_ts.timestamp(), feature_scores=scores,
        realized={k: v.get("value") for k, v in (report.get("realized") or {}).items()},
        estimated={k: v.get("value") for k, v in (report.get("estimated") or {}).items()},
    )


class Monitor:
    """Monitors one model's logged predictions window by window (see the module docstring)."""

    def __init__(
        self,
        ws: Workspace,
        model: str,
        *,
        window: WindowSpec | None = None,
        settings: MonitorSettings | None = None,
        gauges: MonitorGauges | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.ws = ws
        self.model = model
        self.settings = settings or ws.settings.monitor
        self.spec = window or parse_window(self.settings.window, self.settings.slide)
        self.gauges = gauges
        self.progress = progress or (lambda _msg: None)
        self.drift_settings = DriftSettings(
            alpha=self.settings.alpha, correction=self.settings.correction,
            drift_share=self.settings.drift_share, important_features=tuple(self.settings.important_features),
            multivariate_rows=self.settings.multivariate_rows,
        )
        self._references: dict[int, tuple[Reference, Performance]] = {}
        ws.registry.get(model)  # a clear error now if the model is unknown or has no versions

    # -- references --------------------------------------------------------------------------

    def reference(self, mv: ModelVersion) -> tuple[Reference, Performance]:
        """The reference of ``mv`` (built and stored on first use) and its performance estimators."""
        cached = self._references.get(mv.version)
        if cached is None:
            self.progress(f"loading the reference of {mv.ref}")
            ref = get_reference(self.ws, mv)
            cached = (ref, Performance(ref, confidence=self.settings.confidence,
                                       resample_budget=self.settings.resample_budget,
                                       concept_drift_rows=self.settings.concept_drift_rows))
            self._references[mv.version] = cached
        return cached

    # -- one pass ----------------------------------------------------------------------------

    def run_once(self, now: dt.datetime | None = None) -> MonitorPass:
        """Process every complete window not processed yet, then refresh realized metrics."""
        now = now or utcnow()
        result = MonitorPass()
        for mv in self.ws.registry.versions(self.model):
            result.windows.extend(self._version_windows(mv, now))
        result.relabeled = self._relabel(now)
        return result

    def _next(self, version: int, last: RunRow | None, now: dt.datetime) -> tuple[Window, PredictionWindow] | None:
        store, spec = self.ws.store, self.spec
        if spec.kind == "time":
            w = next_time_window(store, self.model, version, spec, None if last is None else last.start_ts, now,
                                 self.settings.lateness_seconds)
            if w is None:
                return None
            self.progress(f"reading {self.model}@{version} {w.start_ts:%Y-%m-%d %H:%M:%S} → {w.end_ts:%H:%M:%S}")
            data = read_window(store, self.model, version=version, since=w.start_ts, until=w.end_ts)
            return w, data
        cursors = None if last is None else ((last.start_ts, last.start_id), (last.end_ts, last.end_id))
        bounds = next_count_window(store, self.model, version, spec, cursors)
        if bounds is None:
            return None
        self.progress(f"reading {spec.size} predictions of {self.model}@{version}")
        data = read_window(store, self.model, version=version, limit=spec.size, **bounds)
        first, final = data.first, data.last
        assert first is not None and final is not None
        return Window(spec, version, first[0], final[0], first[1], final[1]), data

    def _version_windows(self, mv: ModelVersion, now: dt.datetime) -> list[WindowResult]:
        out: list[WindowResult] = []
        last = last_window(self.ws.store, self.model, mv.version, self.spec.key)
        while True:
            t0 = time.perf_counter()
            labels_as_of = utcnow()  # feedback newer than this is picked up by a later re-run
            found = self._next(mv.version, last, now)
            if found is None:
                return out
            window, data = found
            t_read = time.perf_counter() - t0
            t = time.perf_counter()
            ref, perf = self.reference(mv)
            t_ref = time.perf_counter() - t
            self.progress(f"checking {len(data)} predictions of {mv.ref}")
            analysis = analyse_window(data, ref, perf, self.drift_settings)
            t = time.perf_counter()
            report = analysis.report()
            run_id = save_run(
                self.ws.store, model=self.model, window=window, reference_id=ref.id, n_rows=analysis.n_rows,
                n_labeled=analysis.n_labeled, dataset_drift=analysis.dataset_drift,
                drifted_share=None if analysis.drift is None else analysis.drift.drifted_share,
                report=report, metrics=metric_rows(analysis), labels_as_of=labels_as_of,
            )
            timings = {"read": t_read, "reference": t_ref, **analysis.timings, "store": time.perf_counter() - t}
            timings["total"] = time.perf_counter() - t0
            log.info("%s window %s..%s: %d rows, dataset drift %s (%.2f s)", mv.ref, window.start_ts,
                     window.end_ts, analysis.n_rows, analysis.dataset_drift, timings["total"])
            if self.gauges is not None:
                self.gauges.update(gauges_from_report(self.model, mv.version, window.end_ts, utcnow(), report))
            out.append(WindowResult(self.model, window, run_id, analysis, timings))
            last = last_window(self.ws.store, self.model, mv.version, self.spec.key)

    def _relabel(self, now: dt.datetime) -> list[RelabelResult]:
        horizon = now - dt.timedelta(days=self.settings.label_horizon_days)
        # Feedback is stamped by the server before it commits: allow it ``lateness`` to become visible.
        checked = utcnow() - dt.timedelta(seconds=self.settings.lateness_seconds)
        out: list[RelabelResult] = []
        by_version = {mv.version: mv for mv in self.ws.registry.versions(self.model)}
        stale = runs_with_new_labels(self.ws.store, self.model, self.spec.key, horizon)
        mark_labels_checked(self.ws.store, self.model, self.spec.key, horizon, checked, [r.id for r in stale])
        for run in stale:
            mv = by_version.get(run.version)
            if mv is None:
                continue
            self.progress(f"recomputing realized metrics of {mv.ref} window {run.start_ts:%Y-%m-%d %H:%M:%S}")
            labels_as_of = utcnow()
            if run.is_time:
                labeled = read_window(self.ws.store, self.model, version=run.version, since=run.start_ts,
                                      until=run.end_ts, labeled_only=True)
            else:
                labeled = read_window(self.ws.store, self.model, version=run.version,
                                      start=(run.start_ts, run.start_id), through=(run.end_ts, run.end_id),
                                      labeled_only=True)
            _ref, perf = self.reference(mv)
            realized = relabel_window(labeled, perf)
            update_realized(
                self.ws.store, run, n_labeled=len(labeled), realized=realized.realized,
                concept_drift=realized.concept_drift, notes=realized.notes,
                metrics=performance_rows(realized, ("realized",)), labels_as_of=labels_as_of,
            )
            report = run_report(self.ws.store, run.id)
            if self.gauges is not None:
                self.gauges.update(gauges_from_report(self.model, run.version, run.end_ts, utcnow(), report))
            out.append(RelabelResult(run, len(labeled), realized.realized, dict(report.get("estimated") or {})))
        return out

    # -- the loop ----------------------------------------------------------------------------

    def restore_gauges(self) -> None:
        """Export the latest stored window (so a restarted monitor shows values at once)."""
        if self.gauges is None:
            return
        runs = list_runs(self.ws.store, self.model, limit=1)
        if runs:
            run = runs[0]
            self.gauges.update(gauges_from_report(self.model, run.version, run.end_ts, run.updated_at,
                                                  run_report(self.ws.store, run.id)))

    def run_forever(
        self,
        interval: float | None = None,
        *,
        stop: threading.Event | None = None,
        on_pass: Callable[[MonitorPass], None] | None = None,
    ) -> None:
        """Run passes every ``interval`` seconds until ``stop`` is set (or forever)."""
        interval = self.settings.interval_seconds if interval is None else interval
        stop = stop or threading.Event()
        self.restore_gauges()
        while not stop.is_set():
            started = time.monotonic()
            try:
                done = self.run_once()
            except ModelwardError as exc:
                log.error("monitor pass of %s failed: %s", self.model, exc.message)
            except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:  # database away: retry next time
                log.error("monitor pass of %s failed, the database is unreachable (retrying in %.0f s): %s",
                          self.model, interval, exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc)
            else:
                if on_pass is not None:
                    on_pass(done)
            stop.wait(max(0.0, interval - (time.monotonic() - started)))
