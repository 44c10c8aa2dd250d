"""The maintenance loop: monitor → trigger → retrain → gate → roll out → promote, for every model with a champion.

:class:`Loop` runs passes. Each pass (:meth:`Loop.run_once`), for each model declared in modelward.yaml
whose ``loop.enabled`` is true and that has a champion:

1. runs the monitor's pass (:class:`~modelward.maintenance.Monitor`): no separate ``modelward monitor``
   is needed while the loop runs;
2. judges the model's active rollout (:class:`~modelward.maintenance.rollout.RolloutRunner`): a step, a
   promotion, a rollback or the deadline's action. While a rollout runs, nothing else happens for that
   model (no trigger, no job): one change at a time;
3. evaluates the triggers on the champion's stored windows (:mod:`~modelward.maintenance.policies`) and the
   schedule; every new decision — fired, or suppressed and why — is an event with its evidence, and a fired
   trigger opens a job (the database allows one active job per model);
4. runs the model's active job through its steps (:class:`~modelward.maintenance.steps.JobRunner`),
   resuming one whose runner died; a challenger that passes the gate starts a rollout (``loop.rollout``),
   or is promoted at once with ``rollout: immediate``.

Every pass first takes or renews the loop's lease (:class:`~modelward.maintenance.leader.Leader`): with
several processes on one database only the leader does the steps above, and its writes are fenced by the
lease epoch; a process that loses the lease stops at once. The clock is injected (``clock``;
``run_once(now)``) and the trainer swappable, so the same code runs on a simulated clock in process
(with ``guardrails=False`` the rollouts' latency and error guardrails, which a replay cannot measure, are
left out: :data:`~modelward.maintenance.rollout.NOT_MEASURED`). :meth:`Loop.run_forever` repeats passes every ``loop.interval_seconds``;
:func:`request_retrain` is the manual trigger (CLI and admin API); :class:`BackgroundLoop` runs the loop in a
thread of ``modelward serve``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from modelward.errors import ConfigError, DatabaseUnavailableError, ModelwardError, NotFoundError
from modelward.jobs import RetrainJob
from modelward.jobs.lease import StaleLeaderError
from modelward.loop_settings import LoopPolicy
from modelward.maintenance import policies
from modelward.maintenance.gate import load_behavioral
from modelward.maintenance.leader import Leader
from modelward.maintenance.loop_metrics import LoopMetrics
from modelward.maintenance.monitor import Monitor
from modelward.maintenance.policies import Signal, WindowEvidence
from modelward.maintenance.retrain import rows_needed
from modelward.maintenance.rollout import RolloutRunner
from modelward.maintenance.steps import LOOP_ACTOR, JobRunner, new_owner
from modelward.maintenance.trainer import Trainer
from modelward.maintenance.trigger_jobs import Requested, decide_signals, open_job, request_retrain, utcnow
from modelward.predlog import count_labeled, parse_window
from modelward.registry import ModelVersion
from modelward.rollouts import Rollout
from modelward.workspace import Workspace

__all__ = ["BackgroundLoop", "Loop", "PassResult", "Requested", "request_retrain", "rows_needed"]

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


@dataclass
class PassResult:
    """What one pass did: windows monitored, trigger decisions, jobs run, rollouts judged, errors (per
    model), and who leads (a process that does not lead does nothing)."""

    windows: dict[str, int] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[RetrainJob] = field(default_factory=list)
    rollouts: list[Rollout] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    leader: dict[str, Any] = field(default_factory=dict)

    @property
    def leading(self) -> bool:
        return bool(self.leader.get("leading"))


class Loop:
    """The maintenance loop over a workspace (see the module docstring)."""

    def __init__(
        self,
        ws: Workspace,
        *,
        models: Sequence[str] | None = None,
        clock: Clock | None = None,
        trainer: Trainer | None = None,
        monitor: bool = True,
        stop: threading.Event | None = None,
        progress: Callable[[str], None] | None = None,
        holder: str | None = None,
        metrics: LoopMetrics | None = None,
        guardrails: bool = True,
    ) -> None:
        self.ws = ws
        self.metrics = metrics
        self.clock = clock or utcnow
        self.settings = ws.settings.loop
        self.stop = stop or threading.Event()
        self.owner = new_owner()
        self.progress = progress or (lambda msg: log.info("%s", msg))
        self.runner = JobRunner(
            ws,
            owner=self.owner,
            clock=self.clock,
            settings=self.settings,
            trainer=trainer,
            stop=self.stop,
            progress=self.progress,
        )
        self.leader = Leader(
            ws, settings=self.settings.lease, clock=self.clock, holder=holder, progress=self.progress
        )
        self.rollouts = RolloutRunner(
            ws, clock=self.clock, actor=LOOP_ACTOR, progress=self.progress, guardrails=guardrails
        )
        self.monitor = monitor
        self._monitors: dict[str, Monitor] = {}
        # per model, the windows the triggers judged last: run id -> (its updated_at, its evidence)
        self._evidence: dict[str, dict[int, tuple[dt.datetime, WindowEvidence]]] = {}
        self._only = list(models) if models is not None else None

    def models(self) -> list[str]:
        """Declared models the loop watches (``loop.enabled``), restricted to ``models`` if given."""
        declared = self.ws.settings.models
        if self._only is not None:
            for name in self._only:
                self.ws.model_spec(name)
            return [m for m in self._only if declared[m].loop.enabled]
        return [name for name, spec in declared.items() if spec.loop.enabled]

    def check(self) -> None:
        """Fail now, naming the key, on what would fail later: behavioral-test files that do not parse."""
        for model in self.models():
            try:
                load_behavioral(self.ws, self.ws.model_spec(model).loop.gate)
            except ModelwardError as exc:
                raise ConfigError(
                    f"models.{model}.loop.gate.behavioral_tests: {exc.message}",
                    details={"key": f"models.{model}.loop.gate.behavioral_tests"},
                ) from exc

    # -- one pass -------------------------------------------------------------------------------

    def run_once(self, now: dt.datetime | None = None) -> PassResult:
        """Lead, then monitor, decide and run jobs for every watched model (see the module docstring)."""
        result = PassResult()
        if self.leader.lead(now):
            try:
                with self.leader.fenced():
                    self._models_pass(now, result)
            except StaleLeaderError as exc:
                self.leader.lost(exc)
        result.leader = self.leader.status()
        return result

    def _models_pass(self, now: dt.datetime | None, result: PassResult) -> None:
        for model in self.models():
            if self.stop.is_set():
                break
            try:
                self._model_pass(model, now or self.clock(), result)
            except StaleLeaderError:
                raise  # another process leads: stop the whole pass
            except ModelwardError as exc:
                log.error("loop pass of %s failed: %s", model, exc.message)
                result.errors[model] = exc.message

    def _model_pass(self, model: str, now: dt.datetime, result: PassResult) -> None:
        try:
            champion = self.ws.registry.get(model, "champion")
        except NotFoundError:
            return  # nothing served yet: nothing to watch
        if self.monitor:
            monitor = self._monitors.get(model)
            if monitor is None:
                gauges = None if self.metrics is None else self.metrics.monitor
                monitor = self._monitors[model] = Monitor(self.ws, model, clock=self.clock, gauges=gauges)
                monitor.restore_gauges()
            result.windows[model] = len(monitor.run_once(now).windows)
        rollout = self.rollouts.step(model, now)
        if rollout is not None:
            result.rollouts.append(rollout)
            if rollout.active:
                return  # one change at a time: no new trigger or job while a challenger is rolled out
            champion = self.ws.registry.get(model, "champion")
        decision = self._triggers(model, champion, now)
        if decision is not None:
            result.decisions.append(decision)
        job = self.runner.advance(model)
        if job is not None:
            result.jobs.append(job)

    def _windows(self, model: str, champion: ModelVersion, count: int) -> list[WindowEvidence]:
        results = self.ws.monitoring_results
        cfg = self.ws.settings.monitor
        spec = (
            self._monitors[model].spec.key
            if model in self._monitors
            else parse_window(cfg.window, cfg.slide).key
        )
        runs = [
            r
            for r in results.runs(model, limit=max(50, 4 * count))
            if r.version == champion.version and r.window_spec == spec
        ][:count]
        # A stored report is read again only when its run changed since (new labels recomputed it).
        before, now = self._evidence.get(model, {}), {}
        for run in runs:
            cached = before.get(run.id)
            if cached is None or cached[0] != run.updated_at:
                cached = (run.updated_at, WindowEvidence.of(run, results.report(run.id)))
            now[run.id] = cached
        self._evidence[model] = now
        return [now[run.id][1] for run in runs]

    def _gate_passed(self, model: str, champion: ModelVersion) -> dict[str, Any] | None:
        """The report of the gate ``champion`` passed, when the loop trained it (else None)."""
        for job in self.ws.jobs.latest(model, limit=20):
            if job.challenger_version == champion.version and job.gate:
                return dict(job.gate)
        return None

    def _baseline(self, model: str, champion: ModelVersion) -> dict[str, dict[str, Any]]:
        """What the champion's performance is judged against, per trigger kind: realized performance against
        :func:`policies.baseline_metrics`, the estimate against the holdout its estimator is calibrated on."""
        realized = policies.baseline_metrics(champion.metrics, self._gate_passed(model, champion))
        return {"realized": realized, "estimated": dict(champion.metrics)}

    def _baselines(self, models: Sequence[str]) -> dict[str, tuple[str, dict[str, dict[str, Any]]]]:
        """``{model: (task, baseline)}`` of each model with a champion (for the performance limits exported)."""
        out = {}
        for model in models:
            try:
                champion = self.ws.registry.get(model, "champion")
            except NotFoundError:
                continue
            out[model] = (champion.task, self._baseline(model, champion))
        return out

    def _triggers(self, model: str, champion: ModelVersion, now: dt.datetime) -> dict[str, Any] | None:
        policy = self.ws.model_spec(model).loop
        windows = self._windows(
            model, champion, max(policy.drift.windows, policy.attribution_drift.windows, 5)
        )
        baseline = self._baseline(model, champion)
        signals = policies.evaluate(
            policy, champion.task, champion.metrics, windows, now=now, realized=baseline["realized"]
        )
        scheduled = self._schedule(model, policy, now)
        if scheduled is not None:
            signals.append(scheduled)
        follow = self._follow_up(model, champion, policy)
        if follow is not None:
            signals.append(follow)
        decided = self.ws.jobs.state(model, "decided") or {}
        new = [s for s in signals if decided.get(s.trigger) != s.key]
        pending = [Signal(**s) for s in (self.ws.jobs.state(model, "pending") or {}).get("signals", [])]
        candidates = new + [p for p in pending if p.trigger not in {s.trigger for s in new}]
        if not candidates:
            return None
        # A follow-up is planned, not a symptom, and bounded (one per power of growth): no cooldown.
        planned = any(c.trigger == "follow_up" for c in candidates)
        decision, _active = decide_signals(self.ws, model, candidates, now, force=planned)
        if new:
            self.ws.jobs.set_state(model, "decided", {**decided, **{s.trigger: s.key for s in new}}, now=now)
        waiting = decision.suppressed_by == "labels"
        self.ws.jobs.set_state(
            model, "pending", {"signals": [s.to_dict() for s in candidates] if waiting else []}, now=now
        )
        if not decision.fire and not new:
            return None  # still waiting for labels: said once already
        payload = {"signals": [s.to_dict() for s in candidates], "reason": decision.reason}
        if decision.fire:
            job = open_job(self.ws, model, champion, candidates, decision, now, actor=LOOP_ACTOR, owner=None)
            self.progress(
                f"{model}: trigger fired ({', '.join(s.trigger for s in candidates)}): {decision.reason}"
                + ("" if job is None else f" -> job {job.id}")
            )
            return {
                "model": model,
                "fired": job is not None,
                "job": None if job is None else job.id,
                **payload,
            }
        self.ws.jobs.record(
            model,
            "loop_trigger_suppressed",
            {**payload, "suppressed_by": decision.suppressed_by, **decision.details},
            now=now,
            actor=LOOP_ACTOR,
        )
        self.progress(f"{model}: trigger suppressed ({decision.suppressed_by}): {decision.reason}")
        return {"model": model, "fired": False, "suppressed_by": decision.suppressed_by, **payload}

    def _schedule(self, model: str, policy: LoopPolicy, now: dt.datetime) -> Signal | None:
        cron = policy.schedule.cron
        if cron is None:
            return None
        state = self.ws.jobs.state(model, "schedule") or {}
        if state.get("cron") != cron:  # new or changed schedule: count from now, never fire for the past
            self.ws.jobs.set_state(model, "schedule", {"cron": cron, "checked": now.isoformat()}, now=now)
            return None
        due = policies.schedule_due(cron, dt.datetime.fromisoformat(state["checked"]), now)
        self.ws.jobs.set_state(model, "schedule", {"cron": cron, "checked": now.isoformat()}, now=now)
        if due is None:
            return None
        return Signal(
            "schedule",
            f"schedule:{due.isoformat()}",
            f"scheduled retraining ({cron!r}, due {due.isoformat()})",
            {"cron": cron, "due": due.isoformat()},
        )

    def _follow_up(self, model: str, champion: ModelVersion, policy: LoopPolicy) -> Signal | None:
        """The follow-up trigger, when the champion came from an anchored retraining (a new regime); the job
        that trained it made it champion at once or through a rollout."""
        job = self.ws.jobs.with_challenger(model, champion.version)
        regime = None if job is None or job.holdout is None else job.holdout.get("regime_rows")
        if job is None or not regime:
            return None
        served = count_labeled(self.ws.store, model, version=champion.version)
        return policies.follow_up(policy, job.id, int(regime), served)

    # -- forever --------------------------------------------------------------------------------

    def run_forever(
        self, interval: float | None = None, *, on_pass: Callable[[PassResult], None] | None = None
    ) -> None:
        """Run passes every ``interval`` seconds (``loop.interval_seconds``) while this process leads, until
        :attr:`stop` is set; between passes renew the lease, or (not leading) try to take it, every
        ``loop.lease.renew_seconds``. On stop the lease is released."""
        interval = self.settings.interval_seconds if interval is None else interval
        retry = self.settings.lease.renew_seconds
        next_pass = time.monotonic()
        try:
            while not self.stop.is_set():
                passed = False
                if time.monotonic() >= next_pass:
                    started = time.monotonic()
                    if self._guarded(self._pass, interval, on_pass):
                        next_pass = started + interval
                        passed = True
                else:
                    self._guarded(self._renew, retry, None)
                self._export(passed)
                wait = next_pass - time.monotonic()
                self.stop.wait(retry if wait <= 0 else min(retry, wait))
        finally:
            self.leader.release()

    def _export(self, passed: bool) -> None:
        """Write the loop's metrics (:mod:`~modelward.maintenance.loop_metrics`), if it has any."""
        if self.metrics is None:
            return
        try:
            leading = self.leader.leading
            models = self.models() if leading else []
            self.metrics.export(
                self.ws,
                models,
                leading=leading,
                passed=utcnow() if passed else None,
                baselines=self._baselines(models),
            )
        except Exception as exc:  # the metrics must never stop the loop (a database outage, a full disk)
            log.warning("could not export the loop's metrics: %s: %s", type(exc).__name__, exc)

    def _pass(self) -> PassResult:
        with self.leader.keeping():
            return self.run_once()

    def _renew(self) -> None:
        self.leader.lead()

    def _guarded(
        self,
        work: Callable[[], PassResult | None],
        retry: float,
        on_pass: Callable[[PassResult], None] | None,
    ) -> bool:
        """Run ``work``, logging (not raising) an outage or a bug; True when it was a leader's pass."""
        try:
            done = work()
        except (sa.exc.OperationalError, sa.exc.InterfaceError, DatabaseUnavailableError) as exc:
            reason = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
            log.error("loop pass failed, the database is unreachable (retrying in %.0f s): %s", retry, reason)
            return False
        except Exception:  # a bug: say so, and keep the loop alive for the next pass
            log.exception("loop pass failed on an internal error (retrying in %.0f s)", retry)
            return False
        if done is None or not done.leading:
            return False
        if on_pass is not None:
            on_pass(done)
        return True


class BackgroundLoop:
    """The loop in a daemon thread with a workspace of its own (``modelward serve``)."""

    def __init__(self, root: Path, overrides: dict[str, Any]) -> None:
        self.stop_event = threading.Event()
        self._root, self._overrides = root, overrides
        self._metrics_file: Path | None = None
        with Workspace.open(root, **overrides) as ws:  # fail now on a bad policy, not in the thread
            Loop(ws).check()
        self.thread = threading.Thread(target=self._run, name="modelward-loop", daemon=True)

    def start(self, metrics_file: Path | None = None) -> BackgroundLoop:
        """Start the thread; with ``metrics_file`` the loop writes its metrics there
        (:mod:`~modelward.maintenance.loop_metrics`)."""
        self._metrics_file = metrics_file
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            with Workspace.open(self._root, **self._overrides) as ws:
                log.info("the maintenance loop runs every %g s", ws.settings.loop.interval_seconds)
                metrics = (
                    None
                    if self._metrics_file is None
                    else LoopMetrics(self._metrics_file, top_k=ws.settings.monitor.top_k_features)
                )
                Loop(ws, stop=self.stop_event, metrics=metrics).run_forever()
        except Exception:
            log.exception("the maintenance loop stopped on an error")

    def close(self, timeout: float = 30.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)
