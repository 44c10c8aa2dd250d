"""The loop end to end: `modelward serve` as a subprocess (the loop inside it) over HTTP, on SQLite and
PostgreSQL — drift → retrain → gate → promote served without a restart; a burst of triggers makes one job
and the cooldown holds; a crash, a timeout and a worse challenger leave the champion, each recorded item by
item; kill -9 mid-job and a restart resume the job without a duplicate."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from modelward import Workspace
from server.process import ServerProcess

from .loop_support import AUTH, events, kinds, make_loop_workspace, send, set_mode, traffic, wait_for

pytestmark = pytest.mark.slow  # subprocess servers and training children, 10-70 s each


def _champion(http: httpx.Client) -> int:
    row = traffic(1, seed=99).drop(columns=["approved"]).to_dict(orient="records")
    answer = http.post("/v1/models/credit/predict", json={"instances": row})
    assert answer.status_code == 200, answer.text
    return int(answer.json()["version"])


def _retrain(http: httpx.Client, **body: object) -> httpx.Response:
    return http.post("/v1/admin/models/credit/retrain", json=body, headers=AUTH)


def _history(root: Path, database_url: str) -> list[dict[str, object]]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelward",
            "models",
            "history",
            "credit",
            "--json",
            "-w",
            str(root),
            "--database-url",
            database_url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_drift_retrains_gates_promotes_and_a_burst_makes_one_job(tmp_path: Path, database_url: str) -> None:
    root = make_loop_workspace(tmp_path / "ws", database_url)
    server = ServerProcess(root, database_url)
    http = httpx.Client(base_url=server.base_url, timeout=30)
    try:
        server.wait_ready()
        with Workspace.open(root, database_url=database_url) as ws:
            send(http, traffic(200, seed=2))  # one quiet window
            send(http, traffic(600, seed=3, drifted=True))  # concept and covariate drift
            job = wait_for(
                "the loop's job to end",
                lambda: next((j for j in ws.jobs.latest("credit") if not j.active), None),
                timeout=120,
            )
            assert job.status == "promoted", (
                json.dumps(job.gate, indent=1)[:6000],
                job.evidence,
                server._read_output()[-3000:],
            )
            assert wait_for("v2 to be served", lambda: _champion(http) == 2, timeout=10)
            assert len(ws.jobs.latest("credit")) == 1  # several windows held a trigger: one job
            assert job.trigger in ("drift", "performance") and job.challenger_version == 2
            fired = events(ws, "loop_trigger_fired")
            assert len(fired) == 1 and {s["trigger"] for s in fired[0]["signals"]} >= {"performance"}
            gate = events(ws, "loop_gate_decided")[0]
            assert gate["promote"] and {i["section"] for i in gate["items"]} >= {
                "recent rows",
                "original test set",
                "behavioral",
            }
            built = events(ws, "loop_dataset_built")[0]
            assert built["holdout_rows"] >= 100 and built["production_rows"] >= 100

            # Within the cooldown a burst of manual triggers opens nothing; with force, exactly one job.
            with ThreadPoolExecutor(10) as pool:
                cooled = list(pool.map(lambda _: _retrain(http), range(10)))
            assert {r.status_code for r in cooled} == {200}
            assert {r.json()["suppressed_by"] for r in cooled} == {"cooldown"}
            with ThreadPoolExecutor(10) as pool:
                forced = list(pool.map(lambda _: _retrain(http, force=True, reason="burst"), range(10)))
            assert sorted(r.status_code for r in forced) == [200] * 9 + [202], [r.text for r in forced]
            assert {r.json()["suppressed_by"] for r in forced if r.status_code == 200} == {"active_job"}
            assert len(ws.jobs.latest("credit")) == 2
            assert kinds(ws).count("loop_trigger_suppressed") >= 19
    finally:
        http.close()
        out = server.stop()
    assert "Traceback" not in out, out[-4000:]
    with Workspace.open(root, database_url=database_url) as ws:
        jobs = ws.jobs.latest("credit")
        assert len(jobs) == 2 and all(j.status != "queued" or j.attempt == 0 for j in jobs)
    entries = _history(root, database_url)
    assert any(e.get("kind") == "alias_set" and e.get("to_version") == 2 for e in entries)
    gate = next(e for e in entries if e.get("kind") == "loop_gate_decided")
    assert any(line.startswith("PASS  recent rows: accuracy") for line in gate["evidence"])  # type: ignore[union-attr]


def test_crash_timeout_and_worse_challenger_leave_the_champion(tmp_path: Path, database_url: str) -> None:
    root = make_loop_workspace(tmp_path / "ws", database_url, "      cooldown: 1h\n")
    (root / "modelward.yaml").write_text(
        (root / "modelward.yaml").read_text().replace("time_limit: 60", "time_limit: 20")
    )
    server = ServerProcess(root, database_url)
    http = httpx.Client(base_url=server.base_url, timeout=30)
    try:
        server.wait_ready()
        send(http, traffic(300, seed=4))
        with Workspace.open(root, database_url=database_url) as ws:

            def run(mode: str, **body: object) -> object:
                set_mode(root, mode)
                answer = _retrain(http, **body)
                assert answer.status_code == 202, answer.text
                job_id = answer.json()["job"]["id"]
                return wait_for(
                    f"job {job_id} ({mode})",
                    lambda: (j := ws.jobs.get(job_id)) and not j.active and j,
                    timeout=90,
                )

            crashed = run("crash")
            assert crashed.status == "failed" and "boom: the training code crashed" in crashed.error
            timed_out = run("sleep 60", force=True)
            assert timed_out.status == "timed_out" and "time limit of 20 s" in timed_out.error
            worse = run("worse", force=True)
            assert worse.status == "rejected" and worse.challenger_version is not None
            failed = [i for i in worse.gate["items"] if i["judged"] and not i["passed"]]
            names = {(i["section"], i["name"]) for i in failed}
            assert {
                ("recent rows", "accuracy"),
                ("behavioral", "a fifty-year-old on a middle salary is declined"),
            } <= names
            assert all(i["reason"] for i in worse.gate["items"])
            assert ws.registry.get("credit", "champion").version == 1
            assert _champion(http) == 1
            failures = events(ws, "loop_training_failed")
            assert "RuntimeError: boom" in failures[0]["log_tail"] and failures[0]["log_artifact"]
            assert ws.artifacts.get(failures[0]["log_artifact"])  # the whole log is kept
            assert events(ws, "loop_training_timed_out")[0]["time_limit_s"] == 20
            assert "loop_rejected" in kinds(ws)
    finally:
        http.close()
        out = server.stop()
    assert "Traceback" not in out, out[-3000:]


def _training_children(parent: int) -> list[int]:
    """Training subprocesses whose parent was ``parent`` (by their command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"modelward.maintenance._train_child" in cmd and cmd[-2:-1] == [str(parent).encode()]:
            found.append(int(entry.name))
    return found


def test_kill_9_mid_job_then_restart_resumes_without_a_duplicate(tmp_path: Path, database_url: str) -> None:
    root = make_loop_workspace(tmp_path / "ws", database_url)
    set_mode(root, "sleep 30")
    server = ServerProcess(root, database_url)
    http = httpx.Client(base_url=server.base_url, timeout=30)
    try:
        server.wait_ready()
        send(http, traffic(300, seed=5))
        assert _retrain(http, reason="kill test").status_code == 202
        with Workspace.open(root, database_url=database_url) as ws:
            wait_for("training to start", lambda: "loop_training_started" in kinds(ws), timeout=60)
        wait_for("the training child", lambda: _training_children(server.proc.pid), timeout=30)
    finally:
        http.close()
    server.kill9()
    wait_for(
        "the training child to die with the server",
        lambda: not _training_children(server.proc.pid),
        timeout=10,
    )
    with Workspace.open(root, database_url=database_url) as ws:
        stuck = ws.jobs.active("credit")
        assert stuck is not None and stuck.status == "training" and stuck.attempt == 1

    set_mode(root, "good")
    again = ServerProcess(root, database_url)
    try:
        again.wait_ready()
        with Workspace.open(root, database_url=database_url) as ws:
            job = wait_for(
                "the resumed job to end",
                lambda: (j := ws.jobs.get(stuck.id)) and not j.active and j,
                timeout=120,
            )
            assert job.status in ("promoted", "rejected") and job.attempt == 2
            assert len(ws.jobs.latest("credit")) == 1
            assert [v.version for v in ws.registry.versions("credit")] == [1, 2]  # one challenger, not two
            assert ws.registry.get("credit", "champion").version == (2 if job.status == "promoted" else 1)
            resumed = events(ws, "loop_job_resumed")
            assert len(resumed) == 1 and resumed[0]["status"] == "training"
            assert resumed[0]["previous_owner"].split(":")[1] == str(server.proc.pid)
    finally:
        out = again.stop()
    assert "Traceback" not in out, out[-4000:]
