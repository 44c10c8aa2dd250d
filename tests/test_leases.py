"""The loop's lease (ws.leases), on SQLite and PostgreSQL: one holder at a time, takeover of an expired
lease with a new epoch, and the epoch fencing a stale leader's writes (refused, nothing changed)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from modelward import Workspace
from modelward.jobs.lease import Lease, StaleLeaderError, held
from modelward.store.schema import events, loop_state, retrain_jobs

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
TTL = 30.0


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.fixture
def ws(tmp_path: Path, database_url: str) -> Workspace:
    workspace = Workspace.init(tmp_path / "ws", database_url=database_url)
    yield workspace
    workspace.close()


def test_one_holder_until_expiry_then_a_takeover_with_the_next_epoch(ws: Workspace) -> None:
    a = ws.leases.acquire("loop", "a", ttl=TTL, now=T0)
    assert a is not None and (a.holder, a.epoch, a.expires_at) == ("a", 1, at(TTL))
    assert ws.leases.acquire("loop", "b", ttl=TTL, now=at(29.9)) is None  # a's lease runs
    renewed = ws.leases.acquire("loop", "a", ttl=TTL, now=at(20))  # the holder renews, same epoch
    assert renewed is not None and renewed.epoch == 1 and renewed.expires_at == at(50)
    assert ws.leases.acquire("loop", "b", ttl=TTL, now=at(49)) is None
    b = ws.leases.acquire("loop", "b", ttl=TTL, now=at(50))  # expired: b takes it
    assert b is not None and (b.holder, b.epoch, b.acquired_at) == ("b", 2, at(50))
    assert ws.leases.renew(renewed, ttl=TTL, now=at(51)) is None  # a lost it: no renewal
    assert ws.leases.acquire("loop", "a", ttl=TTL, now=at(51)) is None
    assert ws.leases.current("loop") == b
    assert ws.leases.acquire("other", "a", ttl=TTL, now=at(51)) is not None  # leases are per name


def test_the_epoch_only_grows(ws: Workspace) -> None:
    epochs = []
    now = 0.0
    for i in range(6):
        lease = ws.leases.acquire("loop", f"p{i % 3}", ttl=TTL, now=at(now))
        assert lease is not None
        epochs.append(lease.epoch)
        if i % 2:
            assert ws.leases.release(lease, now=at(now + 1))  # a clean stop: the next one takes it at once
            now += 1
        else:
            now += TTL
    assert epochs == [1, 2, 3, 4, 5, 6]
    assert not ws.leases.release(Lease("loop", "p0", 1, T0, T0, T0), now=at(now))  # not current


def test_a_burst_of_acquires_makes_one_leader(ws: Workspace, database_url: str, tmp_path: Path) -> None:
    def race(now: dt.datetime, prefix: str) -> list[Lease]:
        won: list[Lease] = []
        barrier = threading.Barrier(6)

        def attempt(i: int) -> None:
            with Workspace.open(tmp_path / "ws", database_url=database_url) as mine:
                barrier.wait()
                lease = mine.leases.acquire("loop", f"{prefix}{i}", ttl=TTL, now=now)
                if lease is not None:
                    won.append(lease)

        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return won

    first = race(T0, "p")  # nobody held it: an insert race
    assert len(first) == 1 and first[0].epoch == 1
    second = race(at(TTL + 1), "q")  # expired: a conditional-update race among new holders
    assert len(second) == 1 and second[0].epoch == 2
    assert ws.leases.current("loop") == second[0]


def test_leadership_changes_are_events(ws: Workspace) -> None:
    a = ws.leases.acquire("loop", "a", ttl=TTL, now=T0)
    assert a is not None
    ws.leases.acquire("loop", "b", ttl=TTL, now=at(TTL))
    with ws.store.read() as conn:
        rows = conn.execute(
            sa.select(events.c.kind, events.c.actor, events.c.payload)
            .where(events.c.subject_type == "lease")
            .order_by(events.c.id)
        ).all()
    assert [(r.kind, r.actor) for r in rows] == [("loop_leader_elected", "a"), ("loop_leader_elected", "b")]
    assert rows[1].payload["epoch"] == 2
    assert rows[1].payload["previous_holder"] == "a" and rows[1].payload["previous_epoch"] == 1


def test_a_stale_leaders_writes_are_refused_and_change_nothing(ws: Workspace) -> None:
    a = ws.leases.acquire("loop", "a", ttl=TTL, now=T0)
    assert a is not None
    assert held() is None
    with ws.leases.fenced(a):  # while a leads, its writes go through
        assert held() == a and Lease.from_dict(a.to_dict()) == a  # what a training child is handed
        job = ws.jobs.open("credit", trigger="drift", evidence={}, now=T0)
        assert job is not None
        claimed = ws.jobs.claim(job, "a-runner", now=T0, event=("loop_job_started", {}))
        assert claimed is not None
    ws.leases.acquire("loop", "b", ttl=TTL, now=at(TTL + 1))  # a stalled; b took over
    with ws.store.read() as conn:
        events_before = conn.execute(sa.select(sa.func.count()).select_from(events)).scalar()
    with ws.leases.fenced(a):
        with pytest.raises(StaleLeaderError, match=r"a no longer leads .* epoch 1.*held by b \(epoch 2\)"):
            ws.jobs.advance(claimed, now=at(40), status="training", event=("loop_dataset_built", {}))
        with pytest.raises(StaleLeaderError):
            ws.jobs.set_state("credit", "decided", {"drift": "w1"}, now=at(40))
        with pytest.raises(StaleLeaderError):
            ws.jobs.record("credit", "loop_trigger_suppressed", {}, now=at(40))
        with pytest.raises(StaleLeaderError) as refused:
            ws.registry.promote("credit", 1, reason="a stale leader's promotion")
        assert refused.value.details["current_epoch"] == 2 and refused.value.status_code == 409
    with ws.store.read() as conn:
        assert conn.execute(sa.select(retrain_jobs.c.status)).scalar() == "preparing"
        assert conn.execute(sa.select(sa.func.count()).select_from(loop_state)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar() == events_before
    ws.jobs.set_state("credit", "decided", {"drift": "w1"}, now=at(40))  # unfenced: not the loop's


def test_the_fence_holds_this_thread_only(ws: Workspace) -> None:
    a = ws.leases.acquire("loop", "a", ttl=TTL, now=T0)
    assert a is not None
    ws.leases.acquire("loop", "b", ttl=TTL, now=at(TTL))
    outside: list[BaseException | None] = []

    def server_write() -> None:  # e.g. a request of `modelward serve` while its loop thread is fenced
        try:
            ws.jobs.set_state("credit", "x", {"v": 1}, now=T0)
            outside.append(None)
        except BaseException as exc:
            outside.append(exc)

    with ws.leases.fenced(a):
        thread = threading.Thread(target=server_write)
        thread.start()
        thread.join()
    assert outside == [None]


def test_a_takeover_waits_for_the_fenced_write_in_flight(
    ws: Workspace, database_url: str, tmp_path: Path
) -> None:
    """The check and the write are one transaction holding the lease row: no takeover between them."""
    a = ws.leases.acquire("loop", "a", ttl=TTL, now=T0)
    assert a is not None
    checked = threading.Event()
    taken: list[tuple[float, Lease | None]] = []

    def take_over() -> None:
        checked.wait(10)
        started = time.monotonic()
        with Workspace.open(tmp_path / "ws", database_url=database_url) as other:
            lease = other.leases.acquire("loop", "b", ttl=TTL, now=at(TTL + 1))
        taken.append((time.monotonic() - started, lease))

    thread = threading.Thread(target=take_over)
    thread.start()
    with ws.leases.fenced(a), ws.store.write() as conn:  # the check ran: the row is held
        checked.set()
        time.sleep(0.6)
        conn.execute(loop_state.insert().values(model="m", name="n", value={}, updated_at=T0))
    thread.join(30)
    waited, lease = taken[0]
    assert lease is not None and lease.epoch == 2
    assert waited >= 0.4, f"the takeover did not wait for the fenced write ({waited:.2f} s)"
    with ws.store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(loop_state)).scalar() == 1
