"""The store's error boundary, on SQLite and PostgreSQL: outages become DatabaseUnavailableError (503,
naming the database, password masked, saying what to check, the original as ``__cause__``); what the
database refused for what a query says stays the SQLAlchemy error it is; a unique key lost to a
concurrent writer is retried by the one allocation helper, and a ConflictError when retries run out."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from modelward.errors import ConflictError, DatabaseUnavailableError, StoreError
from modelward.predlog._log import is_unavailable as predlog_is_unavailable
from modelward.store import Store, is_unavailable, retry_allocation
from modelward.store.schema import dataset_versions, datasets, utcnow
from support.pg import BreakablePostgres


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    yield opened
    opened.close()


def _select_one(store: Store) -> None:
    with store.read() as conn:
        conn.execute(sa.text("SELECT 1"))


def test_a_role_locked_out_of_postgresql_is_a_database_unavailable_error(
    breakable_pg: BreakablePostgres,
) -> None:
    store = Store.open(breakable_pg.url)
    try:
        _select_one(store)
        breakable_pg.down()
        for use in (store.read, store.write):
            with pytest.raises(DatabaseUnavailableError) as info, use() as conn:
                conn.execute(sa.text("SELECT 1"))
            err = info.value
            assert (
                isinstance(err, StoreError) and err.status_code == 503 and err.code == "database_unavailable"
            )
            assert err.message.startswith(
                f"The database {sa.engine.make_url(breakable_pg.url)} is unavailable: "
            )
            assert f'role "{breakable_pg.role}" is not permitted to log in' in err.message
            assert (
                "Check that the server is running and reachable from here, that the role may log in"
                in err.message
            )
            assert isinstance(err.__cause__, sa.exc.OperationalError) and err.reason in err.message
            assert is_unavailable(err) and predlog_is_unavailable(err) and is_unavailable(err.__cause__)
        breakable_pg.up()
        _select_one(store)  # the same store works again once the database is back
    finally:
        store.close()


def test_the_password_is_masked_and_the_server_named() -> None:
    url = "postgresql+psycopg://writer:s3cret-pw@127.0.0.1:1/prod?connect_timeout=2"  # nothing listens on 1
    store = Store(url)
    try:
        with pytest.raises(DatabaseUnavailableError) as info:
            _select_one(store)
    finally:
        store.close()
    message = info.value.message
    assert message.startswith(
        "The database postgresql+psycopg://writer:***@127.0.0.1:1/prod?connect_timeout=2 "
    )
    assert "s3cret-pw" not in message and "s3cret-pw" not in str(info.value.details)
    assert "127.0.0.1" in info.value.reason and "port 1" in info.value.reason


def test_a_locked_sqlite_database_is_a_database_unavailable_error(tmp_path: Path) -> None:
    path = tmp_path / "mw.db"
    store = Store.open(f"sqlite:///{path}", busy_timeout_ms=50)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        with pytest.raises(DatabaseUnavailableError) as info, store.write() as conn:
            conn.execute(sa.text("SELECT 1"))
        other.execute("ROLLBACK")
        message = info.value.message
        assert message.startswith(f"The SQLite database {path} is unavailable: database is locked.")
        assert "Check that the file exists, that this process may read and write it" in message
        assert isinstance(info.value.__cause__, sa.exc.OperationalError)
        with store.write() as conn:  # the lock is gone: writes go through again
            conn.execute(datasets.insert().values(name="d", created_at=utcnow()))
    finally:
        other.close()
        store.close()


def test_a_deleted_sqlite_file_is_a_database_unavailable_error(tmp_path: Path) -> None:
    path = tmp_path / "mw.db"
    store = Store.open(f"sqlite:///{path}")
    try:
        _select_one(store)
        path.unlink()
        with pytest.raises(DatabaseUnavailableError) as info:
            _select_one(store)
        message = info.value.message  # the reason names the file and says what to do
        assert message.startswith(f"The SQLite database {path} was deleted while in use")
        assert message.endswith("Restore the file and restart.") and message == info.value.reason
        cause = info.value.__cause__
        assert isinstance(cause, sa.exc.OperationalError) and "deleted or replaced" in str(cause.orig)
        assert not path.exists()
    finally:
        store.close()


def test_what_the_database_refuses_for_what_a_query_says_is_not_an_outage(store: Store) -> None:
    """A bug (no such table, a syntax error) or a constraint stays the SQLAlchemy error: a traceback,
    never a "database unavailable" that would send someone to restart a healthy server."""
    with pytest.raises(sa.exc.DBAPIError, match="no_such_table") as info, store.read() as conn:
        conn.execute(sa.text("SELECT * FROM no_such_table"))
    assert not isinstance(info.value, StoreError) and not is_unavailable(info.value)
    with store.write() as conn:
        conn.execute(datasets.insert().values(id=1, name="d", created_at=utcnow()))
    with pytest.raises(sa.exc.IntegrityError), store.write() as conn:
        conn.execute(datasets.insert().values(id=2, name="d", created_at=utcnow()))
    with pytest.raises(ValueError, match="the caller's own"), store.read():
        raise ValueError("the caller's own error passes through")
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(datasets)).scalar() == 1


# -- version allocation --------------------------------------------------------------------------


def _insert_version(conn: sa.Connection, number: int, dataset_id: int = 1) -> None:
    conn.execute(
        dataset_versions.insert().values(
            dataset_id=dataset_id,
            version=number,
            content_hash=f"{number:064d}",
            artifact="a" * 64,
            rows=1,
            columns_schema={},
            stats={},
            created_at=utcnow(),
            created_by="test",
        )
    )


def _racing_attempt(
    store: Store, rival: Store, steal: Callable[[int], bool], tried: list[int]
) -> Callable[[], int]:
    """An allocation whose rival commits the number it read just before it inserts it (when ``steal``)."""

    def attempt() -> int:
        with store.read() as conn:
            number = int(conn.execute(sa.select(sa.func.max(dataset_versions.c.version))).scalar() or 0) + 1
        tried.append(number)
        if steal(len(tried)):
            with rival.write() as conn:  # another connection takes the number first and commits
                _insert_version(conn, number)
        with store.write() as conn:
            _insert_version(conn, number)
        return number

    return attempt


@pytest.fixture
def two_writers(database_url: str) -> Iterator[tuple[Store, Store]]:
    store, rival = Store.open(database_url), Store.open(database_url)
    with store.write() as conn:
        conn.execute(datasets.insert().values(id=1, name="d", created_at=utcnow()))
    yield store, rival
    store.close()
    rival.close()


def test_a_version_number_lost_to_a_concurrent_writer_is_retried(two_writers: tuple[Store, Store]) -> None:
    store, rival = two_writers
    tried: list[int] = []
    number = retry_allocation(_racing_attempt(store, rival, lambda n: n <= 2, tried), what="a version of 'd'")
    assert tried == [1, 2, 3] and number == 3
    with store.read() as conn:
        assert sorted(conn.execute(sa.select(dataset_versions.c.version)).scalars()) == [1, 2, 3]


def test_allocation_gives_up_with_a_conflict_error(two_writers: tuple[Store, Store]) -> None:
    store, rival = two_writers
    tried: list[int] = []
    with pytest.raises(ConflictError) as info:
        retry_allocation(
            _racing_attempt(store, rival, lambda n: True, tried), what="a version of 'd'", attempts=4
        )
    assert tried == [1, 2, 3, 4] and info.value.status_code == 409
    assert info.value.message.startswith("Could not allocate a version of 'd' after 4 attempts")
    assert isinstance(info.value.__cause__, sa.exc.IntegrityError)


def test_an_integrity_error_that_is_no_race_is_not_retried(two_writers: tuple[Store, Store]) -> None:
    store, _ = two_writers
    calls = []

    def attempt() -> None:
        calls.append(1)
        with store.write() as conn:
            _insert_version(conn, 1, dataset_id=999)  # no such dataset: a foreign key, not a lost race

    with pytest.raises(sa.exc.IntegrityError):
        retry_allocation(attempt, what="a version of 'd'")
    assert len(calls) == 1


_DATASET_WORKER = textwrap.dedent(
    """
    import sys, time
    import pandas as pd
    from modelward.artifacts import ArtifactStore
    from modelward.datasets import DatasetStore
    from modelward.store import Store
    url, artifacts, start, worker, n = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    store = Store.open(url)
    ds = DatasetStore(store, ArtifactStore(artifacts), actor=f"worker{worker}")
    frames = [pd.DataFrame({"worker": [worker] * 3, "i": [i, i, i]}) for i in range(n)]
    frames.append(pd.DataFrame({"worker": [-1] * 3, "i": [0, 0, 0]}))  # the same content in every worker
    while time.time() < start:
        time.sleep(0.001)
    for frame in frames:
        dv = ds.add_frame(frame, "shared")
        print(dv.version, int(dv.created), flush=True)
    store.close()
    """
)


def test_concurrent_dataset_versions_get_distinct_numbers(database_url: str, tmp_path: Path) -> None:
    """Four processes add versions of one dataset at the same moment: on PostgreSQL they race for the
    dataset row, the numbers and the shared content, and the allocation helper sorts it out."""
    Store.open(database_url).close()
    script = tmp_path / "worker.py"
    script.write_text(_DATASET_WORKER)
    start = time.time() + 2.0
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(script),
                database_url,
                str(tmp_path / "artifacts"),
                str(start),
                str(k),
                "10",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(4)
    ]
    outputs = [p.communicate(timeout=180) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    per_worker = [[tuple(map(int, line.split())) for line in out.splitlines()] for out, _ in outputs]
    created = sorted(version for rows in per_worker for version, new in rows if new)
    assert created == list(range(1, 42))  # 40 distinct frames and the shared one, each once
    shared = [rows[-1] for rows in per_worker]  # every worker's last frame had the same content
    assert len({version for version, _ in shared}) == 1 and sum(new for _, new in shared) == 1
    store = Store.open(database_url)
    with store.read() as conn:
        versions = conn.execute(sa.select(dataset_versions.c.version).order_by(dataset_versions.c.version))
        assert list(versions.scalars()) == list(range(1, 42))
    store.close()
