"""Retrain jobs in the store (ws.jobs), on SQLite and PostgreSQL: one active job per model held by the
database, fencing of a runner that lost its job, events with every change, the loop's small state."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from modelward import Workspace
from modelward.jobs import LostJobError
from modelward.store.schema import retrain_jobs

NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


@pytest.fixture
def ws(tmp_path: Path, database_url: str) -> Workspace:
    workspace = Workspace.init(tmp_path / "ws", database_url=database_url)
    yield workspace
    workspace.close()


def test_a_burst_of_opens_makes_one_active_job(ws: Workspace, database_url: str, tmp_path: Path) -> None:
    opened: list[int] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        with Workspace.open(tmp_path / "ws", database_url=database_url) as mine:
            barrier.wait()
            job = mine.jobs.open("credit", trigger="manual", evidence={}, now=NOW)
            if job is not None:
                opened.append(job.id)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(opened) == 1
    assert ws.jobs.active("credit").id == opened[0]
    assert ws.jobs.open("other", trigger="drift", evidence={}, now=NOW) is not None  # per model
    # The index is the database's: a raw second insert is refused too.
    with pytest.raises(sa.exc.IntegrityError), ws.store.write() as conn:
        conn.execute(
            retrain_jobs.insert().values(
                model="credit",
                status="queued",
                trigger="manual",
                evidence={},
                attempt=0,
                created_by="x",
                created_at=NOW,
            )
        )


def test_claims_fence_a_runner_that_lost_the_job(ws: Workspace) -> None:
    job = ws.jobs.open("credit", trigger="drift", evidence={"why": "test"}, now=NOW)
    assert job is not None and job.evidence["event"] > 0 and job.status == "queued"
    first = ws.jobs.claim(job, "host:1:a", now=NOW, event=("loop_job_started", {}))
    assert first is not None and first.attempt == 1 and first.status == "preparing"
    assert ws.jobs.claim(job, "host:2:b", now=NOW, event=("loop_job_started", {})) is None  # stale read
    second = ws.jobs.claim(
        first, "host:2:b", now=NOW + dt.timedelta(minutes=5), event=("loop_job_resumed", {})
    )
    assert second is not None and second.attempt == 2
    with pytest.raises(LostJobError, match="taken over by another runner"):
        ws.jobs.advance(first, now=NOW, status="training")
    done = ws.jobs.finish(
        ws.jobs.advance(second, now=NOW, status="training", dataset_version_id=None),
        "failed",
        now=NOW + dt.timedelta(minutes=6),
        error="boom",
        event=("loop_job_failed", {}),
    )
    assert not done.active and ws.jobs.active("credit") is None
    assert ws.jobs.last_finished("credit").id == job.id
    kinds = [e.kind for e in ws.registry.events("credit")]
    assert kinds == ["loop_job_created", "loop_job_started", "loop_job_resumed", "loop_job_failed"]
    assert all(e.payload["job"] == job.id for e in ws.registry.events("credit"))
    assert ws.registry.events("credit")[-1].ts == NOW + dt.timedelta(minutes=6)  # the caller's clock
    assert (
        ws.jobs.open("credit", trigger="manual", evidence={}, now=NOW) is not None
    )  # finished: a new one may open


def test_loop_state_is_upserted(ws: Workspace) -> None:
    assert ws.jobs.state("credit", "decided") is None
    ws.jobs.set_state("credit", "decided", {"drift": "run:1"}, now=NOW)
    ws.jobs.set_state("credit", "decided", {"drift": "run:2"}, now=NOW)
    assert ws.jobs.state("credit", "decided") == {"drift": "run:2"}
