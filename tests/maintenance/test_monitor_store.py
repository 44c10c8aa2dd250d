"""Migration 0004 (monitoring results) on SQLite and PostgreSQL; window parsing and keys."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from modelward.errors import ConfigError
from modelward.predlog import Window, WindowSpec, parse_window, read_window
from modelward.store import Store
from modelward.store.schema import feedback, monitoring_metrics, monitoring_runs, predictions, utcnow


def test_upgrade_from_0003_keeps_the_prediction_log(database_url: str) -> None:
    store = Store(database_url)
    try:
        store.upgrade("0003")
        ts = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
        with store.write() as conn:
            conn.execute(
                predictions.insert().values(
                    id="p1",
                    ts=ts,
                    model="m",
                    version=2,
                    arm="a",
                    routing_key_hash="h",
                    features={"x": 1.5, "c": "z"},
                    prediction=1,
                    probabilities=[0.25, 0.75],
                    latency_ms=3.5,
                )
            )
            conn.execute(feedback.insert().values(prediction_id="p1", label=1, ts=ts, updated_at=ts))
        store.upgrade()
        assert store.current_revision() == store.head_revision()
        with store.read() as conn:
            p = conn.execute(sa.select(predictions)).one()
            f = conn.execute(sa.select(feedback)).one()
        assert (p.id, p.ts, p.model, p.version, p.features, p.prediction, p.probabilities, p.latency_ms) == (
            "p1",
            ts,
            "m",
            2,
            {"x": 1.5, "c": "z"},
            1,
            [0.25, 0.75],
            3.5,
        )
        assert (f.label, f.ts) == (1, ts)
        assert "ix_feedback_updated_at" in {
            i["name"] for i in sa.inspect(store.engine).get_indexes("feedback")
        }
        now = utcnow()
        with store.write() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO monitoring_references (id, model, version, artifact, format, details, created_at) "
                    "VALUES (1, 'm', 2, :a, 'f', '{}', :now)"
                ),
                {"a": "a" * 64, "now": now},
            )
            run = conn.execute(
                monitoring_runs.insert().values(
                    model="m",
                    version=2,
                    window_spec="time:60/60",
                    start_ts=ts,
                    end_ts=ts,
                    start_id="",
                    end_id="",
                    n_rows=1,
                    n_labeled=1,
                    dataset_drift=0,
                    drifted_share=0.0,
                    report={"k": [1]},
                    reference_id=1,
                    created_at=now,
                    updated_at=now,
                    labels_as_of=now,
                )
            ).inserted_primary_key
            assert run is not None
            conn.execute(
                monitoring_metrics.insert().values(run_id=run[0], kind="realized", name="accuracy", value=1.0)
            )
        with pytest.raises(sa.exc.IntegrityError), store.write() as conn:  # one row per window
            conn.execute(
                monitoring_runs.insert().values(
                    model="m",
                    version=2,
                    window_spec="time:60/60",
                    start_ts=ts,
                    end_ts=ts,
                    start_id="",
                    end_id="",
                    n_rows=1,
                    n_labeled=1,
                    dataset_drift=0,
                    report={},
                    reference_id=1,
                    created_at=now,
                    updated_at=now,
                    labels_as_of=now,
                )
            )
        with store.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(predictions)).scalar() == 1
    finally:
        store.close()


@pytest.mark.parametrize(
    ("window", "slide", "key"),
    [
        ("1h", None, "time:3600/3600"),
        ("15m", "5m", "time:900/300"),
        ("90s", None, "time:90/90"),
        ("2d", "1d", "time:172800/86400"),
        ("5000", None, "count:5000/5000"),
        (5000, 1000, "count:5000/1000"),
        ("0.5m", None, "time:30/30"),
    ],
)
def test_parse_window(window: str | int, slide: str | int | None, key: str) -> None:
    assert parse_window(window, slide).key == key


@pytest.mark.parametrize(
    ("window", "slide", "message"),
    [
        ("1w", None, "duration like 30s"),
        ("0", None, "at least 1 row"),
        ("1h", "100", "unit of --window"),
        ("1h", "2h", "must not be longer"),
        ("0.5s", None, "whole number of seconds"),
        ("-5", None, "duration"),
    ],
)
def test_parse_window_errors_say_what_to_write(window: str, slide: str | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_window(window, slide)


@pytest.mark.parametrize("spec", [parse_window("1h"), parse_window("15m", "5m"), parse_window(5000, 1000)])
def test_window_keys_name_their_spec(spec: WindowSpec) -> None:
    assert WindowSpec.from_key(spec.key) == spec


def test_a_window_key_that_is_no_key_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="not of the form time:SIZE/STEP"):
        WindowSpec.from_key("hourly")


def test_a_planned_window_is_read_without_other_bounds(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/m.db")
    try:
        store.upgrade()
        window = Window(parse_window("1h"), 1, utcnow(), utcnow())
        assert len(read_window(store, "m", window)) == 0
        with pytest.raises(ValueError, match="either a window or explicit bounds"):
            read_window(store, "m", window, version=1)
    finally:
        store.close()
