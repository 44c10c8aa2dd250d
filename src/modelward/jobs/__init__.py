"""Retrain jobs and the loop's decisions in the store (``ws.jobs``): the one owner of the SQL of the
``retrain_jobs`` and ``loop_state`` tables, and of the loop's events in the append-only ``events`` table.

A job moves ``queued`` → ``preparing`` → ``training`` → ``gating`` and ends ``promoted``, ``rolling_out``
(its challenger passed the gate and was handed to a rollout, which decides), ``rejected``, ``failed`` or
``timed_out``. The database holds the invariants:

* **at most one active job per model**: a partial unique index on ``model`` where ``finished_at`` is
  NULL, so a burst of triggers, two runners or a restart can never make a second one (:meth:`JobStore.open`
  returns ``None`` instead);
* **fencing**: a runner claims a job by bumping its ``attempt`` (compare-and-set), and every later write
  is conditional on that owner and attempt, so a runner that lost the job (it stalled and was taken over)
  gets :class:`LostJobError` instead of overwriting the new owner's work.

Every state change writes its event in the same transaction, with the evidence in its payload, so
``modelward models history MODEL`` shows each decision and why.

>>> import datetime as dt, tempfile
>>> from modelward import Workspace
>>> now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
>>> with tempfile.TemporaryDirectory() as tmp:
...     ws = Workspace.init(tmp)
...     first = ws.jobs.open("credit", trigger="manual", evidence={"reason": "test"}, now=now)
...     second = ws.jobs.open("credit", trigger="manual", evidence={}, now=now)
...     print(first.status, first.active, second)
...     ws.close()
queued True None
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelward.errors import ConflictError, NotFoundError
from modelward.store import Store
from modelward.store.audit import record_event
from modelward.store.schema import loop_state, retrain_jobs

__all__ = ["ACTIVE", "FINISHED", "JobStore", "LostJobError", "RetrainJob"]

ACTIVE = ("queued", "preparing", "training", "gating")
FINISHED = ("promoted", "rolling_out", "rejected", "failed", "timed_out")
_FIELDS = ("dataset_version_id", "holdout", "challenger_version", "gate", "error", "champion_version")


class LostJobError(ConflictError):
    """This runner no longer owns the job (another runner took it over); it must stop working on it."""

    code = "job_lost"


@dataclass(frozen=True)
class RetrainJob:
    """One retrain job (see the module docstring for the statuses)."""

    id: int
    model: str
    status: str
    trigger: str
    evidence: dict[str, Any]
    champion_version: int | None
    dataset_version_id: int | None
    holdout: dict[str, Any] | None
    challenger_version: int | None
    gate: dict[str, Any] | None
    error: str | None
    owner: str | None
    attempt: int
    created_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    heartbeat_at: dt.datetime | None
    finished_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.finished_at is None

    def summary(self) -> dict[str, Any]:
        """The few fields shown in lists and API answers."""
        return {
            "id": self.id,
            "model": self.model,
            "status": self.status,
            "trigger": self.trigger,
            "champion_version": self.champion_version,
            "challenger_version": self.challenger_version,
            "attempt": self.attempt,
            "created_at": self.created_at.isoformat(),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
            "error": self.error,
        }


def _job(row: Any) -> RetrainJob:
    return RetrainJob(
        id=int(row.id),
        model=row.model,
        status=row.status,
        trigger=row.trigger,
        evidence=dict(row.evidence or {}),
        champion_version=row.champion_version,
        dataset_version_id=row.dataset_version_id,
        holdout=None if row.holdout is None else dict(row.holdout),
        challenger_version=row.challenger_version,
        gate=None if row.gate is None else dict(row.gate),
        error=row.error,
        owner=row.owner,
        attempt=int(row.attempt),
        created_by=row.created_by,
        created_at=row.created_at,
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
        finished_at=row.finished_at,
    )


Event = tuple[str, Mapping[str, Any]]
"""An event to record with a change: (kind, payload). The job's id is added to the payload."""


class JobStore:
    """Retrain jobs, loop state and loop events of a workspace (``ws.jobs``)."""

    def __init__(self, store: Store, actor: str) -> None:
        self.store = store
        self.actor = actor

    # -- events -------------------------------------------------------------------------------------

    def _event(
        self, conn: Connection, model: str, event: Event, now: dt.datetime, actor: str | None, job: int | None
    ) -> int:
        kind, payload = event
        body = {"job": job, **payload} if job is not None else dict(payload)
        return record_event(
            conn,
            kind=kind,
            subject_type="model",
            subject=model,
            actor=actor or self.actor,
            payload=body,
            ts=now,
        )

    def record(
        self,
        model: str,
        kind: str,
        payload: Mapping[str, Any],
        *,
        now: dt.datetime,
        actor: str | None = None,
        job: int | None = None,
    ) -> int:
        """Append one loop event about ``model`` (a decision that changes no job, e.g. a suppressed trigger)."""
        with self.store.write() as conn:
            return self._event(conn, model, (kind, payload), now, actor, job)

    # -- creating and reading -----------------------------------------------------------------------

    def open(
        self,
        model: str,
        *,
        trigger: str,
        evidence: Mapping[str, Any],
        now: dt.datetime,
        actor: str | None = None,
        owner: str | None = None,
        champion_version: int | None = None,
        event: Event | None = None,
    ) -> RetrainJob | None:
        """Create a job (``queued``, or ``preparing`` when ``owner`` takes it at once) and its event, in one
        transaction; ``None`` when the model already has an active job (the database refused a second).
        The event's id is added to the job's evidence as ``event``."""
        values: dict[str, Any] = {
            "model": model,
            "status": "queued" if owner is None else "preparing",
            "trigger": trigger,
            "evidence": dict(evidence),
            "champion_version": champion_version,
            "owner": owner,
            "attempt": 0 if owner is None else 1,
            "created_by": actor or self.actor,
            "created_at": now,
            "started_at": None if owner is None else now,
            "heartbeat_at": None if owner is None else now,
        }
        try:
            with self.store.write() as conn:
                key = conn.execute(retrain_jobs.insert().values(**values)).inserted_primary_key
                assert key is not None
                job_id = int(key[0])
                kind, payload = event or ("loop_job_created", {})
                event_id = self._event(
                    conn, model, (kind, {**payload, "trigger": trigger}), now, actor, job_id
                )
                conn.execute(
                    retrain_jobs.update()
                    .where(retrain_jobs.c.id == job_id)
                    .values(evidence={**dict(evidence), "event": event_id})
                )
        except sa.exc.IntegrityError:
            return None
        return self.get(job_id)

    def get(self, job_id: int) -> RetrainJob:
        with self.store.read() as conn:
            row = conn.execute(sa.select(retrain_jobs).where(retrain_jobs.c.id == job_id)).first()
        if row is None:
            raise NotFoundError(f"No retrain job {job_id}. See `modelward models history MODEL`.")
        return _job(row)

    def active(self, model: str) -> RetrainJob | None:
        """The model's active job, if any (there is at most one)."""
        j = retrain_jobs.c
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(retrain_jobs).where(j.model == model, j.finished_at.is_(None))
            ).first()
        return None if row is None else _job(row)

    def latest(self, model: str | None = None, *, limit: int | None = 50) -> list[RetrainJob]:
        """Jobs, newest first."""
        j = retrain_jobs.c
        query = sa.select(retrain_jobs).order_by(j.id.desc())
        if model is not None:
            query = query.where(j.model == model)
        if limit is not None:
            query = query.limit(limit)
        with self.store.read() as conn:
            return [_job(r) for r in conn.execute(query)]

    def last_finished(self, model: str) -> RetrainJob | None:
        """The model's job that ended last (what the cooldown counts from)."""
        j = retrain_jobs.c
        query = (
            sa.select(retrain_jobs)
            .where(j.model == model, j.finished_at.is_not(None))
            .order_by(j.finished_at.desc(), j.id.desc())
            .limit(1)
        )
        with self.store.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _job(row)

    def with_dataset(self, dataset_version_id: int) -> list[RetrainJob]:
        """Jobs that trained on this dataset version."""
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(retrain_jobs)
                .where(retrain_jobs.c.dataset_version_id == dataset_version_id)
                .order_by(retrain_jobs.c.id)
            )
            return [_job(r) for r in rows]

    def with_challenger(self, model: str, version: int) -> RetrainJob | None:
        """The latest job whose challenger was ``model@version``."""
        j = retrain_jobs.c
        query = (
            sa.select(retrain_jobs)
            .where(j.model == model, j.challenger_version == version)
            .order_by(j.id.desc())
            .limit(1)
        )
        with self.store.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _job(row)

    # -- ownership ----------------------------------------------------------------------------------

    def claim(self, job: RetrainJob, owner: str, *, now: dt.datetime, event: Event) -> RetrainJob | None:
        """Take ``job`` as it was read (same owner and attempt): the attempt is bumped, so whoever held it
        before is fenced off. ``None`` when someone else changed it first."""
        j = retrain_jobs.c
        status = "preparing" if job.status == "queued" else job.status
        query = retrain_jobs.update().where(j.id == job.id, j.attempt == job.attempt, j.finished_at.is_(None))
        query = query.where(j.owner.is_(None) if job.owner is None else j.owner == job.owner)
        with self.store.write() as conn:
            done = conn.execute(
                query.values(
                    owner=owner,
                    attempt=job.attempt + 1,
                    heartbeat_at=now,
                    status=status,
                    started_at=sa.func.coalesce(j.started_at, now),
                )
            ).rowcount
            if done != 1:
                return None
            kind, payload = event
            self._event(conn, job.model, (kind, {**payload, "attempt": job.attempt + 1}), now, None, job.id)
        return self.get(job.id)

    def _owned(self, job: RetrainJob) -> Any:
        j = retrain_jobs.c
        return retrain_jobs.update().where(
            j.id == job.id, j.owner == job.owner, j.attempt == job.attempt, j.finished_at.is_(None)
        )

    def _write(
        self, job: RetrainJob, values: Mapping[str, Any], now: dt.datetime, event: Event | None
    ) -> RetrainJob:
        with self.store.write() as conn:
            if conn.execute(self._owned(job).values(**values)).rowcount != 1:
                raise LostJobError(
                    f"Retrain job {job.id} of {job.model!r} was taken over by another runner "
                    f"(this one held attempt {job.attempt}); it stops here.",
                    details={"job": job.id},
                )
            if event is not None:
                self._event(conn, job.model, event, now, None, job.id)
        return self.get(job.id)

    def heartbeat(self, job: RetrainJob, *, now: dt.datetime) -> RetrainJob:
        """Say the runner is alive (raises :class:`LostJobError` when it no longer owns the job)."""
        return self._write(job, {"heartbeat_at": now}, now, None)

    def advance(
        self,
        job: RetrainJob,
        *,
        now: dt.datetime,
        status: str | None = None,
        event: Event | None = None,
        **fields: Any,
    ) -> RetrainJob:
        """Record a step: new status and/or fields, with its event."""
        unknown = set(fields) - set(_FIELDS)
        if unknown:
            raise ValueError(f"unknown job fields {sorted(unknown)}")
        values = {**fields, "heartbeat_at": now}
        if status is not None:
            if status not in ACTIVE:
                raise ValueError(f"{status!r} is not an active status; use finish()")
            values["status"] = status
        return self._write(job, values, now, event)

    def finish(
        self, job: RetrainJob, status: str, *, now: dt.datetime, event: Event | None = None, **fields: Any
    ) -> RetrainJob:
        """End the job (``promoted``, ``rejected``, ``failed`` or ``timed_out``) with its event."""
        if status not in FINISHED:
            raise ValueError(f"{status!r} is not a final status")
        unknown = set(fields) - set(_FIELDS)
        if unknown:
            raise ValueError(f"unknown job fields {sorted(unknown)}")
        return self._write(
            job, {**fields, "status": status, "finished_at": now, "heartbeat_at": now}, now, event
        )

    def release(self, job: RetrainJob, *, now: dt.datetime, event: Event | None = None) -> RetrainJob:
        """Give the job up unfinished (the runner is stopping): the next runner resumes it at once."""
        return self._write(job, {"owner": None, "heartbeat_at": None}, now, event)

    # -- loop state ---------------------------------------------------------------------------------

    def state(self, model: str, name: str) -> dict[str, Any] | None:
        """A small named value the loop keeps for ``model`` (None when never set)."""
        s = loop_state.c
        with self.store.read() as conn:
            value = conn.execute(sa.select(s.value).where(s.model == model, s.name == name)).scalar()
        return None if value is None else dict(value)

    def set_state(self, model: str, name: str, value: Mapping[str, Any], *, now: dt.datetime) -> None:
        s = loop_state.c
        for _attempt in range(5):
            try:
                with self.store.write() as conn:
                    updated = conn.execute(
                        loop_state.update()
                        .where(s.model == model, s.name == name)
                        .values(value=dict(value), updated_at=now)
                    ).rowcount
                    if not updated:
                        conn.execute(
                            loop_state.insert().values(
                                model=model, name=name, value=dict(value), updated_at=now
                            )
                        )
                return
            except sa.exc.IntegrityError:  # inserted by another writer meanwhile: update it
                continue
        raise ConflictError(f"Could not store the loop state {name!r} of {model!r}.")  # pragma: no cover
