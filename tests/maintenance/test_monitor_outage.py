"""The monitor loop keeps going through a PostgreSQL outage and catches up afterwards."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from maintenance.conftest import CONFIG, T0, Logger, Trained, data, register
from modelward import Workspace
from modelward.maintenance import Monitor, MonitorPass
from modelward.predlog import parse_window
from support.pg import BreakablePostgres


def _wait(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_loop_survives_a_database_outage(
    breakable_pg: BreakablePostgres, trained: dict[str, Trained], tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    with Workspace.init(root, config=CONFIG, database_url=breakable_pg.url) as ws:
        register(ws, trained["credit"])
    ws = Workspace.open(root, database_url=breakable_pg.url)
    logger = Logger(ws, trained, tmp_path / "spool")
    passes: list[MonitorPass] = []
    stop = threading.Event()
    monitor = Monitor(ws, "credit", window=parse_window("1h"))
    loop = threading.Thread(
        target=monitor.run_forever, kwargs={"interval": 0.2, "stop": stop, "on_pass": passes.append}
    )
    try:
        logger.log("credit", data(100, 1), T0, spacing_s=10)
        loop.start()
        _wait(lambda: any(p.windows for p in passes))
        breakable_pg.down()
        seen = len(passes)
        time.sleep(1.5)  # several passes fail meanwhile
        assert len(passes) == seen and loop.is_alive()
        breakable_pg.up()
        logger.log("credit", data(100, 2), T0 + dt.timedelta(hours=1), spacing_s=10)
        _wait(lambda: len(ws.monitoring_results.runs("credit")) == 2)
        assert [r.n_rows for r in ws.monitoring_results.runs("credit")] == [100, 100]
    finally:
        stop.set()
        if loop.is_alive():
            loop.join(30)
        logger.close()
        ws.close()
    assert not loop.is_alive()


def test_a_bug_in_a_pass_is_raised_not_reported_as_an_outage(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    """A query the database refuses (here: a table gone) is a bug: it ends the loop with its traceback,
    never "the database is unreachable, retrying" forever (SQLite reports both as OperationalError)."""
    with workspace.store.write() as conn:
        conn.execute(sa.text("DROP TABLE monitoring_metrics"))
        conn.execute(sa.text("DROP TABLE monitoring_runs"))
    monitor = Monitor(workspace, "credit", window=parse_window("1h"))
    stop = threading.Event()
    raised: list[BaseException] = []

    def run() -> None:
        try:
            monitor.run_forever(interval=0.05, stop=stop)
        except BaseException as exc:
            raised.append(exc)

    with caplog.at_level(logging.ERROR, logger="modelward"):
        loop = threading.Thread(target=run)
        loop.start()
        loop.join(20)
        stop.set()
        loop.join(10)
    assert "unreachable" not in caplog.text
    assert len(raised) == 1, "the loop kept going"
    assert isinstance(raised[0], sa.exc.DBAPIError) and "monitoring_runs" in str(raised[0])
