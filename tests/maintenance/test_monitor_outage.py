"""The monitor loop keeps going through a PostgreSQL outage and catches up afterwards."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

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
    loop = threading.Thread(target=monitor.run_forever, kwargs={"interval": 0.2, "stop": stop, "on_pass": passes.append})
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
