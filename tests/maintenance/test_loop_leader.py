"""One leader among loops sharing a database (in process, on a simulated clock, SQLite and PostgreSQL):
only the lease holder runs a pass; an expired lease is taken over; a leader that lost the lease in the
middle of a pass has its next write refused and stops at once, having changed nothing more."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from modelward import Workspace
from modelward.errors import ConfigError
from modelward.jobs.lease import Lease
from modelward.maintenance import Loop
from modelward.store.schema import events, loop_state

from .loop_support import kinds, make_loop_workspace

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
TTL = 30.0


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.fixture
def ws(tmp_path: Path, database_url: str) -> Workspace:
    root = make_loop_workspace(tmp_path / "ws", database_url, "      schedule: {cron: '0 3 * * *'}\n")
    with Workspace.open(root) as workspace:
        yield workspace


def _schedule_written(ws: Workspace) -> dt.datetime | None:
    """When a pass last wrote the schedule trigger's state (each leader's pass does)."""
    with ws.store.read() as conn:
        return conn.execute(
            sa.select(loop_state.c.updated_at).where(loop_state.c.name == "schedule")
        ).scalar()


def test_only_the_lease_holder_runs_a_pass(ws: Workspace) -> None:
    a = Loop(ws, holder="host-a:1:x", monitor=False)
    b = Loop(ws, holder="host-b:2:y", monitor=False)
    first = a.run_once(T0)
    assert first.leading and first.leader["lease"]["epoch"] == 1
    assert _schedule_written(ws) == T0
    follower = b.run_once(at(10))
    assert not follower.leading and follower.leader["lease"]["holder"] == "host-a:1:x"
    assert _schedule_written(ws) == T0  # b did nothing
    assert a.run_once(at(20)).leading  # a renews: leads until at(50)
    assert not b.run_once(at(49)).leading
    took = b.run_once(at(50))  # a was not heard of for a TTL: b takes over
    assert took.leading and took.leader["lease"]["epoch"] == 2
    assert _schedule_written(ws) == at(50)
    assert not a.run_once(at(51)).leading and not a.leader.leading
    assert _schedule_written(ws) == at(50)
    with ws.store.read() as conn:
        elected = conn.execute(
            sa.select(events.c.actor, events.c.payload)
            .where(events.c.kind == "loop_leader_elected")
            .order_by(events.c.id)
        ).all()
    assert [(e.actor, e.payload["epoch"], e.payload["previous_holder"]) for e in elected] == [
        ("host-a:1:x", 1, None),
        ("host-b:2:y", 2, "host-a:1:x"),
    ]


def test_a_leader_that_lost_the_lease_mid_pass_stops_at_once(ws: Workspace) -> None:
    job = ws.jobs.open("credit", trigger="manual", evidence={}, now=T0)  # queued for the loop
    assert job is not None

    def stall(message: str) -> None:  # a stalls past its TTL just as it starts the job; b takes over
        if "building the training data" in message:
            assert ws.leases.acquire("loop", "host-b:2:y", ttl=TTL, now=at(TTL + 1)) is not None

    a = Loop(ws, holder="host-a:1:x", monitor=False, progress=stall)
    done = a.run_once(T0)
    assert not done.leading and not a.leader.leading  # it noticed, and stopped acting
    after = ws.jobs.get(job.id)
    assert after.status == "preparing" and after.attempt == 1  # claimed while leading, nothing after
    assert after.dataset_version_id is None and after.finished_at is None
    assert [d.name for d in ws.datasets.list_datasets()] == ["agrawal"]  # its training set was refused too
    assert kinds(ws)[-1] == "loop_job_started"  # no failure recorded by a stale leader
    assert ws.leases.current("loop").holder == "host-b:2:y"


def test_the_lease_settings_are_checked(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    Workspace.init(root).close()
    with pytest.raises(
        ConfigError, match=r"loop\.lease.*renew_seconds \(30\) must be below ttl_seconds \(30\)"
    ):
        Workspace.open(root, loop={"lease": {"ttl_seconds": 30, "renew_seconds": 30}})


@pytest.mark.slow
def test_the_training_child_of_a_replaced_leader_registers_nothing(ws: Workspace, tmp_path: Path) -> None:
    """The leader hands its lease to the training subprocess, which fences its own writes with it."""
    a = ws.leases.acquire("loop", "host-a:1:x", ttl=TTL, now=T0)
    assert a is not None
    features = [f for f in ws.registry.get("credit", 1).lineage["features"] if f != "zipcode"]
    request = {"model": "credit", "dataset": "agrawal@1", "features": features, "weight_column": None}

    def child(lease: Lease) -> tuple[int, dict[str, object]]:
        spec = {
            "root": str(ws.root),
            "database_url": ws.store.url,
            "artifacts": ws.artifacts.location,
            "request": {**request, "description": "a challenger"},
            "lease": lease.to_dict(),
        }
        result = tmp_path / f"result-{lease.epoch}.json"
        done = subprocess.run(
            [sys.executable, "-m", "modelward.maintenance._train_child", str(result), str(os.getpid())],
            input=json.dumps(spec),
            text=True,
            capture_output=True,
            timeout=120,
        )
        return done.returncode, json.loads(result.read_text())

    b = ws.leases.acquire("loop", "host-b:2:y", ttl=TTL, now=at(TTL + 1))
    assert b is not None
    code, out = child(a)  # a was replaced while its child trained
    assert code == 2 and "host-a:1:x no longer leads (lease 'loop')" in str(out["error"]), out
    assert [v.version for v in ws.registry.versions("credit")] == [1]
    code, out = child(b)  # the current leader's child registers
    assert code == 0 and out["result"]["version"] == 2, out  # type: ignore[index]
