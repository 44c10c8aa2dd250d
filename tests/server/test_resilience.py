"""Nothing acknowledged is lost: kill -9 under load, and a database outage under load."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from modelward.store.schema import predictions
from support.pg import BreakablePostgres

from .conftest import Trained, make_workspace, rows
from .process import ServerProcess


class Load:
    """Client threads posting single-row predictions; they keep every id answered with a 200."""

    def __init__(self, base_url: str, clients: int = 8) -> None:
        self.acknowledged: list[str] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(base_url, k)) for k in range(clients)]
        for t in self._threads:
            t.start()

    def _run(self, base_url: str, k: int) -> None:
        body = {"instances": rows(1, seed=k)}
        with httpx.Client(base_url=base_url, timeout=10) as client:
            while not self._stop.is_set():
                try:
                    answer = client.post("/v1/models/credit/predict", json=body)
                except httpx.TransportError as exc:
                    with self._lock:
                        self.failures.append(type(exc).__name__)
                    time.sleep(0.01)
                    continue
                with self._lock:
                    if answer.status_code == 200:
                        self.acknowledged.extend(answer.json()["prediction_ids"])
                    else:
                        self.failures.append(f"{answer.status_code}: {answer.text[:200]}")

    def count(self) -> int:
        with self._lock:
            return len(self.acknowledged)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)


def _logged_ids(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.scalars(sa.select(predictions.c.id)))
    finally:
        engine.dispose()


def _wait_until(condition, what: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.slow
def test_kill_9_under_load_loses_no_acknowledged_prediction(
    tmp_path: Path, database_url: str, trained: dict[str, Trained]
) -> None:
    root = make_workspace(tmp_path / "ws", database_url, trained)
    server = ServerProcess(root, database_url)
    server.wait_ready()
    load = Load(server.base_url)
    try:
        _wait_until(lambda: load.count() >= 300, "300 acknowledged predictions")
        server.kill9()  # mid-load: requests are in flight and records are queued
    finally:
        load.stop()
    acknowledged = list(load.acknowledged)
    assert len(acknowledged) >= 300 and len(set(acknowledged)) == len(acknowledged)

    restarted = ServerProcess(root, database_url)  # replays whatever the crash left in the spool
    try:
        restarted.wait_ready()
        logged = _logged_ids(database_url)
    finally:
        restarted.stop()
    missing = set(acknowledged) - set(logged)
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged predictions were lost"
    assert len(logged) == len(set(logged))


@pytest.mark.slow
def test_database_outage_keeps_serving_and_replays_exactly_once(
    tmp_path: Path, breakable_pg: BreakablePostgres, trained: dict[str, Trained]
) -> None:
    url = breakable_pg.url
    root = make_workspace(tmp_path / "ws", url, trained, "serve:\n  reload_poll_seconds: 0.25\n")
    server = ServerProcess(root, url)
    server.wait_ready()
    load = Load(server.base_url, clients=4)
    try:
        _wait_until(lambda: load.count() >= 100, "predictions before the outage")
        breakable_pg.down()
        during_start = load.count()
        _wait_until(lambda: load.count() >= during_start + 200, "predictions during the outage")
        with httpx.Client(base_url=server.base_url) as client:
            assert client.get("/healthz").status_code == 200
        during_end = load.count()
        breakable_pg.up()
        _wait_until(lambda: load.count() >= during_end + 100, "predictions after recovery")
    finally:
        load.stop()
    acknowledged = list(load.acknowledged)
    assert not [f for f in load.failures if not f.startswith("Read")], load.failures[:5]

    def all_logged() -> bool:
        return set(acknowledged) <= set(_logged_ids(url))

    _wait_until(all_logged, "every acknowledged prediction to reach PostgreSQL", timeout=60)
    logged = _logged_ids(url)
    assert len(logged) == len(set(logged)), "a replayed prediction was stored twice"
    out = server.stop()
    assert "Traceback" not in out, out
