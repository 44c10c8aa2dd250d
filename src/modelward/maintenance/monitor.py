"""``modelward monitor``: windows of the prediction log checked against each model version's reference.

A :class:`Monitor` watches one model. Each pass (:meth:`Monitor.run_once`):

1. for every registered version, plans the complete windows not processed yet
   (:func:`modelward.predlog.next_window`; the state is the last stored window of that version and
   windowing, so a restart neither skips nor repeats one);
2. reads each window in bulk (:func:`modelward.predlog.read_window`), checks it against the version's
   reference with :func:`modelward.monitoring.analyse` (drift + data quality, prediction and label drift,
   realized metrics on the labeled rows, CBPE/DLE estimates) and stores the report with its metrics
   (``ws.monitoring_results``);
3. recomputes the realized metrics of recent windows that received feedback since (estimated
   values stay as they were, so estimated and realized sit side by side);
4. updates the Prometheus gauges (:class:`MonitorGauges`).

:meth:`Monitor.run_forever` repeats passes every ``interval`` seconds. The clock is injected (``clock``):
window completeness, the ``labels_as_of`` mark of a window and the look for newly arrived labels all read
it, so the loop's backtest runs the same monitor on a simulated clock (feedback stamped in simulated time).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from modelward.config import ModelMonitorSpec, MonitorSettings
from modelward.errors import DatabaseUnavailableError, ModelwardError
from modelward.explain import GlobalImportance
from modelward.maintenance._exporter import MonitorGauges, WindowGauges
from modelward.maintenance._reference import get_reference
from modelward.maintenance.attribution import Attributor, attributor_for
from modelward.monitoring import (
    AnalysisSettings,
    Current,
    LoggedOutputs,
    MetricEstimate,
    WindowReport,
    analyse,
    relabel,
    render_html,
)
from modelward.predlog import (
    PredictionWindow,
    Window,
    WindowSpec,
    labels_arrived,
    next_window,
    parse_window,
    read_window,
)
from modelward.registry import ModelVersion
from modelward.results import MonitoringRun, StoredReference
from modelward.workspace import Workspace

__all__ = ["Monitor", "MonitorPass", "RelabelResult", "WindowResult"]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _outputs(window: PredictionWindow) -> LoggedOutputs:
    return LoggedOutputs(window.prediction, window.probabilities, window.label, window.labeled)


@dataclass
class WindowResult:
    """One processed window."""

    model: str
    window: Window
    run_id: int
    report: WindowReport
    timings: dict[str, float]

    @property
    def version(self) -> int:
        return self.window.version

    def html(self) -> str | None:
        """The window as one self-contained HTML page (None when it had no rows)."""
        meta = {
            "model": f"{self.model}@{self.version}",
            "window": f"{self.window.start_ts.isoformat()} → {self.window.end_ts.isoformat()}",
            "rows": self.report.n_rows,
            "labeled rows": self.report.n_labeled,
            "windowing": self.window.spec.describe(),
        }
        report = self.report.monitoring_report(meta)
        if report is None:
            return None
        return render_html(report, title=f"modelward monitor: {self.model}@{self.version}")

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (the full report is stored with the run)."""
        r = self.report
        drift, mv = r.drift, r.multivariate
        return {
            "model": self.model,
            "version": self.version,
            "run_id": self.run_id,
            "window": {
                "spec": self.window.spec.key,
                "start": self.window.start_ts.isoformat(),
                "end": self.window.end_ts.isoformat(),
                "start_id": self.window.start_id,
                "end_id": self.window.end_id,
            },
            "n_rows": r.n_rows,
            "n_labeled": r.n_labeled,
            "dataset_drift": r.dataset_drift,
            "drifted_share": r.drifted_share,
            "drifted_features": [] if drift is None else drift.drifted_features,
            "quality": [] if drift is None else [q.to_dict() for q in drift.quality],
            "prediction_drift": None
            if r.prediction_drift is None
            else r.prediction_drift.report.drifted_features,
            "multivariate": None
            if mv is None
            else {
                "auc": mv.auc,
                "p_value": mv.p_value,
                "drifted": mv.drifted,
                "top_features": mv.top_features(5),
            },
            "realized": {name: m.to_dict() for name, m in r.realized.items()},
            "estimated": {name: m.to_dict() for name, m in r.estimated.items()},
            "concept_drift": [c.to_dict() for c in r.concept_drift],
            "notes": list(r.notes),
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


@dataclass
class RelabelResult:
    """A stored window whose realized metrics were recomputed because labels arrived."""

    run: MonitoringRun
    n_labeled: int
    realized: dict[str, MetricEstimate]
    estimated: dict[str, MetricEstimate]


@dataclass
class MonitorPass:
    """What one :meth:`Monitor.run_once` did.

    Attributes:
        windows: the windows processed, oldest first within each model version.
        relabeled: earlier runs whose realized metrics were recomputed because labels arrived.
    """

    windows: list[WindowResult] = field(default_factory=list)
    relabeled: list[RelabelResult] = field(default_factory=list)


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
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.ws = ws
        self.clock = clock or _utcnow
        self.results = ws.monitoring_results
        self.model = model
        self.settings = settings or ws.settings.monitor
        self.spec = window or parse_window(self.settings.window, self.settings.slide)
        self.gauges = gauges
        self.progress = progress or (lambda _msg: None)
        s = self.settings
        self.analysis = AnalysisSettings(
            alpha=s.alpha,
            correction=s.correction,
            drift_share=s.drift_share,
            important_features=tuple(s.important_features),
            multivariate_rows=s.multivariate_rows,
            seed=0,
            confidence=s.confidence,
            resample_budget=s.resample_budget,
            concept_drift_rows=s.concept_drift_rows,
        )
        declared = ws.settings.models.get(model)
        self._model_monitor = ModelMonitorSpec() if declared is None else declared.monitor
        self._attributors: dict[int, Attributor | str] = {}
        if declared is not None:  # the model's own checks (models.NAME.monitor)
            m = declared.monitor
            self.analysis = dataclasses.replace(
                self.analysis,
                sensitive_columns=tuple(m.sensitive_columns),
                fairness_tolerance=m.fairness_tolerance,
                fairness_min_group_rows=m.fairness_min_group_rows,
                positive_label=m.positive_label,
            )
        self._references: dict[int, tuple[StoredReference, AnalysisSettings]] = {}
        ws.registry.get(model)  # a clear error now if the model is unknown or has no versions

    # -- references --------------------------------------------------------------------------

    def reference(self, mv: ModelVersion) -> tuple[StoredReference, AnalysisSettings]:
        """The reference of ``mv`` (built and stored on first use) and the settings its windows are checked
        with (the important features it has)."""
        cached = self._references.get(mv.version)
        if cached is None:
            self.progress(f"loading the reference of {mv.ref}")
            stored = get_reference(self.ws, mv)
            columns = stored.reference.profile.columns
            important = tuple(f for f in self.analysis.important_features if f in columns)
            cached = (
                stored,
                dataclasses.replace(
                    self.analysis, important_features=important, feature_importance=_importance_shares(mv)
                ),
            )
            self._references[mv.version] = cached
        return cached

    def _attribution(
        self, mv: ModelVersion, stored: StoredReference, features: pd.DataFrame, report: WindowReport
    ) -> WindowReport:
        """``report`` with the window's attribution drift (or a note saying why there is none)."""
        attributor = self._attributors.get(mv.version)
        if attributor is None:
            rows = self._model_monitor.attribution_rows
            attributor = attributor_for(self.ws, mv, stored.reference.rows, rows)
            self._attributors[mv.version] = attributor
        if isinstance(attributor, str):
            quiet = attributor.startswith("attribution drift off")
            return report if quiet else dataclasses.replace(report, notes=(*report.notes, attributor))
        started = time.perf_counter()
        try:
            found = attributor.compare(
                features,
                alpha=self.analysis.alpha,
                correction=self.analysis.correction,
                min_change=self._model_monitor.attribution_min_change,
            )
        except (ModelwardError, ValueError, TypeError, KeyError) as exc:
            note = f"attribution drift skipped: {type(exc).__name__}: {exc}"
            return dataclasses.replace(report, notes=(*report.notes, note))
        timings = {**report.timings, "attribution": time.perf_counter() - started}
        return dataclasses.replace(report, attribution_drift=found, timings=timings)

    # -- one pass ----------------------------------------------------------------------------

    def run_once(self, now: dt.datetime | None = None) -> MonitorPass:
        """Process every complete window not processed yet, then refresh realized metrics."""
        now = now or self.clock()
        result = MonitorPass()
        for mv in self.ws.registry.versions(self.model):
            result.windows.extend(self._version_windows(mv, now))
        result.relabeled = self._relabel(now)
        return result

    def _version_windows(self, mv: ModelVersion, now: dt.datetime) -> list[WindowResult]:
        out: list[WindowResult] = []
        last_run = self.results.last_run(self.model, mv.version, self.spec.key)
        last = None if last_run is None else last_run.window
        while (result := self._process_next(mv, last, now)) is not None:
            out.append(result)
            last = result.window
        return out

    def _process_next(self, mv: ModelVersion, last: Window | None, now: dt.datetime) -> WindowResult | None:
        """Plan, read, analyse and store the window after ``last`` (None when no complete one is left)."""
        t0 = time.perf_counter()
        labels_as_of = self.clock()  # feedback newer than this is picked up by a later re-run
        window = next_window(
            self.ws.store,
            self.model,
            mv.version,
            self.spec,
            last,
            now=now,
            lateness=self.settings.lateness_seconds,
        )
        if window is None:
            return None
        self.progress(
            f"reading {self.spec.size} predictions of {self.model}@{mv.version}"
            if self.spec.kind == "count"
            else f"reading {self.model}@{mv.version} {window.start_ts:%Y-%m-%d %H:%M:%S} → "
            f"{window.end_ts:%H:%M:%S}"
        )
        data = read_window(self.ws.store, self.model, window)
        t_read = time.perf_counter() - t0
        t = time.perf_counter()
        stored, settings = self.reference(mv)
        t_ref = time.perf_counter() - t
        self.progress(f"checking {len(data)} predictions of {mv.ref}")
        report = analyse(
            stored.reference, Current(data.features, logged=_outputs(data), context=data.context), settings
        )
        if report.n_rows:
            report = self._attribution(mv, stored, data.features, report)
        t = time.perf_counter()
        run_id = self.results.save_run(self.model, window, stored.id, report, labels_as_of)
        timings = {"read": t_read, "reference": t_ref, **report.timings, "store": time.perf_counter() - t}
        timings["total"] = time.perf_counter() - t0
        log.info(
            "%s window %s..%s: %d rows, dataset drift %s (%.2f s)",
            mv.ref,
            window.start_ts,
            window.end_ts,
            report.n_rows,
            report.dataset_drift,
            timings["total"],
        )
        if self.gauges is not None:
            self.gauges.update(
                WindowGauges.from_report(self.model, mv.version, window.end_ts, self.clock(), report)
            )
        return WindowResult(self.model, window, run_id, report, timings)

    def _stale_runs(self, horizon: dt.datetime) -> list[MonitoringRun]:
        """Runs that ended after ``horizon`` and whose window got feedback after their realized metrics."""
        runs = [
            (run, run.window) for run in self.results.runs_ending_after(self.model, self.spec.key, horizon)
        ]
        if not runs:
            return []
        arrivals = labels_arrived(
            self.ws.store,
            self.model,
            updated_since=min(run.labels_as_of for run, _ in runs),
            logged_since=min(run.start_ts for run, _ in runs),
        )
        stale: dict[int, MonitoringRun] = {}
        for a in arrivals:
            for run, window in runs:
                if (
                    run.id not in stale
                    and a.updated_at >= run.labels_as_of
                    and window.contains(a.version, a.ts, a.prediction_id)
                ):
                    stale[run.id] = run
        return sorted(stale.values(), key=lambda run: (run.version, run.start_ts, run.start_id))

    def _relabel(self, now: dt.datetime) -> list[RelabelResult]:
        horizon = now - dt.timedelta(days=self.settings.label_horizon_days)
        # Feedback is stamped by the server before it commits: allow it ``lateness`` to become visible.
        checked = self.clock() - dt.timedelta(seconds=self.settings.lateness_seconds)
        out: list[RelabelResult] = []
        by_version = {mv.version: mv for mv in self.ws.registry.versions(self.model)}
        stale = self._stale_runs(horizon)
        self.results.mark_labels_checked(self.model, self.spec.key, horizon, checked, [r.id for r in stale])
        for run in stale:
            mv = by_version.get(run.version)
            if mv is None:
                continue
            self.progress(f"recomputing realized metrics of {mv.ref} window {run.start_ts:%Y-%m-%d %H:%M:%S}")
            labels_as_of = self.clock()
            stored, settings = self.reference(mv)
            whole: Current | None = None
            if settings.sensitive_columns:  # fairness is recomputed too: it needs every row of the window
                data = read_window(self.ws.store, self.model, run.window)
                whole = Current(data.features, logged=_outputs(data), context=data.context)
                labeled = _outputs(data).subset(data.labeled)
            else:
                labeled = _outputs(read_window(self.ws.store, self.model, run.window, labeled_only=True))
            report = relabel(
                self.results.report(run.id), stored.reference, labeled, settings, labels_as_of, window=whole
            )
            self.results.update_realized(run, report)
            if self.gauges is not None:
                self.gauges.update(
                    WindowGauges.from_report(self.model, run.version, run.end_ts, self.clock(), report)
                )
            out.append(RelabelResult(run, report.n_labeled, report.realized, report.estimated))
        return out

    # -- the loop ----------------------------------------------------------------------------

    def restore_gauges(self) -> None:
        """Export the latest stored window (so a restarted monitor shows values at once)."""
        if self.gauges is None:
            return
        runs = self.results.runs(self.model, limit=1)
        if runs:
            run = runs[0]
            self.gauges.update(
                WindowGauges.from_report(
                    self.model, run.version, run.end_ts, run.updated_at, self.results.report(run.id)
                )
            )

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
            except DatabaseUnavailableError as exc:  # database away: retry next time
                log.error(
                    "monitor pass of %s failed, the database is unreachable (retrying in %.0f s): %s",
                    self.model,
                    interval,
                    exc.reason,
                )
            except ModelwardError as exc:
                log.error("monitor pass of %s failed: %s", self.model, exc.message)
            else:
                if on_pass is not None:
                    on_pass(done)
            stop.wait(max(0.0, interval - (time.monotonic() - started)))


def _importance_shares(mv: ModelVersion) -> dict[str, float]:
    """Each input column's share of ``mv``'s mean |SHAP| (recorded at registration); empty if unknown."""
    if not mv.importance:
        return {}
    try:
        return GlobalImportance.from_dict(mv.importance).shap_shares()
    except (ValueError, KeyError, TypeError):  # another format: drift is decided without it
        log.warning("%s: importance of an unknown format; drift not ranked by it", mv.ref)
        return {}
