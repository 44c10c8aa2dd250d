"""Schema, migrations and the append-only audit log, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from modelward.store import Store
from modelward.store.audit import record_event
from modelward.store.schema import dataset_versions, datasets, events, model_versions, models, utcnow


def test_open_migrates_to_head(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        assert store.current_revision() == store.head_revision() == "0011"
        names = set(sa.inspect(store.engine).get_table_names())
        assert {"datasets", "dataset_versions", "models", "model_versions", "aliases", "events"} <= names
        Store.open(database_url).close()  # opening again is a no-op
        assert store.current_revision() == "0011"
    finally:
        store.close()


def test_the_head_read_from_file_names_is_alembics_head() -> None:
    """Store.head_revision reads the newest numbered file; Alembic, loading every script, must agree, and each
    file's revision is its number, after the one before (one line of history)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import modelward.store as store_module

    cfg = Config()
    cfg.set_main_option("script_location", str(store_module._MIGRATIONS))
    scripts = ScriptDirectory.from_config(cfg)
    assert Store.head_revision() == scripts.get_current_head()
    revisions = sorted(scripts.walk_revisions(), key=lambda r: r.revision)
    assert [Path(r.path).name[:4] for r in revisions] == [r.revision for r in revisions]
    assert [r.down_revision for r in revisions] == [None, *(r.revision for r in revisions[:-1])]


def test_sqlite_uses_wal_and_busy_timeout(tmp_path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'x.db'}", busy_timeout_ms=1234)
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
    store.close()


def test_events_are_append_only(database_url: str) -> None:
    store = Store.open(database_url)
    with store.write() as conn:
        record_event(conn, kind="k", subject_type="model", subject="m", actor="me", payload={"a": 1})
    for statement in (events.update().values(actor="someone else"), events.delete()):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.write() as conn:
            conn.execute(statement)
    with store.read() as conn:
        rows = conn.execute(sa.select(events)).all()
    assert [(r.actor, r.payload) for r in rows] == [("me", {"a": 1})]
    store.close()


def test_upgrade_from_first_revision_keeps_data(database_url: str) -> None:
    """A database made at revision 0001 and filled, upgraded to head, loses nothing."""
    store = Store(database_url)
    store.upgrade("0001")
    assert store.current_revision() == "0001"
    now = utcnow()
    with store.write() as conn:
        conn.execute(datasets.insert().values(id=1, name="d", created_at=now))
        conn.execute(
            dataset_versions.insert().values(
                id=1,
                dataset_id=1,
                version=1,
                content_hash="a" * 64,
                artifact="b" * 64,
                rows=10,
                columns_schema={"x": "numeric"},
                stats={"x": {"mean": 1.5}},
                source="d.csv",
                created_at=now,
                created_by="me",
            )
        )
        conn.execute(
            models.insert().values(id=1, name="m", task="classification", tags={"t": "1"}, created_at=now)
        )
        conn.execute(
            model_versions.insert().values(
                id=1,
                model_id=1,
                version=1,
                artifact="c" * 64,
                serializer="skops",
                flavor="sklearn",
                trusted_types=[],
                signature={"inputs": []},
                input_example=[{"x": 1}],
                params={"p": 2},
                metrics={"accuracy": 0.9},
                lineage={"seed": 0},
                dataset_version_id=1,
                tags={},
                created_at=now,
                created_by="me",
            )
        )
        record_event(
            conn,
            kind="version_registered",
            subject_type="model",
            subject="m",
            actor="me",
            payload={"version": 1},
        )
    store.upgrade()
    assert store.current_revision() == "0011"
    with store.read() as conn:
        dv = conn.execute(sa.select(dataset_versions)).one()
        mv = conn.execute(sa.select(model_versions)).one()
        ev = conn.execute(sa.select(events)).one()
    assert dv.stats == {"x": {"mean": 1.5}} and dv.rows == 10 and dv.columns_schema == {"x": "numeric"}
    assert mv.metrics == {"accuracy": 0.9} and mv.input_example == [{"x": 1}] and mv.params == {"p": 2}
    assert mv.importance is None  # 0009: versions registered before have no importance
    assert ev.payload == {"version": 1}
    assert abs((mv.created_at - now).total_seconds()) < 1e-3
    assert mv.created_at.tzinfo is not None and mv.created_at.utcoffset() == dt.timedelta(0)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.write() as conn:
        conn.execute(events.delete())
    store.close()


def test_unreachable_database_gives_clear_error() -> None:
    from modelward.errors import StoreError

    with pytest.raises(StoreError, match="Cannot reach the database at postgresql"):
        Store.open("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_only_init_creates_a_missing_sqlite_database(tmp_path) -> None:
    """Opening a workspace whose database file is gone refuses, naming the file and the way back."""
    from modelward import Workspace
    from modelward.errors import StoreError

    Workspace.init(tmp_path / "ws").close()
    db = tmp_path / "ws" / ".modelward" / "modelward.db"
    assert db.is_file()
    db.unlink()
    with pytest.raises(StoreError) as info:
        Workspace.open(tmp_path / "ws")
    message = info.value.message
    assert f"The workspace database {db} does not exist." in message
    assert "Restore the file from a backup, or run `modelward init`" in message
    assert not db.exists(), "the refused open must not leave an empty database behind"
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(f"sqlite:///{db}", create=False)
    assert not db.exists()
    with Workspace.init(tmp_path / "ws") as ws:  # init keeps creating it (and the yaml is kept)
        assert ws.store.current_revision() == ws.store.head_revision()
    assert db.is_file()
    Workspace.open(tmp_path / "ws").close()


def test_an_empty_postgresql_database_is_migrated_on_open(tmp_path, pg_url: str) -> None:
    """Creating a PostgreSQL database is its administrator's job; an empty one is brought to head."""
    from modelward import Workspace

    (tmp_path / "modelward.yaml").write_text("models: {}\n")
    with Workspace.open(tmp_path, database_url=pg_url) as ws:
        assert ws.store.current_revision() == ws.store.head_revision()
    assert not (tmp_path / ".modelward" / "modelward.db").exists()


def test_predictions_logged_before_0010_read_back_with_no_context(database_url: str) -> None:
    """0010 adds ``predictions.context``: a prediction logged before it reads back with none."""
    from modelward.predlog import read_predictions, read_window
    from modelward.store.schema import predictions

    store = Store(database_url)
    store.upgrade("0009")
    before = sa.table(
        "predictions",
        *(sa.column(c.name, c.type) for c in predictions.columns if c.name != "context"),
    )
    with store.write() as conn:
        conn.execute(
            before.insert().values(
                id="0190a0b0-0000-7000-8000-000000000001",
                ts=utcnow(),
                model="m",
                version=1,
                features={"x": 1.5},
                prediction=1,
                latency_ms=2.0,
            )
        )
    store.upgrade()
    assert store.current_revision() == "0011"
    assert read_predictions(store, "m")["context"].tolist() == [None]
    window = read_window(store, "m")
    assert window.features.to_dict("records") == [{"x": 1.5}] and window.context.shape == (1, 0)
    store.close()
