"""A real Prometheus rule fires through a real Alertmanager (Debian `prometheus`, `prometheus-alertmanager`;
.ci/run installs them) to the webhook of a real `modelward serve`, and starts exactly one retrain job — on
SQLite and PostgreSQL. Alertmanager and the rule are the samples in deploy/prometheus/ (the ones docs/loop.md
shows), pointed at this server and given short timings; Alertmanager's repeats open no second job."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from modelward import Workspace
from server.conftest import free_port
from server.process import ServerProcess

from .loop_support import events, make_loop_workspace, send, set_mode, traffic, wait_for

SAMPLES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
HOOK_TOKEN = "alertmanager-e2e-token"


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError(
        f"{names[0]} is not installed: `apt-get install {names[0]}` (Debian; .ci/run installs it)"
    )


def test_the_samples_are_valid_configuration() -> None:
    """amtool and promtool (shipped with the Debian packages) accept the samples as they are."""
    amtool, promtool = _binary("amtool"), _binary("promtool")
    checked = subprocess.run(
        [amtool, "check-config", str(SAMPLES / "alertmanager.yml")], capture_output=True, text=True
    )
    assert checked.returncode == 0 and "SUCCESS" in checked.stdout, checked.stdout + checked.stderr
    checked = subprocess.run(
        [promtool, "check", "rules", str(SAMPLES / "rules.yml")], capture_output=True, text=True
    )
    assert checked.returncode == 0 and "SUCCESS: 1 rules found" in checked.stdout, (
        checked.stdout + checked.stderr
    )


def _alertmanager_config(tmp_path: Path, hook_url: str) -> Path:
    config = yaml.safe_load((SAMPLES / "alertmanager.yml").read_text())
    config["route"]["routes"][0].update(group_wait="1s", group_interval="1s", repeat_interval="2s")
    (hook,) = config["receivers"][1]["webhook_configs"]
    hook["url"] = hook_url
    token = tmp_path / "modelward-hooks-token"
    token.write_text(HOOK_TOKEN + "\n")
    hook["http_config"]["authorization"]["credentials_file"] = str(token)
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _prometheus_config(tmp_path: Path, server_port: int, am_port: int) -> Path:
    rules = yaml.safe_load((SAMPLES / "rules.yml").read_text())
    rules["groups"][0]["rules"][0]["for"] = "0s"  # fire on the first evaluation that holds
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "rules.yml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [
            {"job_name": "modelward", "static_configs": [{"targets": [f"127.0.0.1:{server_port}"]}]}
        ],
    }
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@contextmanager
def _running(name: str, cmd: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert proc.returncode in (0, -15), f"{name} exited with {proc.returncode}:\n{log.read_text()[-3000:]}"


def _alert_decisions(ws: Workspace) -> list[dict[str, Any]]:
    """Every decision on an alert trigger: one per webhook Alertmanager delivered."""
    decided = events(ws, "loop_trigger_fired") + events(ws, "loop_trigger_suppressed")
    return [e for e in decided if e["signals"][0]["trigger"] == "alert"]


@pytest.mark.slow
def test_a_prometheus_rule_fires_through_alertmanager_and_starts_one_job(
    tmp_path: Path, database_url: str
) -> None:
    prometheus, alertmanager = _binary("prometheus"), _binary("prometheus-alertmanager", "alertmanager")
    root = make_loop_workspace(tmp_path / "ws", database_url)
    config = (root / "modelward.yaml").read_text()
    config = config.replace("drift: {windows: 2}", "drift: {enabled: false}")  # only the alert triggers
    config = config.replace("performance: {min_rows: 100}", "performance: {enabled: false}")
    (root / "modelward.yaml").write_text(f"{config}hooks: {{token: {HOOK_TOKEN}}}\n")
    set_mode(root, "sleep 60")  # the job stays active while Alertmanager repeats the alert
    server = ServerProcess(root, database_url)
    am_port, prom_port = free_port(), free_port()
    am_config = _alertmanager_config(tmp_path, f"{server.base_url}/v1/hooks/alertmanager")
    prom_config = _prometheus_config(tmp_path, server.port, am_port)
    am_cmd = [
        alertmanager,
        f"--config.file={am_config}",
        f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{am_port}",
        "--cluster.listen-address=",
    ]
    prom_cmd = [
        prometheus,
        f"--config.file={prom_config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
    ]
    bad = traffic(1, seed=9).drop(columns=["approved"]).to_dict(orient="records")
    bad[0]["salary"] = "a lot"  # refused: counted in modelward_input_errors_total{model="credit"}
    try:
        with (
            _running("alertmanager", am_cmd, tmp_path / "alertmanager.log"),
            _running("prometheus", prom_cmd, tmp_path / "prometheus.log"),
            httpx.Client(base_url=server.base_url, timeout=30) as http,
            Workspace.open(root, database_url=database_url) as ws,
        ):
            server.wait_ready()
            send(http, traffic(300, seed=5))  # labeled rows enough for a job
            deadline = time.monotonic() + 60
            while not ws.jobs.latest("credit"):  # refused requests until the rule fires through Alertmanager
                assert time.monotonic() < deadline, (
                    "no job within 60 s; alertmanager log:\n"
                    + (tmp_path / "alertmanager.log").read_text()[-3000:]
                )
                assert http.post("/v1/models/credit/predict", json={"instances": bad}).status_code == 422
                time.sleep(0.25)
            (job,) = ws.jobs.latest("credit")
            assert job.trigger == "alert" and job.created_by == "hook:alertmanager"
            # Alertmanager repeats the firing alert every 2 s: two more deliveries, no second job.
            wait_for("Alertmanager's repeats", lambda: len(_alert_decisions(ws)) >= 3, timeout=30)
            assert len(ws.jobs.latest("credit")) == 1
            first, *repeats = _alert_decisions(ws)
            assert {r["suppressed_by"] for r in repeats} == {"active_job"}
            (alert,) = first["signals"][0]["evidence"]["alerts"]
            assert alert["alertname"] == "ModelInputErrors" and alert["labels"]["model"] == "credit"
            assert first["signals"][0]["evidence"]["receiver"] == "modelward-retrain"
            assert "more than one refused request every 10 s" in first["signals"][0]["reason"]
    finally:
        out = server.stop()
    assert "Traceback" not in out, out[-4000:]
