"""`modelward monitor` from the command line, and its Prometheus gauges scraped over HTTP."""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from maintenance.conftest import T0, Logger, data
from modelward import Workspace
from modelward.cli import app
from modelward.maintenance import Monitor, MonitorGauges
from modelward.predlog import parse_window

HOUR = dt.timedelta(hours=1)
runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _log_two_hours(logger: Logger) -> None:
    shifted = data(300, 2)
    shifted["age"] = shifted["age"] + 15
    first = data(300, 1)
    ids = logger.log("credit", first, T0, spacing_s=10)
    logger.feedback(ids[:100], first["approved"].to_numpy()[:100])
    logger.log("credit", shifted, T0 + HOUR, spacing_s=10)


def test_cli_once_json_and_show(workspace: Workspace, logger: Logger, tmp_path: Path) -> None:
    _log_two_hours(logger)
    out = tmp_path / "out.json"
    page = tmp_path / "latest.html"
    args = [
        "monitor",
        "credit",
        "--once",
        "--window",
        "1h",
        "--json",
        str(out),
        "-w",
        str(workspace.root),
        "--database-url",
        workspace.store.url,
        "--html",
        str(page),
    ]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "drifted features" in result.output and "age" in result.output
    assert "estimated" in result.output and "realized" in result.output
    doc = json.loads(out.read_text())
    assert [w["n_rows"] for w in doc["windows"]] == [300, 300]
    assert [w["drifted_features"] for w in doc["windows"]] == [[], ["age"]]
    assert doc["windows"][0]["n_labeled"] == 100 and "accuracy" in doc["windows"][0]["realized"]
    text = page.read_text()  # the latest window (the shifted hour): age first among the drifted
    assert text.lstrip().lower().startswith("<!doctype html") and "credit@1" in text
    assert "accuracy (estimated)" in text and text.index("age") < text.index("salary")
    assert "<script" not in text and 'src="http' not in text

    again = runner.invoke(app, args, catch_exceptions=False)
    assert again.exit_code == 0 and "no complete window to process yet" in again.output

    shown = runner.invoke(
        app,
        ["monitor", "credit", "--show", "-w", str(workspace.root), "--database-url", workspace.store.url],
        catch_exceptions=False,
    )
    assert shown.exit_code == 0 and "last 2 windows" in shown.output
    assert "accuracy estimated (no labels) / realized" in " ".join(shown.output.split())
    assert "age" in shown.output


def test_bad_window_is_a_clean_error(workspace: Workspace) -> None:
    result = runner.invoke(
        app,
        [
            "monitor",
            "credit",
            "--once",
            "--window",
            "1 week",
            "-w",
            str(workspace.root),
            "--database-url",
            workspace.store.url,
        ],
    )
    assert result.exit_code != 0
    assert "duration like 30s" in str(result.exception)


def test_gauges_served_over_http_with_bounded_features(workspace: Workspace, logger: Logger) -> None:
    _log_two_hours(logger)
    gauges = MonitorGauges(top_k=3)
    port = gauges.serve(0)
    Monitor(workspace, "credit", window=parse_window("1h"), gauges=gauges).run_once()
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert 'modelward_monitor_dataset_drift{model="credit"} 0.0' in lines
    features = [line for line in lines if line.startswith("modelward_monitor_feature_drift_score{")]
    assert len(features) == 3  # the top 3 of 9 features
    assert 'feature="age"' in max(features, key=lambda line: float(line.rsplit(" ", 1)[1]))
    assert 'modelward_monitor_window_rows{model="credit"} 300.0' in lines
    assert any(
        line.startswith('modelward_monitor_performance{kind="estimated",metric="accuracy",model="credit"}')
        for line in lines
    )
    assert any(line.startswith("modelward_monitor_last_run_timestamp_seconds{") for line in lines)


def test_monitor_loop_process_exports_gauges(workspace: Workspace, logger: Logger, tmp_path: Path) -> None:
    """`modelward monitor` as a user runs it: a loop serving /metrics, scraped by HTTP."""
    _log_two_hours(logger)
    port = _free_port()
    textfile = tmp_path / "monitor.prom"
    output = (tmp_path / "monitor.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelward",
            "monitor",
            "credit",
            "--window",
            "1h",
            "--interval",
            "0.5",
            "--metrics-port",
            str(port),
            "--textfile",
            str(textfile),
            "-w",
            str(workspace.root),
            "--database-url",
            workspace.store.url,
        ],
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        text = ""
        while time.monotonic() < deadline:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
                if 'modelward_monitor_window_rows{model="credit"}' in text and textfile.exists():
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp_path / "monitor.log").read_text()
            time.sleep(0.3)
        assert 'modelward_monitor_window_rows{model="credit"} 300.0' in text
        assert 'modelward_monitor_feature_drift_score{feature="age",model="credit"}' in text
        assert 'modelward_monitor_performance{kind="estimated",metric="accuracy",model="credit"}' in text
        assert textfile.exists() and "modelward_monitor_dataset_drift" in textfile.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        output.close()


def test_gauges_keep_the_latest_window_when_an_older_one_is_refreshed() -> None:
    from modelward.maintenance import WindowGauges

    gauges = MonitorGauges()
    newer = WindowGauges("m", 2, True, 0.5, None, 10, 0, window_end=2000.0, run_ts=1.0)
    older = WindowGauges(
        "m", 1, False, 0.0, None, 99, 5, window_end=1000.0, run_ts=2.0, realized={"accuracy": 0.9}
    )
    gauges.update(newer)
    gauges.update(older)
    values = {(m.name, tuple(sorted(s.labels.items()))): s.value for m in gauges.collect() for s in m.samples}
    assert values[("modelward_monitor_window_rows", (("model", "m"),))] == 10
    assert values[("modelward_monitor_model_version", (("model", "m"),))] == 2
