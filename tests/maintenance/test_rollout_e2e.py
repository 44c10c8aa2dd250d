"""Rollouts end to end: `modelward serve` as a subprocess (the loop inside it) over HTTP, on SQLite and
PostgreSQL. A gate-passing challenger goes out as a canary and is promoted when live traffic agrees, rolled
back when it is worse on live traffic; a slow challenger breaks the p99 guardrail; no traffic reaches the
deadline's action; kill -9 mid-rollout and a restart resume it (same split, same arms, the same test)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from modelward import Workspace
from modelward.demo import agrawal_frame
from modelward.rollouts import Rollout
from server.process import ServerProcess

from .loop_support import AUTH, make_loop_workspace, send, traffic, wait_for

pytestmark = pytest.mark.slow

GUARDRAILS = "guardrails: {min_requests: 10, interval: 1s, latency_slack_ms: 20}"


def _rollout_config(**extra: str) -> str:
    settings = {
        "mode": "canary",
        "steps": "[20, 50, 100]",
        "step_seconds": "0",
        "deadline": "1h",
        "margin": "0.05",
        "expected_rows": "600",
        **extra,
    }
    inner = ", ".join(f"{k}: {v}" for k, v in settings.items())
    return f"      cooldown: 1h\n      rollout: {{{inner}, {GUARDRAILS}}}\n"


def _workspace(
    tmp_path: Path, database_url: str, challenger: dict[str, Any] | None = None, **extra: str
) -> Path:
    root = make_loop_workspace(tmp_path / "ws", database_url, _rollout_config(**extra))
    if challenger is not None:  # a second version to roll out by hand
        with Workspace.open(root, database_url=database_url) as ws:
            assert ws.train("credit", params=challenger).version == 2
    return root


def _reverted(seed: int) -> pd.DataFrame:
    """The shifted population (salaries 60 % higher) whose approval rule went back to the old one: the
    champion's rule is right again, the challenger learned the rule of the drift."""
    frame = agrawal_frame(100, seed=seed, function=0)
    frame["salary"] = (frame["salary"] * 1.6).round(2)
    return frame


def _served(http: httpx.Client, key: str | None = None) -> int:
    row = traffic(1, seed=99).drop(columns=["approved"]).to_dict(orient="records")
    answer = http.post("/v1/models/credit/predict", json={"instances": row, "routing_key": key})
    assert answer.status_code == 200, answer.text
    return int(answer.json()["version"])


def _grew(test: dict[str, Any], saved: dict[str, Any]) -> bool:
    """Both arms of ``test`` hold more labeled rows than they did in ``saved``."""
    return all(test["arms"][arm]["n"] > saved["arms"][arm]["n"] for arm in ("champion", "challenger"))


def _finished(ws: Workspace, rollout_id: int) -> Rollout | None:
    rollout = ws.rollouts.get(rollout_id)
    return None if rollout.active else rollout


def _kinds(ws: Workspace) -> list[str]:
    return [e.kind for e in ws.registry.events("credit") if e.kind.startswith("rollout_")]


@pytest.mark.parametrize("live", ["better", "worse"])
def test_a_gated_challenger_goes_out_as_a_canary(tmp_path: Path, database_url: str, live: str) -> None:
    """(a) the canary promotes when live traffic agrees with the gate; (b) a challenger that passed the
    gate but is worse on live traffic (the approval rule went back, the population stayed) is rolled back
    by the canary."""
    root = _workspace(tmp_path, database_url)
    server = ServerProcess(root, database_url)
    http = httpx.Client(base_url=server.base_url, timeout=30)
    try:
        server.wait_ready(timeout=120)  # a loaded machine starts slowly
        with Workspace.open(root, database_url=database_url) as ws:
            send(http, traffic(200, seed=2))
            send(http, traffic(600, seed=3, drifted=True))  # drift: a job retrains, the gate passes
            rollout = wait_for(
                "the gate to start a rollout", lambda: ws.rollouts.active("credit"), timeout=150
            )
            job = wait_for(
                "the job to hand over", lambda: (j := ws.jobs.latest("credit")[0]) and not j.active and j
            )
            assert (job.status, rollout.job_id, rollout.challenger_version) == ("rolling_out", job.id, 2)
            assert (rollout.mode, rollout.steps, rollout.share) == ("canary", [20.0, 50.0, 100.0], 0.2)
            assert _served(http) in (1, 2)
            for seed in range(10, 40):  # live traffic, ten rows a request, until the canary decides
                send(
                    http,
                    traffic(100, seed=seed, drifted=True) if live == "better" else _reverted(seed),
                    batch=10,
                )
                done = _finished(ws, rollout.id)
                if done is not None:
                    break
            done = wait_for("the canary's decision", lambda: _finished(ws, rollout.id), timeout=30)
            evaluation = json.dumps(done.evaluation)[:3000]
            if live == "better":
                assert done.status == "promoted", (done.reason, evaluation)
                assert wait_for(
                    "v2 to be served to everyone", lambda: {_served(http) for _ in range(5)} == {2}
                )
                assert _kinds(ws) == ["rollout_started", "rollout_step", "rollout_promoted"]
            else:
                assert done.status == "rolled_back", (done.reason, evaluation)
                assert done.reason.startswith("the sequential test shows the challenger worse"), done.reason
                assert wait_for("v1 to answer everyone", lambda: {_served(http) for _ in range(5)} == {1})
                assert ws.registry.get("credit", "champion").version == 1
            log = ws.rollouts.rows(done, labels_until=done.finished_at)
            assert len(log["canary"]) > 0 and len(log["champion"]) > 0  # every prediction logged with its arm
    finally:
        http.close()
        out = server.stop()
    assert "Traceback" not in out, out[-4000:]


def test_injected_latency_breaks_the_p99_guardrail(tmp_path: Path, database_url: str) -> None:
    """(c) a challenger several times slower (800 trees) is rolled back on latency, whatever its labels."""
    root = _workspace(tmp_path, database_url, {"n_estimators": 800})
    server = ServerProcess(root, database_url)
    http = httpx.Client(base_url=server.base_url, timeout=30)
    try:
        server.wait_ready(timeout=120)  # a loaded machine starts slowly
        started = http.post(
            "/v1/admin/models/credit/rollout", json={"version": 2, "steps": [50, 100]}, headers=AUTH
        )
        assert started.status_code == 201, started.text
        rollout_id = started.json()["rollout"]["id"]
        with Workspace.open(root, database_url=database_url) as ws:
            for seed in range(50, 60):
                send(http, traffic(20, seed=seed), batch=1)
                if _finished(ws, rollout_id) is not None:
                    break
            done = wait_for("the rollback", lambda: _finished(ws, rollout_id), timeout=30)
            assert done.status == "rolled_back", done.reason
            assert done.reason.startswith("guardrail breached: latency_p99: challenger p99"), done.reason
            assert ws.registry.get("credit", "champion").version == 1
    finally:
        http.close()
        out = server.stop()
    assert "Traceback" not in out, out[-4000:]


def test_no_traffic_reaches_the_deadline_action(tmp_path: Path, database_url: str) -> None:
    """(d) nobody calls the model: at the deadline the rollout is rolled back, and says why."""
    root = _workspace(tmp_path, database_url, {"random_state": 1}, deadline="3s")
    server = ServerProcess(root, database_url)
    http = httpx.Client(base_url=server.base_url, timeout=30)
    try:
        server.wait_ready(timeout=120)  # a loaded machine starts slowly
        started = http.post("/v1/admin/models/credit/rollout", json={"version": 2}, headers=AUTH)
        assert started.status_code == 201, started.text
        with Workspace.open(root, database_url=database_url) as ws:
            done = wait_for(
                "the deadline", lambda: _finished(ws, started.json()["rollout"]["id"]), timeout=30
            )
        assert done.status == "expired"
        assert done.reason.startswith(
            "deadline of 3 s passed without a decision: the sequential test has not"
        )
        assert "0 labeled challenger rows and 0 champion rows so far" in done.reason
        assert "no traffic is not a pass" in done.reason
        assert done.reason.endswith("Rolled back (on_deadline: roll_back): the champion keeps all traffic.")
        status = http.get("/v1/admin/models/credit/rollout", headers=AUTH).json()
        assert status["rollout"]["status"] == "expired" and status["champion"] == 1
    finally:
        http.close()
        out = server.stop()
    assert "Traceback" not in out, out[-4000:]


def test_kill_9_mid_rollout_then_restart_resumes_it(tmp_path: Path, database_url: str) -> None:
    """(e) the same rollout, the same arm for every key, the same sequential test after a crash."""
    root = _workspace(tmp_path, database_url, {"random_state": 1}, margin="0.01")
    server = ServerProcess(root, database_url)
    http = httpx.Client(base_url=server.base_url, timeout=30)
    keys = [f"user-{i}" for i in range(40)]
    try:
        server.wait_ready(timeout=120)  # a loaded machine starts slowly
        started = http.post(
            "/v1/admin/models/credit/rollout", json={"version": 2, "mode": "ab"}, headers=AUTH
        )
        assert started.status_code == 201, started.text
        rollout_id = started.json()["rollout"]["id"]
        before = {k: _served(http, k) for k in keys}
        assert set(before.values()) == {1, 2}
        send(http, traffic(200, seed=70), batch=5)
        with Workspace.open(root, database_url=database_url) as ws:
            looked = wait_for(
                "a look of the sequential test",
                lambda: (r := ws.rollouts.get(rollout_id)).test and r.test["sprt"]["looks"] >= 1 and r,
            )
    finally:
        http.close()
    server.kill9()
    saved = looked.test["sprt"]
    assert looked.status == "running" and saved["decision"] == "continue"

    again = ServerProcess(root, database_url)
    http = httpx.Client(base_url=again.base_url, timeout=30)
    try:
        again.wait_ready(timeout=120)
        assert {k: _served(http, k) for k in keys} == before  # sticky across the restart
        send(http, traffic(100, seed=71), batch=5)
        with Workspace.open(root, database_url=database_url) as ws:
            # A look comes with any newly labeled row, so the first look after the restart may have
            # seen new rows of one arm only: wait until both arms have grown.
            resumed = wait_for(
                "the resumed test's looks at new rows of both arms",
                lambda: _grew((r := ws.rollouts.get(rollout_id)).test["sprt"], saved) and r,
            )
            assert resumed.id == rollout_id and resumed.active
            assert resumed.test["sprt"]["tau_"] == saved["tau_"]  # the same test, not a new one
            assert resumed.test["sprt"]["looks"] > saved["looks"]  # counted on from the saved looks
            assert _kinds(ws) == ["rollout_started"]  # nothing decided twice, nothing restarted
    finally:
        http.close()
        out = again.stop()
    assert "Traceback" not in out, out[-4000:]
