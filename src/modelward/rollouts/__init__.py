"""Rollouts in the store (``ws.rollouts``): the one owner of the SQL of the ``rollouts`` and
``rollout_counts`` tables, of the rollout's reads of the prediction log, and of the rollout events.

A rollout serves a challenger beside the champion — ``shadow`` (a copy of every request, callers get the
champion), ``canary`` (a growing share, step by step) or ``ab`` (a fixed share) — until the loop decides:
``promoted``, ``rolled_back``, ``aborted`` (by an operator) or ``expired`` (the deadline passed and the
configured action was to roll back). While it runs its status is ``running`` (or ``held``: the deadline
passed and ``on_deadline: hold`` keeps the split for an operator). The database allows one active rollout
per model (a partial unique index), so two processes or a restart never make two.

Every change writes its event (``rollout_started``, ``rollout_step``, ``rollout_promoted``,
``rollout_rolled_back``, ``rollout_aborted``, ``rollout_held``, ...) in the same transaction. The events
table is what the model servers poll: a new event makes every replica reload, and the reload reads the
active rollouts, so a step reaches every server within ``serve.reload_poll_seconds`` without a restart.

>>> import datetime as dt, tempfile
>>> from modelward import Workspace
>>> now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
>>> with tempfile.TemporaryDirectory() as tmp:
...     ws = Workspace.init(tmp)
...     r = ws.rollouts.start("credit", champion=1, challenger=2, mode="canary", steps=[5, 25, 100],
...                           settings={}, now=now)
...     print(r.status, r.share, ws.rollouts.active("credit").id == r.id)
...     ws.close()
running 0.05 True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelward.errors import ConflictError, NotFoundError
from modelward.rollouts._outcomes import ArmCounts, ArmRows, read_arm_rows, read_counts, shadow_twin
from modelward.store import Store
from modelward.store.audit import record_event
from modelward.store.schema import rollout_counts, rollouts

__all__ = [
    "ACTIVE",
    "FINISHED",
    "MODES",
    "ArmCounts",
    "ArmRows",
    "Rollout",
    "RolloutStore",
    "challenger_arm",
    "shadow_twin",
]

MODES = ("canary", "shadow", "ab")
ACTIVE = ("running", "held")
FINISHED = ("promoted", "rolled_back", "aborted", "expired")


def challenger_arm(mode: str) -> str:
    """The arm label the challenger's predictions are logged under in ``mode``.

    >>> challenger_arm("canary"), challenger_arm("ab"), challenger_arm("shadow")
    ('canary', 'challenger', 'shadow')
    """
    return {"canary": "canary", "ab": "challenger", "shadow": "shadow"}[mode]


@dataclass(frozen=True)
class Rollout:
    """One rollout (see the module docstring)."""

    id: int
    model: str
    mode: str
    status: str
    champion_version: int
    challenger_version: int
    steps: list[float]
    step: int
    settings: dict[str, Any]
    test: dict[str, Any] | None
    evaluation: dict[str, Any] | None
    job_id: int | None
    reason: str | None
    created_by: str
    started_at: dt.datetime
    step_started_at: dt.datetime
    updated_at: dt.datetime
    finished_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.finished_at is None

    @property
    def share(self) -> float:
        """Share of requests the challenger answers now (0 for shadow: it only sees copies)."""
        if self.mode == "shadow":
            return 0.0
        return float(self.steps[min(self.step, len(self.steps) - 1)]) / 100.0

    @property
    def arm(self) -> str:
        """The challenger's arm label."""
        return challenger_arm(self.mode)

    @property
    def salt(self) -> str:
        """The arm assignment's salt: one per rollout, so two rollouts do not share their canary users."""
        return f"{self.model}:rollout-{self.id}"

    def summary(self) -> dict[str, Any]:
        """The fields shown by ``rollout status`` and the admin API."""
        return {
            "id": self.id,
            "model": self.model,
            "mode": self.mode,
            "status": self.status,
            "champion_version": self.champion_version,
            "challenger_version": self.challenger_version,
            "steps": self.steps,
            "step": self.step,
            "share": self.share,
            "job_id": self.job_id,
            "reason": self.reason,
            "created_by": self.created_by,
            "started_at": self.started_at.isoformat(),
            "step_started_at": self.step_started_at.isoformat(),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
            "evaluation": self.evaluation,
        }


def _rollout(row: Any) -> Rollout:
    return Rollout(
        id=int(row.id),
        model=row.model,
        mode=row.mode,
        status=row.status,
        champion_version=int(row.champion_version),
        challenger_version=int(row.challenger_version),
        steps=[float(s) for s in row.steps],
        step=int(row.step),
        settings=dict(row.settings or {}),
        test=None if row.test is None else dict(row.test),
        evaluation=None if row.evaluation is None else dict(row.evaluation),
        job_id=row.job_id,
        reason=row.reason,
        created_by=row.created_by,
        started_at=row.started_at,
        step_started_at=row.step_started_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


class RolloutStore:
    """Rollouts, their per-arm counters and their events (``ws.rollouts``)."""

    def __init__(self, store: Store, actor: str) -> None:
        self.store = store
        self.actor = actor

    def _event(
        self,
        conn: Connection,
        rollout: Rollout | Mapping[str, Any],
        kind: str,
        payload: Mapping[str, Any],
        now: dt.datetime,
        actor: str | None,
    ) -> int:
        model = rollout.model if isinstance(rollout, Rollout) else str(rollout["model"])
        rid = rollout.id if isinstance(rollout, Rollout) else rollout["id"]
        return record_event(
            conn,
            kind=kind,
            subject_type="model",
            subject=model,
            actor=actor or self.actor,
            payload={"rollout": rid, **payload},
            ts=now,
        )

    # -- starting and reading ------------------------------------------------------------------------

    def start(
        self,
        model: str,
        *,
        champion: int,
        challenger: int,
        mode: str,
        steps: Sequence[float],
        settings: Mapping[str, Any],
        now: dt.datetime,
        actor: str | None = None,
        job_id: int | None = None,
        reason: str | None = None,
    ) -> Rollout:
        """Open a rollout (status ``running``, first step) with its ``rollout_started`` event.

        Raises :class:`ConflictError` when the model already has an active rollout."""
        if mode not in MODES:
            raise ValueError(f"rollout mode must be one of {', '.join(MODES)}, got {mode!r}")
        values = {
            "model": model,
            "mode": mode,
            "status": "running",
            "champion_version": champion,
            "challenger_version": challenger,
            "steps": [float(s) for s in steps],
            "step": 0,
            "settings": dict(settings),
            "job_id": job_id,
            "reason": reason,
            "created_by": actor or self.actor,
            "started_at": now,
            "step_started_at": now,
            "updated_at": now,
        }
        try:
            with self.store.write() as conn:
                key = conn.execute(rollouts.insert().values(**values)).inserted_primary_key
                assert key is not None
                rid = int(key[0])
                self._event(
                    conn,
                    {"model": model, "id": rid},
                    "rollout_started",
                    {
                        "mode": mode,
                        "champion": champion,
                        "challenger": challenger,
                        "steps": values["steps"],
                        "job": job_id,
                        "reason": reason,
                    },
                    now,
                    actor,
                )
        except sa.exc.IntegrityError as exc:
            active = self.active(model)
            raise ConflictError(
                f"{model!r} already has an active rollout"
                + ("" if active is None else f" (#{active.id}, v{active.challenger_version}, {active.mode})")
                + "; abort it first (`modelward rollout abort MODEL`).",
                details={"model": model, "rollout": None if active is None else active.id},
            ) from exc
        return self.get(rid)

    def get(self, rollout_id: int) -> Rollout:
        with self.store.read() as conn:
            row = conn.execute(sa.select(rollouts).where(rollouts.c.id == rollout_id)).first()
        if row is None:
            raise NotFoundError(f"No rollout {rollout_id}. See `modelward rollout status`.")
        return _rollout(row)

    def active(self, model: str) -> Rollout | None:
        """The model's active rollout, if any (there is at most one)."""
        r = rollouts.c
        with self.store.read() as conn:
            row = conn.execute(sa.select(rollouts).where(r.model == model, r.finished_at.is_(None))).first()
        return None if row is None else _rollout(row)

    def all_active(self) -> list[Rollout]:
        """Every active rollout (what the model servers route)."""
        r = rollouts.c
        with self.store.read() as conn:
            rows = conn.execute(sa.select(rollouts).where(r.finished_at.is_(None)).order_by(r.id))
            return [_rollout(row) for row in rows]

    def latest(self, model: str | None = None, *, limit: int = 20) -> list[Rollout]:
        """Rollouts, newest first."""
        r = rollouts.c
        query = sa.select(rollouts).order_by(r.id.desc()).limit(limit)
        if model is not None:
            query = query.where(r.model == model)
        with self.store.read() as conn:
            return [_rollout(row) for row in conn.execute(query)]

    # -- changes (each conditional on the rollout still being active: a finished one stays so) ---------

    def _change(
        self,
        rollout: Rollout,
        values: Mapping[str, Any],
        now: dt.datetime,
        event: tuple[str, Mapping[str, Any]] | None,
        actor: str | None = None,
    ) -> Rollout:
        r = rollouts.c
        with self.store.write() as conn:
            done = conn.execute(
                rollouts.update()
                .where(r.id == rollout.id, r.finished_at.is_(None))
                .values(**values, updated_at=now)
            ).rowcount
            if done != 1:
                raise ConflictError(
                    f"Rollout {rollout.id} of {rollout.model!r} has already ended; nothing was changed.",
                    details={"rollout": rollout.id},
                )
            if event is not None:
                self._event(conn, rollout, event[0], event[1], now, actor)
        return self.get(rollout.id)

    def save(
        self,
        rollout: Rollout,
        *,
        test: Mapping[str, Any] | None,
        evaluation: Mapping[str, Any],
        now: dt.datetime,
    ) -> Rollout:
        """Store the sequential test's state and the latest evaluation (no event: nothing changed)."""
        return self._change(
            rollout, {"test": None if test is None else dict(test), "evaluation": dict(evaluation)}, now, None
        )

    def advance(self, rollout: Rollout, *, now: dt.datetime, evidence: Mapping[str, Any]) -> Rollout:
        """Move a canary to its next step, with the ``rollout_step`` event."""
        step = rollout.step + 1
        payload = {"step": step, "percent": rollout.steps[step], **evidence}
        return self._change(rollout, {"step": step, "step_started_at": now}, now, ("rollout_step", payload))

    def hold(
        self, rollout: Rollout, *, now: dt.datetime, reason: str, evidence: Mapping[str, Any]
    ) -> Rollout:
        """Keep the split for an operator (``on_deadline: hold``), with the ``rollout_held`` event."""
        return self._change(
            rollout,
            {"status": "held", "reason": reason},
            now,
            ("rollout_held", {"reason": reason, **evidence}),
        )

    def finish(
        self,
        rollout: Rollout,
        status: str,
        *,
        now: dt.datetime,
        reason: str,
        evidence: Mapping[str, Any],
        actor: str | None = None,
    ) -> Rollout:
        """End the rollout (``promoted``, ``rolled_back``, ``aborted`` or ``expired``) with its event
        (``rollout_STATUS``). Promoting the challenger in the registry is the caller's job."""
        if status not in FINISHED:
            raise ValueError(f"{status!r} is not a final rollout status; one of {', '.join(FINISHED)}")
        return self._change(
            rollout,
            {"status": status, "reason": reason, "finished_at": now},
            now,
            (f"rollout_{status}", {"reason": reason, **evidence}),
            actor,
        )

    def record(
        self,
        rollout: Rollout,
        kind: str,
        payload: Mapping[str, Any],
        *,
        now: dt.datetime,
        actor: str | None = None,
    ) -> int:
        """Append one rollout event that changes no row (e.g. a resumed test)."""
        with self.store.write() as conn:
            return self._event(conn, rollout, kind, payload, now, actor)

    # -- counters and outcomes -------------------------------------------------------------------------

    def add_counts(
        self, rows: Sequence[tuple[int, str, int, int, int]], *, source: str, now: dt.datetime
    ) -> None:
        """Append per-arm counters flushed by a server: ``(rollout_id, arm, requests, server_errors,
        input_errors)``."""
        if not rows:
            return
        with self.store.write() as conn:
            conn.execute(
                rollout_counts.insert(),
                [
                    {
                        "rollout_id": rid,
                        "ts": now,
                        "arm": arm,
                        "source": source,
                        "requests": req,
                        "server_errors": err,
                        "input_errors": bad,
                    }
                    for rid, arm, req, err, bad in rows
                ],
            )

    def counts(
        self, rollout: Rollout, *, interval: float, since: dt.datetime | None = None
    ) -> dict[str, ArmCounts]:
        """Per-arm counters of ``rollout``, summed per ``interval`` seconds since it started (``since``: since
        then only, the intervals counted from there)."""
        if since is None or since <= rollout.started_at:
            return read_counts(self.store, rollout.id, rollout.started_at, interval)
        return read_counts(self.store, rollout.id, since, interval, only_since=True)

    def rows(self, rollout: Rollout, *, labels_until: dt.datetime) -> dict[str, ArmRows]:
        """The champion's and challenger's logged predictions since the rollout started, with labels that
        arrived before ``labels_until``."""
        return read_arm_rows(
            self.store,
            rollout.model,
            since=rollout.started_at,
            arms={
                "champion": ("champion", rollout.champion_version),
                rollout.arm: (rollout.arm, rollout.challenger_version),
            },
            labels_until=labels_until,
        )
