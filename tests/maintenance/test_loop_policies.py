"""Trigger evaluation and the fire/suppress decision: pure functions on a given clock."""

from __future__ import annotations

import datetime as dt

import pytest

from modelward.loop_settings import GateSettings, LoopPolicy, RetrainSettings
from modelward.maintenance import policies
from modelward.maintenance.loop import rows_needed
from modelward.maintenance.policies import Signal, WindowEvidence, decide, evaluate, schedule_due
from modelward.monitoring import MetricEstimate

NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
HOLDOUT = {"accuracy": 0.90, "mae": 10.0}


def window(
    run: int,
    *,
    drift: bool = False,
    realized: dict[str, MetricEstimate] | None = None,
    estimated: dict[str, MetricEstimate] | None = None,
    labeled: int = 0,
    concept: dict[str, tuple[int, ...]] | None = None,
) -> WindowEvidence:
    return WindowEvidence(
        run_id=run,
        version=1,
        start=NOW,
        end=NOW,
        n_rows=500,
        n_labeled=labeled,
        dataset_drift=drift,
        drifted_share=0.6 if drift else 0.0,
        drifted_features=("salary",) if drift else (),
        realized=realized or {},
        estimated=estimated or {},
        concept_drift=concept or {},
    )


def acc(value: float, lower: float, upper: float, n: int = 500, method: str = "realized") -> MetricEstimate:
    return MetricEstimate("accuracy", value, lower, upper, n, method)  # type: ignore[arg-type]


def triggers(
    policy: LoopPolicy, windows: list[WindowEvidence], task: str = "classification"
) -> dict[str, Signal]:
    return {s.trigger: s for s in evaluate(policy, task, HOLDOUT, windows, now=NOW)}


def test_drift_fires_only_on_k_consecutive_drifted_windows() -> None:
    policy = LoopPolicy.model_validate({"drift": {"windows": 3}})
    assert "drift" in triggers(policy, [window(9, drift=True), window(8, drift=True), window(7, drift=True)])
    assert "drift" not in triggers(
        policy, [window(9, drift=True), window(8, drift=True)]
    )  # only two windows yet
    assert "drift" not in triggers(policy, [window(9, drift=True), window(8), window(7, drift=True)])
    signal = triggers(
        policy, [window(9, drift=True), window(8, drift=True), window(7, drift=True), window(6)]
    )["drift"]
    assert signal.key == "run:9" and "salary" in signal.reason and len(signal.evidence["windows"]) == 3
    off = LoopPolicy.model_validate({"drift": {"enabled": False}})
    assert "drift" not in triggers(off, [window(i, drift=True) for i in range(5)])


def test_performance_drop_is_judged_on_the_interval() -> None:
    policy = LoopPolicy()  # limit: 0.90 x 0.95 = 0.855
    fired = triggers(policy, [window(5, realized={"accuracy": acc(0.80, 0.76, 0.84)}, labeled=500)])
    assert fired["performance"].key == "run:5:n:500"
    assert "upper bound is below 0.855" in fired["performance"].reason
    assert fired["performance"].evidence["holdout"] == 0.90
    # The value is below the limit but the interval reaches above it: not enough evidence.
    assert "performance" not in triggers(policy, [window(5, realized={"accuracy": acc(0.84, 0.80, 0.88)})])
    # Too few labeled rows: the newest window is skipped, an older one with enough labels is judged.
    few = window(6, realized={"accuracy": acc(0.5, 0.1, 0.6, n=20)})
    older = window(5, realized={"accuracy": acc(0.80, 0.76, 0.84)})
    assert triggers(policy, [few, older])["performance"].key == "run:5:n:500"


def test_errors_drop_when_the_lower_bound_rises_above_the_limit() -> None:
    policy = LoopPolicy()
    mae = MetricEstimate("mae", 12.0, 11.0, 13.0, 400, "realized")
    assert "performance" in triggers(policy, [window(3, realized={"mae": mae})], task="regression")
    close = MetricEstimate("mae", 10.6, 10.2, 11.0, 400, "realized")  # limit 10.5: the lower bound is below
    assert "performance" not in triggers(policy, [window(3, realized={"mae": close})], task="regression")


def test_estimated_performance_and_concept_drift() -> None:
    policy = LoopPolicy.model_validate({"concept_drift": {"detectors": ["ddm"]}})
    est = window(4, estimated={"accuracy": acc(0.7, 0.65, 0.75, method="cbpe")})
    fired = triggers(policy, [est])
    assert "estimated" in fired and "performance" not in fired and "cbpe" in fired["estimated"].reason
    concept = window(4, labeled=300, concept={"adwin": (120,), "ddm": (), "page_hinkley": (40,)})
    assert "concept_drift" not in triggers(policy, [concept])  # only ddm counts here
    concept = window(4, labeled=300, concept={"ddm": (150, 260)})
    assert triggers(policy, [concept])["concept_drift"].evidence["detections"] == {"ddm": [150, 260]}
    assert "concept_drift" not in triggers(policy, [window(4, labeled=50, concept={"ddm": (10,)})])


def test_schedule_fires_once_per_passed_instant() -> None:
    assert schedule_due("*/15 * * * *", NOW, NOW + dt.timedelta(minutes=14)) is None
    due = schedule_due("*/15 * * * *", NOW, NOW + dt.timedelta(minutes=40))
    assert due == NOW + dt.timedelta(minutes=30)  # the latest instant passed, once
    assert (
        schedule_due("*/15 * * * *", NOW + dt.timedelta(minutes=40), NOW + dt.timedelta(minutes=41)) is None
    )


def test_decide_active_job_then_cooldown_then_labels() -> None:
    s = [Signal("drift", "run:1", "drift")]
    common = {"cooldown": 3600.0, "now": NOW, "labeled_rows": 500, "needed_rows": 400}
    assert decide(s, active_job=None, last_finished=None, **common).fire
    busy = decide(s, active_job=7, last_finished=NOW, **common)
    assert not busy.fire and busy.suppressed_by == "active_job" and "job 7" in busy.reason
    cooling = decide(s, active_job=None, last_finished=NOW - dt.timedelta(minutes=10), **common)
    assert cooling.suppressed_by == "cooldown" and cooling.details["until"] == "2026-03-01T12:50:00+00:00"
    assert decide(s, active_job=None, last_finished=NOW - dt.timedelta(minutes=10), force=True, **common).fire
    assert decide(s, active_job=None, last_finished=NOW - dt.timedelta(hours=2), **common).fire
    waiting = decide(s, active_job=None, last_finished=None, **{**common, "labeled_rows": 100})
    assert waiting.suppressed_by == "labels" and "100 labeled" in waiting.reason
    forced_busy = decide(s, active_job=7, last_finished=None, force=True, **common)
    assert forced_busy.suppressed_by == "active_job"  # force never opens a second job


@pytest.mark.parametrize(
    ("min_rows", "new", "share", "expected"),
    [(100, 100, 0.3, 200), (200, 100, 0.3, 300), (100, 100, 0.5, 200), (30, 100, 0.5, 200)],
)
def test_rows_needed_leaves_training_rows_after_the_gate(
    min_rows: int, new: int, share: float, expected: int
) -> None:
    gate = GateSettings(min_rows=min_rows, holdout_share=share)
    assert rows_needed(gate, RetrainSettings(min_new_rows=new)) == expected


def test_a_loop_trained_champion_is_judged_against_its_gate_rows_not_its_own_holdout() -> None:
    """Its own holdout is mostly the old regime (0.58 there); the gate measured it on recent rows (0.85)."""
    gate = {
        "items": [
            {
                "section": "recent rows",
                "kind": "comparison",
                "name": "accuracy",
                "evidence": {"challenger": 0.85},
            },
            {
                "section": "original test set",
                "kind": "comparison",
                "name": "accuracy",
                "evidence": {"challenger": 0.6},
            },
            {"section": "recent rows", "kind": "comparison", "name": "f1", "evidence": {"challenger": None}},
            {"section": "behavioral", "kind": "behavioral", "name": "rich", "evidence": {"challenger": 0.1}},
        ]
    }
    metrics = {"accuracy": 0.58, "f1": 0.5, "n_holdout": 900}
    assert policies.baseline_metrics(metrics, gate) == {"accuracy": 0.85, "f1": 0.5, "n_holdout": 900}
    assert policies.baseline_metrics(metrics, None) == metrics  # registered by hand: its holdout
