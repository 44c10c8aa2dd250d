"""`modelward serve` as a user runs it: a real uvicorn server on 127.0.0.1, on both backends."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from modelward import Workspace
from modelward.predlog import read_predictions

from .conftest import Trained, make_workspace, register, rows
from .process import metric as _metric
from .process import serving


@pytest.mark.slow
def test_serve_predict_feedback_metrics_and_hot_reload(
    tmp_path: Path, database_url: str, trained: dict[str, Trained]
) -> None:
    root = make_workspace(tmp_path / "ws", database_url, trained, "serve:\n  reload_poll_seconds: 0.25\n")
    with serving(root, database_url) as http:
        answer = http.post(
            "/v1/models/credit/predict", json={"instances": rows(3)}, headers={"X-Routing-Key": "u1"}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["version"] == 1 and len(body["prediction_ids"]) == 3
        fb = http.post("/v1/feedback", json={"prediction_id": body["prediction_ids"][0], "label": 1})
        assert fb.json()["results"][0]["status"] == "recorded"
        assert _metric(http, 'modelward_predictions_total{arm="champion",model="credit",version="1"}') == 3
        assert _metric(http, 'modelward_feedback_total{status="recorded"}') == 1

        # Another process registers and promotes credit@2; the server picks it up within 2 s.
        with Workspace.open(root, database_url=database_url) as ws:
            register(ws, trained["credit"], promote=False)
        promote = ["models", "promote", "credit", "2", "--reason", "reload test"]
        done = subprocess.run(
            [sys.executable, "-m", "modelward", *promote, "-w", str(root), "--database-url", database_url],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        promoted = time.monotonic()
        while http.post("/v1/models/credit/predict", json={"instances": rows(1)}).json()["version"] != 2:
            assert time.monotonic() - promoted < 2.0, "the new champion was not served within 2 s"
            time.sleep(0.05)
        assert (
            'modelward_model_info{alias="champion",model="credit",version="2"} 1.0'
            in http.get("/metrics").text
        )

    with Workspace.open(root, database_url=database_url) as ws:
        logged = read_predictions(ws.store, "credit")
    assert set(body["prediction_ids"]) <= set(logged["id"])
    first = logged.set_index("id").loc[body["prediction_ids"][0]]
    assert first["label"] == 1 and first["version"] == 1 and first["arm"] == "champion"
    assert first["routing_key_hash"] is not None and first["routing_key_hash"] != "u1"


@pytest.mark.slow
def test_metrics_add_up_across_workers(tmp_path: Path, trained: dict[str, Trained]) -> None:
    url = f"sqlite:///{tmp_path / 'mw.db'}"
    root = make_workspace(tmp_path / "ws", url, trained)
    with serving(root, url, "--workers", "2") as http:
        for _ in range(20):  # new connections: the kernel spreads them over both workers
            with httpx.Client(base_url=http.base_url) as one:
                assert one.post("/v1/models/credit/predict", json={"instances": rows(1)}).status_code == 200
        assert _metric(http, 'modelward_predictions_total{arm="champion",model="credit",version="1"}') == 20
        # The loop runs once, in the parent process; whichever worker answers /metrics appends its metrics.
        deadline = time.monotonic() + 30
        while _metric(http, "modelward_loop_leader") != 1:
            assert time.monotonic() < deadline, "the loop's metrics never reached /metrics"
            time.sleep(0.2)
        for _ in range(10):
            with httpx.Client(base_url=http.base_url) as one:
                assert "\nmodelward_loop_leader 1.0\n" in one.get("/metrics").text
