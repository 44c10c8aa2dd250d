"""A real Prometheus (Debian package, installed by .ci/run) scrapes `modelward serve`."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from .conftest import Trained, free_port, make_workspace, rows
from .process import ServerProcess


@pytest.mark.slow
def test_prometheus_scrapes_the_prediction_count(tmp_path: Path, trained: dict[str, Trained]) -> None:
    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed: `apt-get install prometheus` (.ci/run does this)"
    url = f"sqlite:///{tmp_path / 'mw.db'}"
    root = make_workspace(tmp_path / "ws", url, trained)
    server = ServerProcess(root, url)
    prom_port = free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: modelward\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{server.port}']\n"
    )
    log = (tmp_path / "prometheus.log").open("w")
    prometheus = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        server.wait_ready()
        made = 0
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            for n in (1, 3, 2, 5, 1):  # 12 predictions in 5 requests
                answer = client.post("/v1/models/credit/predict", json={"instances": rows(n, seed=n)})
                assert answer.status_code == 200, answer.text
                made += len(answer.json()["prediction_ids"])
        query = 'sum(modelward_predictions_total{model="credit"})'
        deadline = time.monotonic() + 60
        seen = None
        with httpx.Client(base_url=f"http://127.0.0.1:{prom_port}", timeout=5) as prom:
            while time.monotonic() < deadline:
                try:
                    body = prom.get("/api/v1/query", params={"query": query}).json()
                except httpx.TransportError:
                    body = {}
                result = body.get("data", {}).get("result", [])
                if result:
                    seen = float(result[0]["value"][1])
                    if seen == made:
                        break
                time.sleep(0.5)
            targets = prom.get("/api/v1/targets").json()["data"]["activeTargets"]
        assert seen == made == 12, f"Prometheus saw {seen} predictions, the test made {made}"
        assert targets and targets[0]["health"] == "up"
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=30)
        log.close()
        server.stop()
