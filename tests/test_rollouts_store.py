"""Rollouts in the store (ws.rollouts), on SQLite and PostgreSQL: one active rollout per model held by the
database, every change an event, a finished rollout stays finished, per-arm counters per interval, and the
arms' predictions with their labels (a shadow row labelled through its champion twin)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from modelward import Workspace
from modelward.errors import ConflictError
from modelward.predlog import FeedbackItem, PredictionLog, PredictionRecord, new_prediction_id
from modelward.rollouts import shadow_twin

NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


@pytest.fixture
def ws(tmp_path: Path, database_url: str) -> Workspace:
    workspace = Workspace.init(tmp_path / "ws", database_url=database_url)
    yield workspace
    workspace.close()


def _start(ws: Workspace, mode: str = "canary") -> object:
    return ws.rollouts.start(
        "credit", champion=1, challenger=2, mode=mode, steps=[5, 50, 100], settings={"x": 1}, now=NOW
    )


def test_one_active_rollout_per_model_and_every_change_is_an_event(ws: Workspace) -> None:
    rollout = ws.rollouts.start(
        "credit", champion=1, challenger=2, mode="canary", steps=[5, 50, 100], settings={"x": 1}, now=NOW
    )
    assert (rollout.status, rollout.step, rollout.share, rollout.arm) == ("running", 0, 0.05, "canary")
    with pytest.raises(ConflictError, match=r"already has an active rollout \(#1, v2, canary\)"):
        _start(ws)
    later = NOW + dt.timedelta(minutes=5)
    stepped = ws.rollouts.advance(rollout, now=later, evidence={"why": "guardrails pass"})
    assert (stepped.step, stepped.share, stepped.step_started_at) == (1, 0.5, later)
    saved = ws.rollouts.save(stepped, test={"looks": 3}, evaluation={"decision": "continue"}, now=later)
    assert saved.test == {"looks": 3} and saved.evaluation == {"decision": "continue"}
    done = ws.rollouts.finish(saved, "rolled_back", now=later, reason="harm", evidence={"p": 0.01})
    assert done.status == "rolled_back" and not done.active and ws.rollouts.active("credit") is None
    with pytest.raises(ConflictError, match="has already ended"):
        ws.rollouts.advance(saved, now=later, evidence={})
    kinds = [(e.kind, e.payload["rollout"]) for e in ws.registry.events("credit")]
    assert kinds == [("rollout_started", 1), ("rollout_step", 1), ("rollout_rolled_back", 1)]
    assert ws.registry.events("credit")[-1].payload["reason"] == "harm"
    second = _start(ws).id  # the model is free again (PostgreSQL spent an id on the refused insert)
    assert [r.id for r in ws.rollouts.latest("credit")] == [second, 1]
    assert [r.id for r in ws.rollouts.all_active()] == [second]


def test_counters_are_summed_per_interval_and_aligned_across_arms(ws: Workspace) -> None:
    rollout = ws.rollouts.start(
        "credit", champion=1, challenger=2, mode="ab", steps=[50], settings={}, now=NOW
    )
    at = lambda s: NOW + dt.timedelta(seconds=s)  # noqa: E731
    ws.rollouts.add_counts(
        [(rollout.id, "champion", 10, 0, 1), (rollout.id, "challenger", 9, 1, 0)], source="a", now=at(5)
    )
    ws.rollouts.add_counts([(rollout.id, "champion", 4, 0, 0)], source="b", now=at(30))
    ws.rollouts.add_counts([(rollout.id, "challenger", 7, 2, 3)], source="a", now=at(125))
    counts = ws.rollouts.counts(rollout, interval=60)
    assert counts["champion"].requests.tolist() == [14, 0, 0]
    assert counts["champion"].input_errors.tolist() == [1, 0, 0]
    assert counts["challenger"].requests.tolist() == [9, 0, 7]
    assert counts["challenger"].server_errors.tolist() == [1, 0, 2]


def test_arm_rows_carry_labels_and_shadow_rows_take_their_twins(ws: Workspace, tmp_path: Path) -> None:
    rollout = ws.rollouts.start(
        "credit", champion=1, challenger=2, mode="shadow", steps=[100], settings={}, now=NOW
    )
    log = PredictionLog(ws.store, spool_dir=tmp_path / "spool")
    log.start()
    try:
        champ = [new_prediction_id() for _ in range(3)]
        records = [
            PredictionRecord(  # two requests in one micro-batch: rows 0-1 (2 ms) and row 2 (3 ms)
                pid, NOW + dt.timedelta(seconds=1), "credit", 1, "champion", None, {}, 1, None, 2.0 + (i == 2)
            )
            for i, pid in enumerate(champ)
        ] + [
            PredictionRecord(
                shadow_twin(pid), NOW + dt.timedelta(seconds=1), "credit", 2, "shadow", None, {}, 0, None, 9.0
            )
            for pid in champ
        ]
        before = PredictionRecord(
            new_prediction_id(),
            NOW - dt.timedelta(seconds=1),
            "credit",
            1,
            "champion",
            None,
            {},
            1,
            None,
            1.0,
        )
        log.submit([*records, before]).result(timeout=10)
        log.add_feedback([FeedbackItem(champ[0], 1), FeedbackItem(champ[2], 0)])
    finally:
        log.close()
    future = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    rows = ws.rollouts.rows(rollout, labels_until=future)
    assert rows["champion"].ids == champ  # the row logged before the rollout started is not its
    assert rows["champion"].labels == [1, None, 0] and rows["champion"].labeled == 2
    assert rows["shadow"].ids == [shadow_twin(p) for p in champ]
    assert rows["shadow"].labels == [1, None, 0] and rows["shadow"].predictions == [0, 0, 0]
    # one latency per request, not per row: the shadow scored its three rows as one request
    assert rows["shadow"].latency_ms == [9.0] and sorted(rows["champion"].latency_ms) == [2.0, 3.0]
    past = ws.rollouts.rows(rollout, labels_until=NOW)  # labels that arrived later are not read yet
    assert past["champion"].labeled == 0 and past["shadow"].labeled == 0
