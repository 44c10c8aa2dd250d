"""The writer thread: group commit, sync and async durability, draining, bad records."""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from predlog_helpers import make_record, stored_ids

from modelward.errors import DataError
from modelward.predlog import LogUnavailableError, PredictionLog
from modelward.store import Store


def test_concurrent_submits_are_group_committed(store: Store, database_url: str, spool_dir: Path) -> None:
    commits: list[int] = []
    plog = PredictionLog(store, spool_dir=spool_dir, on_commit=lambda n, seconds: commits.append(n))
    plog.start()

    def client(k: int) -> list[str]:
        ids = []
        for i in range(60):
            record = make_record(i=i)
            plog.submit([record]).result(timeout=10)
            ids.append(record.id)
        return ids

    with ThreadPoolExecutor(16) as pool:
        acked = [i for ids in pool.map(client, range(16)) for i in ids]
    plog.close()
    assert sorted(stored_ids(database_url)) == sorted(acked)
    assert sum(commits) == len(acked) == 960
    # 16 clients, each waiting on its own record: the writer merges them.
    assert len(commits) < len(acked) / 2, commits
    assert max(commits) > 2


def test_sync_future_resolves_only_when_rows_are_visible_elsewhere(
    store: Store, database_url: str, spool_dir: Path
) -> None:
    plog = PredictionLog(store, spool_dir=spool_dir)
    early = make_record()
    future = plog.submit([early])
    time.sleep(0.05)
    assert not future.done()  # no writer yet: nothing is durable, nothing acknowledged
    assert stored_ids(database_url) == []
    plog.start()
    future.result(timeout=10)
    assert stored_ids(database_url) == [early.id]
    for i in range(10):
        batch = [make_record(i=i), make_record(i=i)]
        plog.submit(batch).result(timeout=10)
        visible = set(stored_ids(database_url))  # a new connection, right after the ack
        assert {r.id for r in batch} <= visible
    assert plog.queue_depth == 0
    plog.close()


def test_async_answers_at_once_and_flush_makes_durable(
    store: Store, database_url: str, spool_dir: Path
) -> None:
    plog = PredictionLog(store, spool_dir=spool_dir, durability="async")
    records = [make_record(i=i) for i in range(5)]
    future = plog.submit(records)
    assert future.done() and future.exception() is None
    assert plog.queue_depth == 5
    plog.start()
    plog.flush(timeout=10)
    assert plog.queue_depth == 0
    assert sorted(stored_ids(database_url)) == sorted(r.id for r in records)
    plog.close()


def test_close_drains_the_queue_in_batches(store: Store, database_url: str, spool_dir: Path) -> None:
    commits: list[int] = []
    plog = PredictionLog(
        store,
        spool_dir=spool_dir,
        durability="async",
        max_batch=500,
        on_commit=lambda n, s: commits.append(n),
    )
    records = [make_record(i=i) for i in range(3000)]
    for start in range(0, 3000, 30):
        plog.submit(records[start : start + 30])
    plog.start()
    plog.close()
    assert sorted(stored_ids(database_url)) == sorted(r.id for r in records)
    assert max(commits) <= 500 and sum(commits) == 3000
    with pytest.raises(LogUnavailableError, match="closed"):
        plog.submit([make_record()]).result(timeout=1)


def test_records_round_trip_with_numpy_values_and_nan(store: Store, spool_dir: Path) -> None:
    plog = PredictionLog(store, spool_dir=spool_dir)
    plog.start()
    record = make_record(
        "np",
        features={"a": np.float32(1.5), "b": float("nan"), "c": np.int64(7), "v": np.arange(3)},
        prediction=np.int64(1),
        probabilities=list(np.array([0.25, 0.75])),
        arm="challenger",
        routing_key_hash="ab" * 32,
    )
    plog.submit([record]).result(timeout=10)
    plog.close()
    row = PredictionLog.read(store, "np").iloc[0]
    assert row["features"] == {"a": 1.5, "b": None, "c": 7, "v": [0, 1, 2]}
    assert row["prediction"] == 1 and row["probabilities"] == [0.25, 0.75]
    assert (row["arm"], row["routing_key_hash"], row["version"]) == ("challenger", "ab" * 32, 1)
    assert row["ts"] == record.ts


def test_unloggable_records_fail_their_own_submit(store: Store, spool_dir: Path) -> None:
    plog = PredictionLog(store, spool_dir=spool_dir)
    plog.start()
    naive = make_record(ts=dt.datetime(2024, 1, 1))
    with pytest.raises(DataError, match=r"naive timestamp 2024-01-01T00:00:00; give an aware one"):
        plog.submit([naive]).result(timeout=10)
    odd = make_record(features={"x": object()})
    with pytest.raises(DataError, match=r"cannot be logged: .*must be JSON values"):
        plog.submit([odd]).result(timeout=10)
    plog.close()


def test_a_record_the_database_refuses_fails_only_its_submission(pg_url: str, tmp_path: Path) -> None:
    """PostgreSQL refuses NUL in text; the other submissions of the same batch still commit."""
    store = Store.open(pg_url)
    plog = PredictionLog(store, spool_dir=tmp_path / "spool")
    good = [make_record(i=i) for i in range(3)]
    futures = [plog.submit([good[0]]), plog.submit([make_record("bad\x00name")]), plog.submit(good[1:])]
    plog.start()  # all three are queued: one batch
    futures[0].result(timeout=10)
    futures[2].result(timeout=10)
    with pytest.raises(DataError, match="Prediction records could not be stored: .*NUL"):
        futures[1].result(timeout=10)
    plog.close()
    assert sorted(stored_ids(pg_url)) == sorted(r.id for r in good)
    store.close()


def test_bad_parameters_are_refused(store: Store, spool_dir: Path) -> None:
    with pytest.raises(ValueError, match="durability must be 'sync' or 'async', got 'fast'"):
        PredictionLog(store, spool_dir=spool_dir, durability="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_batch >= 1"):
        PredictionLog(store, spool_dir=spool_dir, max_batch=0)
