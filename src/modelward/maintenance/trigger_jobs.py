"""From a trigger decision to a retrain job: the one place that decides whether signals open a job (active
job, cooldown, labeled rows), opens it with its event, and records a lost race; and the manual trigger
(:func:`request_retrain`: ``modelward retrain``, the admin API, Alertmanager's hook) built on them. The
loop's own triggers (:class:`~modelward.maintenance.loop.Loop`) go through the same two functions, so a
manual and an automatic trigger can never make two jobs or skip the cooldown differently.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from modelward.jobs import RetrainJob
from modelward.loop_settings import LoopPolicy
from modelward.maintenance import policies
from modelward.maintenance.policies import Decision, Signal
from modelward.maintenance.retrain import rows_needed
from modelward.predlog import count_labeled
from modelward.registry import ModelVersion
from modelward.workspace import Workspace

__all__ = ["RACE", "Requested", "decide_signals", "labeled_rows", "open_job", "request_retrain", "utcnow"]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def labeled_rows(ws: Workspace, model: str, policy: LoopPolicy, now: dt.datetime) -> int:
    """Labeled predictions of ``model`` in the retraining window."""
    return count_labeled(ws.store, model, since=now - dt.timedelta(seconds=policy.retrain.recent))


@dataclass(frozen=True)
class Requested:
    """The answer to a manual trigger: the job it opened (None when suppressed) and the decision."""

    job: RetrainJob | None
    decision: Decision
    active: RetrainJob | None = None


def decide_signals(
    ws: Workspace, model: str, signals: Sequence[Signal], now: dt.datetime, *, force: bool = False
) -> tuple[Decision, RetrainJob | None]:
    """Whether ``signals`` open a job now (see :func:`modelward.maintenance.policies.decide`), and the
    model's active job."""
    policy = ws.model_spec(model).loop
    active = ws.jobs.active(model)
    last = ws.jobs.last_finished(model)
    needed = rows_needed(policy.gate, policy.retrain)
    have = needed if active is not None else labeled_rows(ws, model, policy, now)
    decision = policies.decide(
        signals,
        active_job=None if active is None else active.id,
        last_finished=None if last is None else last.finished_at,
        cooldown=policy.cooldown,
        now=now,
        labeled_rows=have,
        needed_rows=needed,
        force=force,
    )
    return decision, active


RACE = "another job was opened for this model at the same moment; one job at a time"


def open_job(
    ws: Workspace,
    model: str,
    champion: ModelVersion,
    signals: Sequence[Signal],
    decision: Decision,
    now: dt.datetime,
    *,
    actor: str,
    owner: str | None,
) -> RetrainJob | None:
    """Open the job of a fired decision (with its event); on a lost race, record the suppression."""
    payload = {"signals": [s.to_dict() for s in signals], "reason": decision.reason}
    job = ws.jobs.open(
        model,
        trigger=signals[0].trigger,
        evidence=payload,
        now=now,
        actor=actor,
        owner=owner,
        champion_version=champion.version,
        event=("loop_trigger_fired", payload),
    )
    if job is None:
        active = ws.jobs.active(model)
        ws.jobs.record(
            model,
            "loop_trigger_suppressed",
            {
                **payload,
                "suppressed_by": "active_job",
                "job": None if active is None else active.id,
                "reason": RACE,
            },
            now=now,
            actor=actor,
        )
    return job


def request_retrain(
    ws: Workspace,
    model: str,
    *,
    actor: str,
    reason: str | None = None,
    force: bool = False,
    now: dt.datetime | None = None,
    owner: str | None = None,
    signal: Signal | None = None,
) -> Requested:
    """The manual trigger: open a job for ``model`` unless one is active, the cooldown runs (``force`` skips
    it) or too few labeled rows exist. ``owner``: the runner that takes the job at once (else it is queued
    for the running loop). ``signal``: another requested trigger (an Alertmanager alert) instead of the
    manual one. The decision is an event either way."""
    now = now or utcnow()
    ws.model_spec(model)
    champion = ws.registry.get(model, "champion")
    signal = signal or Signal(
        "manual",
        f"manual:{now.isoformat()}",
        f"requested by {actor}{': ' + reason if reason else ''}{' (force)' if force else ''}",
        {"actor": actor, "reason": reason, "force": force},
    )
    decision, active = decide_signals(ws, model, [signal], now, force=force)
    if not decision.fire:
        ws.jobs.record(
            model,
            "loop_trigger_suppressed",
            {
                "signals": [signal.to_dict()],
                "reason": decision.reason,
                "suppressed_by": decision.suppressed_by,
                **decision.details,
            },
            now=now,
            actor=actor,
        )
        return Requested(None, decision, active)
    job = open_job(ws, model, champion, [signal], decision, now, actor=actor, owner=owner)
    if job is None:  # another trigger opened a job at the same moment: the database kept one
        active = ws.jobs.active(model)
        return Requested(
            None, Decision(False, RACE, "active_job", {"job": None if active is None else active.id}), active
        )
    return Requested(job, decision)
