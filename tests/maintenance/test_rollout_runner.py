"""The loop's rollout step over a real store (SQLite and PostgreSQL) and the real prediction log, on an
injected clock: a canary walks its steps and is promoted; a worse challenger, a slow one and one with new
server errors are rolled back; no traffic reaches the deadline's action (roll back, or hold), said plainly;
a new runner resumes the stored test; a champion moved by hand ends the rollout."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelward import Workspace
from modelward.cli.narration import history_entries
from modelward.loop_settings import RolloutSettings
from modelward.maintenance.rollout import RolloutRunner, abort_rollout, start_rollout
from modelward.predlog import FeedbackItem, PredictionLog, PredictionRecord, new_prediction_id
from modelward.rollouts import Rollout, shadow_twin

START = dt.datetime.now(dt.UTC)


def at(seconds: float) -> dt.datetime:
    return START + dt.timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def _clock_starts_now() -> None:
    """Labels carry their real arrival time: each test's clock starts when the test does."""
    global START
    START = dt.datetime.now(dt.UTC)


@pytest.fixture
def ws(tmp_path: Path, database_url: str) -> Iterator[Workspace]:
    with Workspace.init(tmp_path / "ws", database_url=database_url) as workspace:
        blob = workspace.artifacts.put(b"not a model: the runner never loads it")
        for _ in range(2):
            workspace.registry.register(
                "credit",
                task="classification",
                artifact=blob,
                serializer="skops",
                flavor="sklearn",
                signature={},
                input_example=[],
                params={},
                metrics={},
                lineage={},
            )
        workspace.registry.promote("credit", 1, reason="test setup")
        yield workspace


class Traffic:
    """Predictions, labels and server counters of one rollout, written through the real log."""

    def __init__(self, ws: Workspace, rollout: Rollout, tmp_path: Path) -> None:
        self.ws, self.rollout = ws, rollout
        self.log = PredictionLog(ws.store, spool_dir=tmp_path / "spool")
        self.log.start()
        self.rng = np.random.default_rng(7)

    def send(
        self,
        arm: str,
        n: int,
        *,
        errors: float,
        latency: float = 2.0,
        when: float = 1.0,
        server_errors: int = 0,
    ) -> None:
        version = self.rollout.champion_version if arm == "champion" else self.rollout.challenger_version
        ids = [new_prediction_id() for _ in range(n)]
        wrong = self.rng.random(n) < errors
        records = [  # one-row requests, each timed on its own (a request is its rows' (ts, latency))
            PredictionRecord(pid, at(when), "credit", version, arm, None, {}, 1, None, latency + i * 1e-6)
            for i, pid in enumerate(ids)
        ]
        self.log.submit(records).result(timeout=30)
        self.log.add_feedback([FeedbackItem(pid, 0 if w else 1) for pid, w in zip(ids, wrong, strict=True)])
        self.ws.rollouts.add_counts([(self.rollout.id, arm, n, server_errors, 0)], source="t", now=at(when))

    def close(self) -> None:
        self.log.close()


def _start(ws: Workspace, **settings: Any) -> Rollout:
    defaults: dict[str, Any] = {
        "steps": [10, 50, 100],
        "step_seconds": 60,
        "deadline": 3600,
        "margin": 0.05,
        "guardrails": {"min_requests": 20},
    }
    rollout = start_rollout(
        ws, "credit", 2, settings=RolloutSettings(**{**defaults, **settings}), actor="test", now=START
    )
    assert rollout is not None
    return rollout


def _runner(ws: Workspace) -> RolloutRunner:
    return RolloutRunner(ws, clock=lambda: START, actor="loop")


def _events(ws: Workspace) -> list[str]:
    return [e.kind for e in ws.registry.events("credit") if e.kind.startswith("rollout_")]


def test_a_canary_walks_its_steps_and_is_promoted(ws: Workspace, tmp_path: Path) -> None:
    rollout = _start(ws)
    traffic = Traffic(ws, rollout, tmp_path)
    try:
        traffic.send("champion", 900, errors=0.05)
        traffic.send("canary", 100, errors=0.05)
        runner = _runner(ws)
        assert runner.step("credit", at(30)).step == 0  # the step lasts 60 s
        moved = runner.step("credit", at(61))
        assert (moved.step, moved.share) == (1, 0.5), moved.evaluation["verdict"]
        traffic.send("champion", 1000, errors=0.05, when=70)
        traffic.send("canary", 1000, errors=0.05, when=70)
        done = _runner(ws).step("credit", at(125))  # a new runner resumes the stored test
        assert done.status == "promoted", done.evaluation["verdict"]
    finally:
        traffic.close()
    assert ws.registry.get("credit", "champion").version == 2
    assert _events(ws) == ["rollout_started", "rollout_step", "rollout_promoted"]
    promoted = next(e for e in ws.registry.events("credit") if e.kind == "rollout_promoted").payload
    assert promoted["reason"].startswith("the sequential test shows the challenger not worse")
    assert promoted["test"]["looks"] == 2 and promoted["test"]["decision"] == "non_inferior"
    assert {g["name"]: g["status"] for g in promoted["guardrails"]} == {
        "error_budget": "pass",
        "latency_p99": "pass",
        "input_errors": "pass",
    }
    lines = [e["summary"] for e in history_entries(ws.registry.events("credit"))]  # models history
    assert lines[0] == "rollout 1 started: v2 vs champion v1, canary [10.0, 50.0, 100.0]"
    assert lines[1].startswith("rollout 1: step to 50 %: every guardrail passes at 10 % after 61 s")
    assert lines[2].startswith("rollout 1 promoted: the sequential test shows the challenger not worse")


def test_a_shadow_is_judged_on_its_twins_labels(ws: Workspace, tmp_path: Path) -> None:
    rollout = _start(ws, mode="shadow")
    assert (rollout.steps, rollout.share, rollout.arm) == ([100.0], 0.0, "shadow")
    log = PredictionLog(ws.store, spool_dir=tmp_path / "spool")
    log.start()
    try:
        ids = [new_prediction_id() for _ in range(1500)]
        wrong = np.random.default_rng(3).random(len(ids)) < 0.05
        log.submit(
            [
                PredictionRecord(p, at(1), "credit", 1, "champion", None, {}, 1, None, 2.0 + i * 1e-6)
                for i, p in enumerate(ids)
            ]
            + [
                PredictionRecord(
                    shadow_twin(p), at(1), "credit", 2, "shadow", None, {}, 1, None, 2.5 + i * 1e-6
                )
                for i, p in enumerate(ids)
            ]
        ).result(timeout=30)
        log.add_feedback([FeedbackItem(p, 0 if w else 1) for p, w in zip(ids, wrong, strict=True)])
    finally:
        log.close()
    ws.rollouts.add_counts(
        [(rollout.id, "champion", 1500, 0, 0), (rollout.id, "shadow", 1500, 0, 0)], source="t", now=at(1)
    )
    done = _runner(ws).step("credit", at(61))
    assert done.status == "promoted", done.evaluation["verdict"]
    assert done.evaluation["labeled"] == {"champion": 1500, "shadow": 1500}
    assert done.evaluation["test"]["estimate"] == 0.0  # the same predictions, the same labels


def test_a_worse_challenger_is_rolled_back_at_once(ws: Workspace, tmp_path: Path) -> None:
    rollout = _start(ws)
    traffic = Traffic(ws, rollout, tmp_path)
    try:
        traffic.send("champion", 900, errors=0.05)
        traffic.send("canary", 100, errors=0.45)
        done = _runner(ws).step("credit", at(10))  # harm does not wait for the step's time
    finally:
        traffic.close()
    assert done.status == "rolled_back"
    assert done.reason.startswith("the sequential test shows the challenger worse: error difference +")
    assert ws.registry.get("credit", "champion").version == 1
    assert _events(ws) == ["rollout_started", "rollout_rolled_back"]


@pytest.mark.parametrize("breach", ["latency", "server_errors"])
def test_a_guardrail_breach_rolls_back(ws: Workspace, tmp_path: Path, breach: str) -> None:
    rollout = _start(ws)
    traffic = Traffic(ws, rollout, tmp_path)
    try:
        traffic.send("champion", 300, errors=0.05)
        if breach == "latency":
            traffic.send("canary", 40, errors=0.05, latency=150.0)
        else:  # [0, 1, 2, 1, 0, 0] new server errors per minute, none on the champion
            for minute, errors in enumerate([0, 1, 2, 1, 0, 0]):
                traffic.send("canary", 5, errors=0.05, when=60 * minute + 1, server_errors=errors)
        done = _runner(ws).step("credit", at(400))
    finally:
        traffic.close()
    assert done.status == "rolled_back"
    expected = (
        "guardrail breached: latency_p99" if breach == "latency" else "guardrail breached: error_budget: 4"
    )
    assert done.reason.startswith(expected), done.reason
    assert ws.registry.get("credit", "champion").version == 1


def test_no_traffic_reaches_the_deadline_action_never_a_pass(ws: Workspace) -> None:
    _start(ws, deadline=600)
    runner = _runner(ws)
    assert runner.step("credit", at(599)).status == "running"
    done = runner.step("credit", at(601))
    assert done.status == "expired" and ws.registry.get("credit", "champion").version == 1
    assert "deadline of 600 s passed without a decision" in done.reason
    assert "0 labeled challenger rows and 0 champion rows so far" in done.reason
    assert "error_budget: the challenger served no request yet: no traffic is not a pass" in done.reason
    assert done.reason.endswith("Rolled back (on_deadline: roll_back): the champion keeps all traffic.")


def test_hold_keeps_the_split_for_an_operator(ws: Workspace) -> None:
    _start(ws, deadline=600, on_deadline="hold")
    held = _runner(ws).step("credit", at(601))
    assert held.status == "held" and held.active and held.share == 0.1
    assert _runner(ws).step("credit", at(9000)).status == "held"  # nothing more happens on its own
    aborted = abort_rollout(ws, "credit", actor="cli:ops", reason="looked at it", now=at(9001))
    assert aborted.status == "aborted" and _events(ws)[-2:] == ["rollout_held", "rollout_aborted"]


def test_a_champion_moved_by_hand_ends_the_rollout(ws: Workspace) -> None:
    _start(ws)
    ws.registry.promote("credit", 2, reason="by hand")
    done = _runner(ws).step("credit", at(5))
    assert done.status == "promoted" and done.reason.startswith("the challenger is the champion")
