"""A retrain job's steps, run by :class:`JobRunner`: claim or resume, build the data, train, gate, decide.

Each step is recorded (status, fields, event) before the next starts, so a runner that dies anywhere —
``kill -9`` included — leaves a job the next runner resumes from its last recorded step:

* ``preparing``: the training set is built again (:func:`~modelward.maintenance.retrain.assemble`);
* ``training``: a version already trained on the job's dataset version is adopted as the challenger;
  otherwise the training runs again (an identical training registers nothing new);
* ``gating``: the gate runs again (it is deterministic); a champion that already is the challenger means
  the promotion happened and only its record was missing.

A job's runner is named by its owner string (``host:pid:token``); another runner takes a job over once its
heartbeat is older than ``loop.stale_after_seconds``, or at once when the owner was a process of this host
that no longer exists. After ``loop.max_attempts`` claims the job is failed. A crash, a timeout or an
unusable model fails the job and leaves the champion as it was. A runner made with ``gated=False`` promotes
every challenger without a gate: the backtest's ``scheduled`` baseline, never the live loop.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from modelward.errors import ConflictError, ModelwardError
from modelward.jobs import LostJobError, RetrainJob
from modelward.jobs.lease import StaleLeaderError
from modelward.loop_settings import LoopSettings
from modelward.maintenance.gate import load_behavioral, run_gate
from modelward.maintenance.retrain import TrainRequest, assemble, load_holdout
from modelward.maintenance.rollout import start_rollout
from modelward.maintenance.trainer import Stopped, SubprocessTrainer, Trainer
from modelward.registry import ModelVersion, Registry
from modelward.training import record_importance
from modelward.workspace import Workspace

__all__ = ["LOOP_ACTOR", "JobFailedError", "JobRunner", "new_owner", "owner_dead"]

log = logging.getLogger(__name__)

LOOP_ACTOR = "loop"
Clock = Callable[[], dt.datetime]
Progress = Callable[[str], None]


def new_owner() -> str:
    """A runner's name: ``host:pid:token``."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"


def owner_dead(owner: str) -> bool:
    """True when ``owner`` was a process of this host that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class JobFailedError(ModelwardError):
    """A step failed: the job ends with ``status`` and the event ``kind`` with ``evidence``."""

    code = "job_failed"

    def __init__(
        self,
        message: str,
        *,
        status: str = "failed",
        kind: str = "loop_job_failed",
        evidence: dict[str, Any] | None = None,
        challenger: int | None = None,
    ) -> None:
        super().__init__(message, details=evidence)
        self.status, self.kind, self.challenger = status, kind, challenger


class JobRunner:
    """Runs retrain jobs to their end (see the module docstring)."""

    def __init__(
        self,
        ws: Workspace,
        *,
        owner: str,
        clock: Clock,
        settings: LoopSettings,
        trainer: Trainer | None = None,
        stop: threading.Event | None = None,
        progress: Progress | None = None,
        gated: bool = True,
    ) -> None:
        self.ws, self.owner, self.clock, self.settings = ws, owner, clock, settings
        self.gated = gated
        self.trainer = trainer or SubprocessTrainer()
        self.stop = stop or threading.Event()
        self.progress = progress or (lambda _msg: None)
        self.registry = Registry(ws.store, LOOP_ACTOR)

    # -- claiming ---------------------------------------------------------------------------------

    def stale(self, job: RetrainJob, now: dt.datetime) -> bool:
        if job.owner is None:
            return True
        if owner_dead(job.owner):
            return True
        return (
            job.heartbeat_at is None
            or (now - job.heartbeat_at).total_seconds() > self.settings.stale_after_seconds
        )

    def advance(self, model: str) -> RetrainJob | None:
        """Run the model's active job if this runner holds it or may take it; returns it as it ended (or as
        another runner holds it), None when there is none."""
        job = self.ws.jobs.active(model)
        if job is None:
            return None
        now = self.clock()
        if job.owner != self.owner:
            if not self.stale(job, now):
                return job
            event: tuple[str, dict[str, Any]]
            if job.owner is None and job.attempt == 0:
                event = ("loop_job_started", {"owner": self.owner, "status": job.status})
            else:
                event = (
                    "loop_job_resumed",
                    {
                        "owner": self.owner,
                        "previous_owner": job.owner,
                        "status": job.status,
                        "heartbeat_at": _iso(job.heartbeat_at),
                    },
                )
            claimed = self.ws.jobs.claim(job, self.owner, now=now, event=event)
            if claimed is None:
                return self.ws.jobs.active(model)
            job = claimed
        if job.attempt > self.settings.max_attempts:
            return self.ws.jobs.finish(
                job,
                "failed",
                now=self.clock(),
                error=f"gave up after {job.attempt - 1} attempts: the runner died or stopped during each",
                event=("loop_job_failed", {"error": "too many attempts", "attempts": job.attempt - 1}),
            )
        return self.run(job)

    def run(self, job: RetrainJob) -> RetrainJob:
        """Run a job this runner owns through its remaining steps."""
        try:
            if job.status == "preparing":
                job = self._prepare(job)
            if job.status == "training":
                job = self._train(job)
            if job.status == "gating":
                job = self._gate(job)
            return job
        except Stopped:
            self.progress(f"job {job.id}: stopping; it resumes at the next start")
            current = self.ws.jobs.get(job.id)
            return self.ws.jobs.release(
                current, now=self.clock(), event=("loop_job_interrupted", {"status": current.status})
            )
        except LostJobError as exc:
            log.warning("%s", exc.message)
            return self.ws.jobs.get(job.id)
        except StaleLeaderError:
            raise  # another process leads the loop now: this one stops at once (the Loop says so)
        except JobFailedError as exc:
            return self._fail(job, exc)
        except (sa.exc.OperationalError, sa.exc.InterfaceError):
            raise  # the database is away: the job stays ours and resumes at the next pass
        except ModelwardError as exc:
            return self._fail(job, JobFailedError(exc.message, evidence=exc.details))
        except Exception as exc:
            log.exception("retrain job %d of %s failed on an internal error", job.id, job.model)
            return self._fail(job, JobFailedError(f"internal error: {type(exc).__name__}: {exc}"))

    def _fail(self, job: RetrainJob, exc: JobFailedError) -> RetrainJob:
        current = self.ws.jobs.get(job.id)
        if current.owner != self.owner or not current.active:
            return current
        self.progress(f"job {job.id}: {exc.status}: {exc.message}")
        fields: dict[str, Any] = {"error": exc.message}
        if exc.challenger is not None:
            fields["challenger_version"] = exc.challenger
        return self.ws.jobs.finish(
            current,
            exc.status,
            now=self.clock(),
            event=(exc.kind, {"error": exc.message, **exc.details}),
            **fields,
        )

    # -- steps ------------------------------------------------------------------------------------

    def _prepare(self, job: RetrainJob) -> RetrainJob:
        champion = self.ws.registry.get(job.model, "champion")
        policy = self.ws.model_spec(job.model).loop
        self.progress(
            f"job {job.id}: building the training data of {job.model} (champion v{champion.version})"
        )
        built = assemble(
            self.ws,
            champion,
            job=job.id,
            trigger_event=job.evidence.get("event"),
            trigger=job.trigger,
            now=self.clock(),
            retrain=policy.retrain,
            gate=policy.gate,
        )
        return self.ws.jobs.advance(
            job,
            now=self.clock(),
            status="training",
            dataset_version_id=built.dataset.id,
            holdout=built.holdout,
            champion_version=champion.version,
            event=("loop_dataset_built", built.summary),
        )

    def _train(self, job: RetrainJob) -> RetrainJob:
        assert job.dataset_version_id is not None and job.holdout is not None
        adopted = [
            v
            for v in self.ws.registry.versions(job.model)
            if v.dataset_version_id == job.dataset_version_id
            and v.version != job.champion_version
            and self.ws.jobs.with_challenger(job.model, v.version) is None
        ]
        if adopted:  # trained by an earlier attempt whose runner died before recording it
            mv = adopted[-1]
            return self._registered(job, mv, {"adopted": True})
        policy = self.ws.model_spec(job.model).loop
        dataset = self.ws.datasets.get_by_id(job.dataset_version_id)
        request = TrainRequest(
            job.model,
            dataset.ref,
            list(job.holdout["features"]),
            job.holdout.get("weight_column"),
            f"challenger trained by the modelward loop, job {job.id} (trigger {job.trigger}) "
            f"on {dataset.ref}",
        )
        job = self.ws.jobs.advance(
            job,
            now=self.clock(),
            event=(
                "loop_training_started",
                {"dataset": dataset.ref, "time_limit_s": policy.retrain.time_limit, "attempt": job.attempt},
            ),
        )
        self.progress(
            f"job {job.id}: training {job.model} on {dataset.ref} (time limit {policy.retrain.time_limit:g} s)"
        )
        state = {"job": job}

        def tick() -> None:
            state["job"] = self.ws.jobs.heartbeat(state["job"], now=self.clock())

        outcome = self.trainer.run(
            self.ws, request, time_limit=policy.retrain.time_limit, tick=tick, stop=self.stop
        )
        job = state["job"]
        evidence = {
            "seconds": round(outcome.seconds, 3),
            "exit_code": outcome.exit_code,
            "log_tail": outcome.log_tail,
            "log_artifact": outcome.log_artifact,
        }
        if outcome.timed_out:
            raise JobFailedError(
                str(outcome.error),
                status="timed_out",
                kind="loop_training_timed_out",
                evidence={**evidence, "time_limit_s": policy.retrain.time_limit},
            )
        if outcome.result is None:
            raise JobFailedError(
                f"training failed: {outcome.error}", kind="loop_training_failed", evidence=evidence
            )
        if not outcome.result.weighted:
            self._unweighted_notice(job)
        mv = self.registry.get(job.model, outcome.result.version)
        return self._registered(
            job, mv, {**evidence, "created": outcome.result.created, "weighted": outcome.result.weighted}
        )

    def _registered(self, job: RetrainJob, mv: ModelVersion, evidence: dict[str, Any]) -> RetrainJob:
        assert job.holdout is not None
        try:  # a model that cannot be loaded or cannot predict never reaches the gate
            model = self.ws.load_model(mv)
            model.predict(load_holdout(self.ws, job.holdout)[list(job.holdout["features"])].head(5))
        except Exception as exc:
            raise JobFailedError(
                f"bad artifact: {mv.ref} cannot be loaded or cannot predict: {type(exc).__name__}: {exc}",
                evidence={"version": mv.version},
                challenger=mv.version,
            ) from exc
        self.progress(f"job {job.id}: challenger {mv.ref} registered")
        if self.ws.model_spec(job.model).importance:
            record_importance(self.ws, mv, model)  # here, not in the time-limited training subprocess
        return self.ws.jobs.advance(
            job,
            now=self.clock(),
            status="gating",
            challenger_version=mv.version,
            event=("loop_challenger_registered", {"version": mv.version, "metrics": mv.metrics, **evidence}),
        )

    def _unweighted_notice(self, job: RetrainJob) -> None:
        entrypoint = self.ws.model_spec(job.model).entrypoint
        if (self.ws.jobs.state(job.model, "unweighted_notice") or {}).get("entrypoint") == entrypoint:
            return
        message = (
            f"{entrypoint} takes no sample_weight parameter, so the loop's recency weights are not used: "
            "the challenger trains unweighted. Add a sample_weight parameter (the name of the weight "
            "column in train_df) to use them."
        )
        log.warning("%s: %s", job.model, message)
        self.ws.jobs.record(
            job.model,
            "loop_unweighted",
            {"entrypoint": entrypoint, "message": message},
            now=self.clock(),
            actor=LOOP_ACTOR,
            job=job.id,
        )
        self.ws.jobs.set_state(job.model, "unweighted_notice", {"entrypoint": entrypoint}, now=self.clock())

    def _gate(self, job: RetrainJob) -> RetrainJob:
        assert job.challenger_version is not None and job.holdout is not None
        handed = next((r for r in self.ws.rollouts.latest(job.model, limit=5) if r.job_id == job.id), None)
        if handed is not None:  # an earlier attempt started the rollout and died before recording it
            return self._handed(job, handed.id, recovered=True)
        champion = self.ws.registry.get(job.model, "champion")
        if champion.version == job.challenger_version:  # promoted by an earlier attempt, not yet recorded
            return self.ws.jobs.finish(
                job,
                "promoted",
                now=self.clock(),
                event=(
                    "loop_promoted",
                    {"from": job.champion_version, "to": champion.version, "recovered": True},
                ),
            )
        if champion.version != job.champion_version:
            raise JobFailedError(
                f"the champion changed during the job (v{job.champion_version} -> "
                f"v{champion.version}); the challenger was trained against the old one",
                kind="loop_rejected",
                status="rejected",
                challenger=job.challenger_version,
            )
        policy = self.ws.model_spec(job.model).loop
        challenger = self.ws.registry.get(job.model, job.challenger_version)
        if not self.gated:
            return self._promote(job, challenger.version, "no gate (the backtest's scheduled baseline)")
        self.progress(f"job {job.id}: gate {challenger.ref} vs champion {champion.ref}")
        report = run_gate(
            self.ws,
            champion,
            challenger,
            recent=load_holdout(self.ws, job.holdout),
            gate=policy.gate,
            suite=load_behavioral(self.ws, policy.gate),
        )
        job = self.ws.jobs.advance(
            job, now=self.clock(), gate=report.to_dict(), event=("loop_gate_decided", report.to_dict())
        )
        self.progress(f"job {job.id}: gate: {report.reason}")
        if not report.promote:
            return self.ws.jobs.finish(
                job,
                "rejected",
                now=self.clock(),
                event=(
                    "loop_rejected",
                    {"reason": report.reason, "failed": [i["reason"] for i in report.failed]},
                ),
            )
        if policy.rollout.mode != "immediate":
            return self._roll_out(job, challenger.version, report.reason)
        return self._promote(job, challenger.version, f"gate passed; {report.reason}")

    def _promote(self, job: RetrainJob, version: int, why: str) -> RetrainJob:
        policy = self.ws.model_spec(job.model).loop
        change = self.registry.promote(job.model, version, reason=f"loop job {job.id} ({job.trigger}): {why}")
        return self.ws.jobs.finish(
            job,
            "promoted",
            now=self.clock(),
            event=(
                "loop_promoted",
                {"from": change.from_version, "to": change.to_version, "rollout": policy.rollout.mode},
            ),
        )

    def _roll_out(self, job: RetrainJob, version: int, gate_reason: str) -> RetrainJob:
        """Hand a challenger that passed the gate to a rollout (``loop.rollout``); the rollout decides."""
        policy = self.ws.model_spec(job.model).loop
        try:
            rollout = start_rollout(
                self.ws,
                job.model,
                version,
                settings=policy.rollout,
                actor=LOOP_ACTOR,
                now=self.clock(),
                job=job.id,
                reason=f"loop job {job.id} ({job.trigger}): gate passed; {gate_reason}",
            )
        except ConflictError as exc:
            raise JobFailedError(
                f"the gate passed but the rollout could not start: {exc.message}",
                kind="loop_rejected",
                status="rejected",
                challenger=version,
            ) from exc
        assert rollout is not None  # only immediate returns none
        self.progress(f"job {job.id}: gate passed; rollout {rollout.id} ({rollout.mode}) started")
        return self._handed(job, rollout.id, recovered=False)

    def _handed(self, job: RetrainJob, rollout: int, *, recovered: bool) -> RetrainJob:
        return self.ws.jobs.finish(
            job,
            "rolling_out",
            now=self.clock(),
            event=(
                "loop_rollout_started",
                {"rollout": rollout, "challenger": job.challenger_version, "recovered": recovered},
            ),
        )


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()
