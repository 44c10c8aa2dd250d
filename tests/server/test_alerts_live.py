"""deploy/prometheus/alerts.yml on live metrics: a real Prometheus evaluates the rules against a real `modelward
serve` whose PostgreSQL goes away. PredictionLogSpooling fires while the server spools to disk (database
trouble), and stops once the database is back and the spool is replayed; on a healthy server no alert of
alerts.yml fires. The rules are the file's, with `for:` shortened so the test does not wait minutes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from support.pg import BreakablePostgres
from support.prometheus import prometheus_scraping

from .conftest import Trained, make_workspace, rows
from .process import ServerProcess

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"


def firing(prom: httpx.Client) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = prom.get("/api/v1/alerts").json()["data"]["alerts"]
    return [a for a in alerts if a["state"] == "firing"]


def wait(what: str, probe: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


@pytest.mark.slow
def test_spooling_fires_while_the_database_is_away(
    tmp_path: Path, breakable_pg: BreakablePostgres, trained: dict[str, Trained]
) -> None:
    groups = yaml.safe_load(ALERTS.read_text())
    for group in groups["groups"]:
        for rule in group["rules"]:
            rule["for"] = "0s"
    rules = tmp_path / "alerts.yml"
    rules.write_text(yaml.safe_dump(groups))
    root = make_workspace(tmp_path / "ws", breakable_pg.url, trained)
    server = ServerProcess(root, breakable_pg.url, "--no-loop")
    try:
        with (
            prometheus_scraping(tmp_path, server.port, [rules]) as prom,
            httpx.Client(base_url=server.base_url, timeout=30) as http,
        ):
            server.wait_ready()

            def predict() -> None:
                answer = http.post("/v1/models/credit/predict", json={"instances": rows(3)})
                assert answer.status_code == 200, answer.text

            for _ in range(10):
                predict()
            wait(
                "Prometheus to scrape the server",
                lambda: prom.get("/api/v1/query", params={"query": "up"}).json()["data"]["result"] != [],
            )
            time.sleep(3)  # a few evaluations on a healthy server
            assert firing(prom) == []
            breakable_pg.down()
            try:
                predict()  # spooled: answered, the database away

                def spooling() -> bool:
                    predict()
                    return any(a["labels"]["alertname"] == "PredictionLogSpooling" for a in firing(prom))

                wait("PredictionLogSpooling to fire", spooling)
                (alert,) = [a for a in firing(prom) if a["labels"]["alertname"] == "PredictionLogSpooling"]
                assert alert["labels"]["instance"] == f"127.0.0.1:{server.port}"
                assert "the database is unreachable" in alert["annotations"]["summary"]
            finally:
                breakable_pg.up()
            wait("the alert to resolve once the spool is replayed", lambda: firing(prom) == [], timeout=90)
    finally:
        out = server.stop()
    assert "Traceback" not in out, out[-3000:]
