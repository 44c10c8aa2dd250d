"""Settings of the maintenance loop: the workspace's ``loop:`` section (where and how often the loop runs)
and each model's ``models.NAME.loop:`` policy (when to retrain, how, and how the challenger is gated).

Every key has a default that works with no ``loop:`` section at all; every key is documented in
docs/configuration.md (a test keeps that true). Unknown keys are errors naming the key, as everywhere in
the settings; a cron expression is checked when the settings are read, a behavioral-test file when the
loop starts (it lives in the workspace, which the settings do not know).

>>> policy = LoopPolicy()
>>> policy.drift.windows, policy.cooldown, policy.retrain.half_life, policy.gate.mode, policy.rollout.mode
(3, 3600.0, 86400.0, 'superior', 'canary')
>>> LoopPolicy.model_validate({"cooldown": "15m", "schedule": {"cron": "0 3 * * *"}}).cooldown
900.0
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "ROLLOUT_MODES",
    "AttributionTrigger",
    "ConceptDriftTrigger",
    "DriftTrigger",
    "FollowUpTrigger",
    "GateSettings",
    "GuardrailSettings",
    "LeaseSettings",
    "LoopPolicy",
    "LoopSettings",
    "PerformanceTrigger",
    "RetrainSettings",
    "RolloutSettings",
    "ScheduleTrigger",
    "parse_duration",
]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")

#: Metrics the gate can compare (accuracy by McNemar, ROC AUC by DeLong, MAE by Wilcoxon, the rest by
#: a paired bootstrap).
CLASSIFICATION_METRICS = ("accuracy", "f1", "precision", "recall", "roc_auc", "log_loss", "brier")
REGRESSION_METRICS = ("mae", "mse", "rmse", "r2")


def parse_duration(value: Any) -> float:
    """Seconds from a number or a duration string (``30s``, ``15m``, ``1h``, ``7d``).

    >>> parse_duration("90s"), parse_duration("1.5h"), parse_duration(5)
    (90.0, 5400.0, 5.0)
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s, 15m, 1h or 7d (or seconds), got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ValueError(f"expected a duration such as 30s, 15m, 1h or 7d (or seconds), got {value!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration must be a finite number of seconds >= 0, got {value!r}")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DriftTrigger(_Section):
    """``loop.drift``: retrain after data drift in consecutive monitored windows."""

    enabled: bool = Field(True, description="Data drift is a trigger.")
    windows: int = Field(
        3, ge=1, description="Fire when this many consecutive windows of the champion show dataset drift."
    )


class AttributionTrigger(_Section):
    """``loop.attribution_drift``: retrain when the model leans on its inputs differently (attribution drift,
    ``models.NAME.monitor.attribution_rows``) in consecutive monitored windows."""

    enabled: bool = Field(True, description="Attribution drift is a trigger.")
    windows: int = Field(
        3,
        ge=1,
        description="Fire when this many consecutive windows of the champion show attribution drift in a column.",
    )


class PerformanceTrigger(_Section):
    """``loop.performance`` / ``loop.estimated``: retrain when performance dropped, judged on its interval."""

    enabled: bool = Field(True, description="This performance figure is a trigger.")
    metric: str | None = Field(
        None, description="Metric judged; default: accuracy for classifiers, mae for regressors."
    )
    drop: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="Relative drop from the version's holdout value that fires: the interval's upper bound "
        "below holdout x (1 - drop) (lower bound above holdout x (1 + drop) for errors such as mae).",
    )
    min_rows: int = Field(
        100,
        ge=1,
        description="Windows with fewer rows (labeled rows for realized performance) are not judged.",
    )


class ConceptDriftTrigger(_Section):
    """``loop.concept_drift``: retrain when the monitor's concept-drift detectors signalled."""

    enabled: bool = Field(True, description="Concept drift is a trigger.")
    detectors: list[Literal["adwin", "ddm", "page_hinkley"]] = Field(
        default_factory=lambda: ["adwin"],  # type: ignore[arg-type]
        description="Detectors whose signal counts (the monitor runs adwin, ddm and page_hinkley).",
    )
    min_rows: int = Field(100, ge=1, description="Windows with fewer labeled rows are not judged.")


class ScheduleTrigger(_Section):
    """``loop.schedule``: retrain on a cron schedule (evaluated in UTC)."""

    cron: str | None = Field(
        None, description="Cron expression (5 fields, UTC), e.g. '0 3 * * 1'; none: off."
    )

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from croniter import croniter

        if not croniter.is_valid(value) or len(value.split()) not in (5, 6):
            raise ValueError(
                f"{value!r} is not a cron expression: expected 5 fields 'minute hour day-of-month month "
                "day-of-week', e.g. '0 3 * * *' (03:00 UTC every day)"
            )
        return value


class FollowUpTrigger(_Section):
    """``loop.follow_up``: after a promotion that learnt a new regime from its first rows (an anchored
    retraining), retrain again as the regime's labeled rows grow."""

    enabled: bool = Field(True, description="The follow-up is a trigger.")
    growth: float = Field(
        2.0,
        gt=1,
        description="Retrain once the labeled rows of the regime (those the champion was trained and gated "
        "on, plus those it served since) are this many times those it was trained and gated on (no cooldown: "
        "one follow-up per power of growth).",
    )


class RetrainSettings(_Section):
    """``loop.retrain``: the training data recipe and the training run."""

    recent: Duration = Field(
        7 * 86400.0, gt=0, description="Labeled production rows logged this recently are used (e.g. 7d)."
    )
    half_life: Duration = Field(
        86400.0,
        gt=0,
        description="Recency weighting: a production row's weight halves every half-life of age.",
    )
    new_share: float = Field(
        0.7,
        ge=0,
        le=1,
        description="Share of the total training weight given to production rows (the rest to the reference data).",
    )
    dedup: bool = Field(
        True,
        description="Drop duplicate rows (features and label), keeping the newest; rows equal to a gate "
        "row are always dropped.",
    )
    min_new_rows: int = Field(
        100, ge=1, description="Fewest labeled production rows left for training (after the gate's rows)."
    )
    anchor: bool = Field(
        True,
        description="Anchor the production rows on the regime change: when the served models' errors over "
        "the recent labeled rows rose at one row (a change point beyond anchor_z), only the rows from there "
        "on (at least the rows training and the gate need) are used.",
    )
    anchor_reference: bool = Field(
        False,
        description="With production rows anchored on a regime change, also train on the reference data "
        "(the champion's training rows: the old regime's, weighted 1 - new_share). Off: the new regime is "
        "learnt from its own rows only, since the old regime's labels contradict it wherever the two differ.",
    )
    anchor_z: float = Field(
        5.0,
        gt=0,
        description="How strong a rise in the error rate (standardized difference of the means after and "
        "before the row) anchors the production rows.",
    )
    max_rows: int = Field(1_000_000, ge=1, description="Most production rows read (the newest).")
    time_limit: Duration = Field(3600.0, gt=0, description="Training is killed after this long (e.g. 30m).")


class GateSettings(_Section):
    """``loop.gate``: champion vs challenger on the same rows."""

    mode: Literal["superior", "non_inferior"] = Field(
        "superior",
        description="The primary metric must show the challenger better, or not worse than margin.",
    )
    margin: float = Field(
        0.0, ge=0, description="Non-inferiority margin of the primary metric, in its units (0.01 = 1 point)."
    )
    alpha: float = Field(0.05, gt=0, lt=0.5, description="One-sided significance level of every comparison.")
    metric: str | None = Field(
        None,
        description="Primary metric; default: accuracy (McNemar) for classifiers, mae (Wilcoxon) for regressors.",
    )
    secondary_metrics: list[str] | None = Field(
        None,
        description="Metrics that must be non-inferior within secondary_margin; default: f1 and roc_auc "
        "for binary classifiers, rmse for regressors.",
    )
    secondary_margin: float = Field(
        0.02, ge=0, description="Non-inferiority margin of the secondary metrics, in their units."
    )
    original_test_set: Literal["report", "non_inferior"] = Field(
        "report",
        description="The champion's original test set: compared and shown ('report'), or also "
        "judged non-inferior within secondary_margin.",
    )
    behavioral_tests: str | None = Field(
        None, description="Behavioral-test YAML file (relative to the workspace) the challenger must pass."
    )
    fairness_margin: float = Field(
        0.02,
        ge=0,
        le=1,
        description="With sensitive columns declared (models.NAME.monitor), the challenger is refused when "
        "the upper bound of a fairness gap exceeds the champion's by more than this.",
    )
    holdout_share: float = Field(
        0.3, gt=0, lt=1, description="Share of the recent labeled rows, the newest, held out for the gate."
    )
    min_rows: int = Field(200, ge=30, description="Fewest held-out rows the gate judges on.")
    bootstrap_resamples: int = Field(2000, ge=100, description="Resamples of the paired bootstraps.")
    seed: int = Field(0, description="Seed of the bootstraps.")

    @field_validator("metric")
    @classmethod
    def _check_metric(cls, value: str | None) -> str | None:
        return None if value is None else _metric_name(value)

    @field_validator("secondary_metrics")
    @classmethod
    def _check_metrics(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [_metric_name(v) for v in value]


def _metric_name(value: str) -> str:
    known = (*CLASSIFICATION_METRICS, *REGRESSION_METRICS)
    if value not in known:
        raise ValueError(f"unknown metric {value!r}; choose from {', '.join(known)}")
    return value


ROLLOUT_MODES = ("canary", "shadow", "ab", "immediate")


class GuardrailSettings(_Section):
    """``loop.rollout.guardrails``: rules the challenger must not break, whatever its labels say."""

    error_budget: int = Field(
        2,
        ge=0,
        description="Challenger server errors tolerated in intervals where the champion had none; more "
        "rolls back (a rule, not a test).",
    )
    interval: Duration = Field(
        60.0, gt=0, description="Length of the intervals the error budget compares (e.g. 1m)."
    )
    latency_quantile: float = Field(
        0.99, ge=0.5, lt=1, description="Latency quantile compared with the champion's (0.99 = p99)."
    )
    latency_max_ratio: float = Field(
        1.2,
        ge=1,
        description="The challenger's quantile may be at most the champion's x this + latency_slack_ms.",
    )
    latency_slack_ms: float = Field(5.0, ge=0, description="Milliseconds added to the latency limit.")
    latency_alpha: float = Field(
        0.001,
        gt=0,
        lt=0.5,
        description="Level of the exact binomial test on requests above the latency limit (checked every pass).",
    )
    input_error_margin: float = Field(
        0.01,
        ge=0,
        lt=1,
        description="The challenger's input-error rate may exceed the champion's by this much (0.01 = 1 "
        "point) before the exact binomial test at latency_alpha fails it.",
    )
    min_requests: int = Field(
        50,
        ge=1,
        description="Challenger requests each guardrail needs before it can pass (fewer: no pass).",
    )


class RolloutSettings(_Section):
    """``loop.rollout``: how a challenger that passed the gate reaches the traffic, and who decides."""

    mode: Literal["canary", "shadow", "ab", "immediate"] = Field(
        "canary",
        description="canary: the challenger answers a growing share (steps); shadow: it scores a copy of "
        "every request, callers get the champion; ab: a fixed split; immediate: promoted at once.",
    )
    steps: list[float] = Field(
        default_factory=lambda: [5.0, 25.0, 50.0, 100.0],
        description="Canary steps, percent of requests the challenger answers; reaching 100 promotes it.",
    )
    split: float = Field(
        50.0, gt=0, lt=100, description="Percent of requests the challenger answers in ab mode."
    )
    step_seconds: Duration = Field(
        600.0, ge=0, description="Shortest time at a step before the canary moves on (e.g. 10m)."
    )
    deadline: Duration = Field(
        86400.0,
        gt=0,
        description="A rollout not decided this long after it started takes on_deadline (e.g. 24h).",
    )
    on_deadline: Literal["roll_back", "hold"] = Field(
        "roll_back",
        description="At the deadline without a decision (too few labels or too little traffic): roll_back "
        "(the champion keeps all traffic), or hold (the split stays; an operator decides). Never a promotion.",
    )
    promote_when: Literal["non_inferior", "superior"] = Field(
        "non_inferior",
        description="The sequential test must show the challenger not worse than margin, or better.",
    )
    margin: float = Field(
        0.01,
        ge=0,
        description="Largest loss a promotion accepts, which the test must rule out: error rate points for "
        "classifiers (0.01 = 1 point), mean absolute error units for regressors.",
    )
    alpha: float = Field(
        0.05, gt=0, lt=0.5, description="Level of the always-valid sequential test (mixture SPRT)."
    )
    expected_rows: int = Field(
        2000,
        ge=2,
        description="Labeled rows over both arms at which a decision is expected: tunes the mixture's tau.",
    )
    min_rows: int = Field(
        30, ge=2, description="Labeled rows each arm needs before the sequential test decides anything."
    )
    guardrails: GuardrailSettings = Field(default_factory=GuardrailSettings, description="Guardrails.")

    @field_validator("steps")
    @classmethod
    def _check_steps(cls, value: list[float]) -> list[float]:
        if not value or any(not 0 < v <= 100 for v in value) or value != sorted(set(value)):
            raise ValueError(
                f"steps must be increasing percentages in (0, 100], e.g. [5, 25, 50, 100]; got {value}"
            )
        return value


class LoopPolicy(_Section):
    """``models.NAME.loop``: when the loop retrains this model, how, and how the challenger is judged."""

    enabled: bool = Field(True, description="The loop watches this model (monitoring, triggers, jobs).")
    drift: DriftTrigger = Field(default_factory=DriftTrigger, description="Data-drift trigger.")
    attribution_drift: AttributionTrigger = Field(
        default_factory=AttributionTrigger, description="Attribution-drift trigger."
    )
    performance: PerformanceTrigger = Field(
        default_factory=PerformanceTrigger, description="Realized-performance trigger (labeled rows)."
    )
    estimated: PerformanceTrigger = Field(
        default_factory=PerformanceTrigger, description="Estimated-performance trigger (CBPE/DLE, no labels)."
    )
    concept_drift: ConceptDriftTrigger = Field(
        default_factory=ConceptDriftTrigger, description="Concept-drift trigger."
    )
    schedule: ScheduleTrigger = Field(default_factory=ScheduleTrigger, description="Scheduled trigger.")
    follow_up: FollowUpTrigger = Field(
        default_factory=FollowUpTrigger, description="Follow-up after a promotion that learnt a new regime."
    )
    cooldown: Duration = Field(
        3600.0,
        ge=0,
        description="No new job (automatic or manual without force) this long after the last one ended.",
    )
    retrain: RetrainSettings = Field(default_factory=RetrainSettings, description="Training data and run.")
    gate: GateSettings = Field(default_factory=GateSettings, description="Champion/challenger gate.")
    rollout: RolloutSettings = Field(
        default_factory=lambda: RolloutSettings(),
        description="How a challenger that passed the gate is rolled out (a mode name alone, e.g. "
        "'immediate', is short for {mode: NAME}).",
    )

    @field_validator("rollout", mode="before")
    @classmethod
    def _rollout_shorthand(cls, value: Any) -> Any:
        return {"mode": value} if isinstance(value, str) else value


class LeaseSettings(_Section):
    """``loop.lease``: one leader among the processes sharing a database (see docs/loop.md, One leader)."""

    ttl_seconds: float = Field(
        30.0,
        gt=0,
        description="A leader not heard of for this long loses the loop: another process takes it over "
        "(a clean stop hands it over at once).",
    )
    renew_seconds: float = Field(
        10.0,
        gt=0,
        description="How often the leader renews its lease, and how often the others try to take it; "
        "below ttl_seconds. Failover takes at most ttl_seconds + renew_seconds.",
    )

    @model_validator(mode="after")
    def _renew_before_expiry(self) -> LeaseSettings:
        if self.renew_seconds >= self.ttl_seconds:
            raise ValueError(
                f"renew_seconds ({self.renew_seconds:g}) must be below ttl_seconds ({self.ttl_seconds:g}), "
                "or the lease expires before it is renewed; e.g. ttl_seconds: 30, renew_seconds: 10"
            )
        return self


class LoopSettings(_Section):
    """``loop:`` — where and how often the loop runs (``modelward loop``, or inside ``modelward serve``)."""

    serve: bool = Field(True, description="Run the loop inside `modelward serve` (a background thread).")
    interval_seconds: float = Field(30.0, gt=0, description="Pause between passes (monitor, triggers, jobs).")
    heartbeat_seconds: float = Field(
        5.0, gt=0, description="How often a running job records that it is alive."
    )
    stale_after_seconds: float = Field(
        120.0,
        gt=0,
        description="A job whose runner has not been heard of for this long is taken over and resumed "
        "(at once when the runner was a process on this host that no longer exists).",
    )
    max_attempts: int = Field(
        3, ge=1, description="A job resumed this many times (its runner died or stopped each time) is failed."
    )
    lease: LeaseSettings = Field(
        default_factory=LeaseSettings, description="One leader among processes sharing the database."
    )
