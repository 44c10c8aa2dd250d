"""The rollout step of the loop: start a rollout, judge it every pass, promote or roll it back.

A challenger that passed the gate is rolled out as its model's ``loop.rollout`` says (``canary`` by default;
``immediate`` promotes it at once, part 1's behaviour); ``modelward rollout start`` and the admin API start
one by hand. The settings are copied into the rollout when it starts, so a restart judges it by the rules
it started with.

Each pass, :class:`RolloutRunner` reads the rollout's arms from the prediction log and the server counters
(:meth:`~modelward.rollouts.RolloutStore.rows`, :meth:`~modelward.rollouts.RolloutStore.counts`):

* **labeled outcomes** feed an always-valid sequential test (:class:`~modelward.evaluation.MixtureSPRT`):
  the error indicator (prediction ≠ label) for classifiers, the absolute error for regressors; each pass
  with new labels is one look at every labeled row so far. The test's running state (its tau, interval,
  p-value and first decision) is stored with the rollout after every pass, so a restarted loop resumes it
  rather than starting over (which would spend its alpha again);
* **guardrails** on all the rollout's traffic: the error budget on server errors per interval, the p99
  latency and the input-error rate, each against the champion's over the same time;

A runner made with ``guardrails=False`` (the backtest: a replay with no server) measures no latency,
server error or input error, so those guardrails are left out of its decisions, and every evaluation says
so (``guardrails_not_measured``); only the traffic they would need (``guardrails.min_requests`` challenger
requests, counted in the log) still holds a canary at its step.

Then :func:`~modelward.maintenance.rollout_policy.decide` says what to do, and the runner does it: a step
(an event: every server picks it up at its next reload), a promotion (the champion alias moves), a
rollback, or the deadline's action. Every evaluation is stored with the rollout (``rollout status``); every
change is an event with its evidence.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

from modelward.errors import ConflictError, NotFoundError
from modelward.evaluation import (
    GuardrailResult,
    MixtureSPRT,
    error_budget,
    input_error_guardrail,
    latency_guardrail,
)
from modelward.loop_settings import RolloutSettings
from modelward.maintenance.rollout_policy import Verdict, decide
from modelward.registry import Registry
from modelward.rollouts import ArmCounts, ArmRows, Rollout
from modelward.workspace import Workspace

__all__ = ["NOT_MEASURED", "RolloutRunner", "abort_rollout", "describe", "start_rollout"]

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]

NOT_MEASURED = (
    "a replay has no server: latency, server errors and input errors are not measured, so the p99-latency, "
    "error-budget and input-error guardrails are left out of this decision (only the sequential test, the "
    "steps, the traffic the guardrails need and the deadline decide)"
)


def start_rollout(
    ws: Workspace,
    model: str,
    version: int,
    *,
    settings: RolloutSettings,
    actor: str,
    now: dt.datetime,
    job: int | None = None,
    reason: str | None = None,
) -> Rollout | None:
    """Roll ``model@version`` out against the champion as ``settings`` say; ``immediate`` promotes it at
    once (and returns None). Raises :class:`ConflictError` when the version is the champion or a rollout
    of the model is already running."""
    champion = ws.registry.get(model, "champion")
    challenger = ws.registry.get(model, version)
    if challenger.version == champion.version:
        raise ConflictError(
            f"{challenger.ref} is already the champion; roll out another version.",
            details={"model": model, "version": version},
        )
    if settings.mode == "immediate":
        Registry(ws.store, actor).promote(
            model, challenger.version, reason=reason or "rollout: immediate (promoted at once)"
        )
        return None
    steps = {"canary": settings.steps, "ab": [settings.split], "shadow": [100.0]}[settings.mode]
    return ws.rollouts.start(
        model,
        champion=champion.version,
        challenger=challenger.version,
        mode=settings.mode,
        steps=steps,
        settings=settings.model_dump(mode="json"),
        now=now,
        actor=actor,
        job_id=job,
        reason=reason,
    )


def abort_rollout(ws: Workspace, model: str, *, actor: str, reason: str | None, now: dt.datetime) -> Rollout:
    """End the model's active rollout by hand: the champion keeps all traffic."""
    rollout = ws.rollouts.active(model)
    if rollout is None:
        raise NotFoundError(
            f"{model!r} has no active rollout. See `modelward rollout status {model}`.",
            details={"model": model},
        )
    return ws.rollouts.finish(
        rollout, "aborted", now=now, reason=reason or f"aborted by {actor}", evidence={}, actor=actor
    )


class RolloutRunner:
    """Judges each model's active rollout once per loop pass (see the module docstring)."""

    def __init__(
        self,
        ws: Workspace,
        *,
        clock: Clock,
        actor: str,
        progress: Callable[[str], None] | None = None,
        guardrails: bool = True,
    ) -> None:
        self.ws, self.clock, self.actor = ws, clock, actor
        self.guardrails = guardrails
        self.registry = Registry(ws.store, actor)
        self.progress = progress or (lambda msg: log.info("%s", msg))

    def step(self, model: str, now: dt.datetime | None = None) -> Rollout | None:
        """Judge the model's active rollout and act; returns it as it is after this pass (None: none)."""
        rollout = self.ws.rollouts.active(model)
        if rollout is None:
            return None
        now = now or self.clock()
        champion = self.ws.registry.get(model, "champion")
        if champion.version != rollout.champion_version:
            return self._champion_moved(rollout, champion.version, now)
        if rollout.status == "held":
            return rollout  # an operator decides (rollout abort, or models promote)
        settings = RolloutSettings.model_validate(rollout.settings)
        task = champion.task
        rows = self.ws.rollouts.rows(rollout, labels_until=now)
        test = _look(
            (rollout.test or {}).get("sprt"),
            self._fresh_test(settings, task),
            _outcomes(rows["champion"], task),
            _outcomes(rows[rollout.arm], task),
        )
        if self.guardrails:
            counts = self.ws.rollouts.counts(rollout, interval=settings.guardrails.interval)
            guardrails = _guardrails(rows, counts, rollout.arm, settings)
        else:
            guardrails = _replay_traffic(len(rows[rollout.arm]), settings)
        verdict = decide(
            mode=rollout.mode,
            step=rollout.step,
            steps=rollout.steps,
            test=test.state(),
            guardrails=guardrails,
            step_elapsed=(now - rollout.step_started_at).total_seconds(),
            elapsed=(now - rollout.started_at).total_seconds(),
            settings=settings,
        )
        evidence = {
            "verdict": verdict.to_dict(),
            "test": test.state().to_dict(),
            "guardrails": [g.to_dict() for g in guardrails],
            "rows": {arm: len(r) for arm, r in rows.items()},
            "labeled": {arm: r.labeled for arm, r in rows.items()},
            "at": now.isoformat(),
        }
        if not self.guardrails:
            evidence["guardrails_not_measured"] = NOT_MEASURED
        try:
            rollout = self.ws.rollouts.save(
                rollout, test={"sprt": test.to_dict()}, evaluation=evidence, now=now
            )
            return self._act(rollout, verdict, evidence, settings, now)
        except ConflictError:  # ended meanwhile (an operator aborted it): nothing left to decide
            log.info("%s: rollout %d ended during this pass; its end stands", model, rollout.id)
            return self.ws.rollouts.get(rollout.id)

    def _fresh_test(self, settings: RolloutSettings, task: str) -> MixtureSPRT:
        non_inferior = settings.promote_when == "non_inferior" and settings.margin > 0
        return MixtureSPRT(
            alpha=settings.alpha,
            outcome="binary" if task == "classification" else "continuous",
            higher_is_better=False,
            mode="non_inferior" if non_inferior else "superior",
            margin=settings.margin if non_inferior else 0.0,
            expected_n=settings.expected_rows,
            min_samples=settings.min_rows,
        )

    def _act(
        self,
        rollout: Rollout,
        verdict: Verdict,
        evidence: dict[str, Any],
        settings: RolloutSettings,
        now: dt.datetime,
    ) -> Rollout:
        name = f"{rollout.model}: rollout {rollout.id} (v{rollout.challenger_version}, {rollout.mode})"
        if verdict.action == "continue":
            return rollout
        self.progress(f"{name}: {verdict.action}: {verdict.reason}")
        if verdict.action == "advance":
            return self.ws.rollouts.advance(rollout, now=now, evidence={"reason": verdict.reason, **evidence})
        if verdict.action == "roll_back":
            return self.ws.rollouts.finish(
                rollout, "rolled_back", now=now, reason=verdict.reason, evidence=evidence
            )
        if verdict.action == "promote":
            self.registry.promote(
                rollout.model,
                rollout.challenger_version,
                reason=f"rollout {rollout.id} ({rollout.mode}): {verdict.reason}",
            )
            return self.ws.rollouts.finish(
                rollout, "promoted", now=now, reason=verdict.reason, evidence=evidence
            )
        if settings.on_deadline == "hold":
            reason = f"{verdict.reason}. Holding the split for an operator (on_deadline: hold)."
            return self.ws.rollouts.hold(rollout, now=now, reason=reason, evidence=evidence)
        reason = f"{verdict.reason}. Rolled back (on_deadline: roll_back): the champion keeps all traffic."
        return self.ws.rollouts.finish(rollout, "expired", now=now, reason=reason, evidence=evidence)

    def _champion_moved(self, rollout: Rollout, version: int, now: dt.datetime) -> Rollout:
        """The champion alias moved during the rollout: promoted already (a pass died between promoting and
        recording it), or changed by hand (the rollout compared against a version no longer served)."""
        if version == rollout.challenger_version:
            reason = "the challenger is the champion (promoted by an earlier pass or by hand)"
            return self.ws.rollouts.finish(
                rollout, "promoted", now=now, reason=reason, evidence={"recovered": True}
            )
        reason = (
            f"the champion changed by hand during the rollout (v{rollout.champion_version} -> v{version}); "
            "the rollout compared against a version no longer served"
        )
        return self.ws.rollouts.finish(
            rollout, "aborted", now=now, reason=reason, evidence={"champion": version}
        )


def _outcome(prediction: Any, label: Any, task: str) -> float | None:
    """The error of one labeled prediction: 1/0 for a classifier, the absolute error for a regressor."""
    if label is None or prediction is None:
        return None
    if task == "classification":
        return 0.0 if prediction == label or str(prediction) == str(label) else 1.0
    try:
        value = abs(float(prediction) - float(label))
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _outcomes(rows: ArmRows, task: str) -> list[float]:
    out: list[float] = []
    for prediction, label, label_ts in zip(rows.predictions, rows.labels, rows.label_ts, strict=True):
        value = None if label_ts is None else _outcome(prediction, label, task)
        if value is not None:
            out.append(value)
    return out


def _look(
    saved: dict[str, Any] | None, fresh: MixtureSPRT, champion: list[float], challenger: list[float]
) -> MixtureSPRT:
    """This pass's look: the test's running state (tau, interval, p-value, first decision) as stored, its
    sums over every labeled row so far (labels arrive late and out of order: summing them all again needs
    no cursor across clocks). No new labeled row: no new look."""
    if saved is None:
        test = fresh
    else:
        arms = saved["arms"]
        if (arms["champion"]["n"], arms["challenger"]["n"]) == (len(champion), len(challenger)):
            return MixtureSPRT.from_dict(saved)
        empty = {name: {"n": 0, "mean": 0.0, "m2": 0.0} for name in ("champion", "challenger")}
        test = MixtureSPRT.from_dict({**saved, "arms": empty})
    if champion or challenger:
        test.update(champion, challenger)
    return test


def _guardrails(
    rows: dict[str, ArmRows], counts: dict[str, ArmCounts], arm: str, settings: RolloutSettings
) -> list[GuardrailResult]:
    g = settings.guardrails
    champ_counts, chall_counts = counts.get("champion"), counts.get(arm)
    n = max((len(c.requests) for c in counts.values()), default=0)

    def series(c: ArmCounts | None, field: str) -> Sequence[int]:
        return [0] * n if c is None else getattr(c, field).tolist()

    budget = error_budget(
        series(champ_counts, "server_errors"),
        series(chall_counts, "server_errors"),
        budget=g.error_budget,
        challenger_requests=series(chall_counts, "requests"),
    )
    latency = latency_guardrail(
        rows["champion"].latency_ms,
        rows[arm].latency_ms,
        quantile=g.latency_quantile,
        max_ratio=g.latency_max_ratio,
        slack_ms=g.latency_slack_ms,
        min_samples=g.min_requests,
        alpha=g.latency_alpha,
    )
    inputs = input_error_guardrail(
        int(sum(series(champ_counts, "input_errors"))),
        int(sum(series(champ_counts, "requests"))),
        int(sum(series(chall_counts, "input_errors"))),
        int(sum(series(chall_counts, "requests"))),
        margin=g.input_error_margin,
        alpha=g.latency_alpha,
        min_requests=g.min_requests,
    )
    return [budget, latency, inputs]


def _replay_traffic(requests: int, settings: RolloutSettings) -> list[GuardrailResult]:
    """In a replay (no guardrail measured): the challenger traffic the live guardrails would need before they
    could pass, counted in the log; nothing once it is there (see :data:`NOT_MEASURED`)."""
    need = settings.guardrails.min_requests
    if requests >= need:
        return []
    reason = f"{requests} challenger requests, {need} needed before a guardrail can judge (guardrails.min_requests)"
    return [GuardrailResult("traffic", "insufficient_data", reason, None, float(requests), float(need))]


def describe(rollout: Rollout) -> str:
    """One line about a rollout, for the CLI and logs."""
    where = (
        "a shadow copy of every request" if rollout.mode == "shadow" else f"{rollout.share:.0%} of requests"
    )
    return (
        f"rollout {rollout.id} of {rollout.model}: v{rollout.challenger_version} vs champion "
        f"v{rollout.champion_version}, {rollout.mode}, {rollout.status}, {where}"
    )
