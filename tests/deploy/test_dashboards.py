"""deploy/grafana/: the dashboards' JSON and provisioning files are well formed, and every PromQL expression of
every panel, with the dashboard's variables substituted, parses and returns series on a real Prometheus
(Debian `prometheus`, installed by .ci/run) scraping a real `modelward serve` with its loop, after the test
served traffic with feedback, a refused request, and a canary rollout. Grafana itself does not run here.

Expressions run as Grafana's time-series panels run them: a range query over the test's span."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from maintenance.loop_support import AUTH, make_loop_workspace, send, traffic
from modelward import Workspace
from server.process import ServerProcess
from support.prometheus import prometheus_scraping

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
# What Grafana would put in place of each variable, for the model this test serves.
SUBSTITUTE = {"$__rate_interval": "1m", "$model": "credit", "$metric": "accuracy"}
BUILTINS = {"$__rate_interval", "$__interval", "$__range"}


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in DASHBOARDS}


def expressions() -> list[tuple[str, str, str]]:
    """``(dashboard, panel title, expr)`` of every target of every panel."""
    return [
        (name, panel["title"], target["expr"])
        for name, board in dashboards().items()
        for panel in board["panels"]
        for target in panel["targets"]
    ]


def substitute(expr: str) -> str:
    for variable, value in sorted(SUBSTITUTE.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a variable is left in {expr}"
    return expr


def test_the_dashboards_are_well_formed() -> None:
    assert {p.stem for p in DASHBOARDS} == {
        "modelward-serving",
        "modelward-monitoring",
        "modelward-log",
        "modelward-loop",
    }
    boards = dashboards()
    assert len({b["uid"] for b in boards.values()}) == len(boards)
    for name, board in boards.items():
        defined = {f"${v['name']}" for v in board["templating"]["list"]}
        assert "$datasource" in defined, name
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in board["panels"]:
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                used = set(re.findall(r"\$\w+", target["expr"]))
                assert used <= defined | BUILTINS, (
                    f"{name}: {panel['title']} uses {used - defined - BUILTINS}"
                )
                assert used - {"$datasource"} <= set(SUBSTITUTE) | {"$__interval", "$__range"}


def test_the_provisioning_files_point_at_the_dashboards() -> None:
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/modelward.yml").read_text())
    (entry,) = provider["providers"]
    assert entry["type"] == "file" and entry["options"]["path"].startswith("/var/lib/grafana/dashboards")
    sources = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus" and source["url"].startswith("http://")


def query_range(prom: httpx.Client, expr: str, start: float) -> dict[str, Any]:
    answer = prom.get(
        "/api/v1/query_range", params={"query": expr, "start": start, "end": time.time(), "step": "1s"}
    )
    body: dict[str, Any] = answer.json()
    return body


def wait_for_series(prom: httpx.Client, expr: str, start: float, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            body = query_range(prom, expr, start)
            if body.get("status") == "success" and body["data"]["result"]:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"Prometheus has no series for {expr} after {timeout} s"
        time.sleep(0.5)


ROLLOUT = (
    "      cooldown: 1h\n"
    "      rollout: {mode: canary, steps: [50, 100], step_seconds: 0, deadline: 1h, margin: 0.05,"
    " expected_rows: 100000, guardrails: {min_requests: 10, interval: 1s, latency_slack_ms: 500}}\n"
)


@pytest.mark.slow
def test_every_panel_query_returns_series_from_a_real_prometheus(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mw.db'}"
    root = make_loop_workspace(tmp_path / "ws", url, ROLLOUT)
    with Workspace.open(root, database_url=url) as ws:  # the challenger to roll out
        assert ws.train("credit", params={"n_estimators": 10, "max_depth": 4, "random_state": 1}).version == 2
    server = ServerProcess(root, url)
    start = time.time()
    try:
        with (
            prometheus_scraping(tmp_path, server.port) as prom,
            httpx.Client(base_url=server.base_url, timeout=30) as http,
        ):
            server.wait_ready()
            send(http, traffic(400, seed=5))  # two monitored windows of labeled rows
            bad = traffic(1, seed=6).drop(columns=["approved"]).to_dict(orient="records")
            bad[0]["salary"] = "a lot"
            assert http.post("/v1/models/credit/predict", json={"instances": bad}).status_code == 422
            started = http.post("/v1/admin/models/credit/rollout", json={"version": 2}, headers=AUTH)
            assert started.status_code in (200, 201, 202), started.text
            for seed in range(7, 12):  # the canary answers part of these, while Prometheus scrapes
                send(http, traffic(100, seed=seed), batch=10)
            wait_for_series(prom, "modelward_rollout_active == 1", start)
            wait_for_series(prom, 'modelward_predictions_total{arm="canary"}', start)
            wait_for_series(prom, "modelward_monitor_window_rows", start)
            aborted = http.post(
                "/v1/admin/models/credit/rollout/abort", json={"reason": "test"}, headers=AUTH
            )
            assert aborted.status_code == 200, aborted.text
            wait_for_series(prom, 'modelward_loop_events_total{event="rollout_aborted"} == 1', start)
            empty, failed = [], []
            for board, title, expr in expressions():
                body = query_range(prom, substitute(expr), start)
                if body.get("status") != "success":
                    failed.append(f"{board}: {title}: {body.get('error')}")
                elif not body["data"]["result"]:
                    empty.append(f"{board}: {title}: {substitute(expr)}")
            assert not failed, "queries Prometheus refused:\n" + "\n".join(failed)
            assert not empty, "queries that returned no series:\n" + "\n".join(empty)
            # The alert rules' metrics exist too (their expressions are quiet on a healthy server).
            groups = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"]
            rules = " ".join(str(r["expr"]) for g in groups for r in g["rules"])
            for name in sorted(set(re.findall(r"\b(modelward_\w+)", rules))):
                body = query_range(prom, f'count({{__name__="{name}"}})', start)
                assert body["data"]["result"], (
                    f"alerts.yml uses {name}, which modelward serve does not export"
                )
    finally:
        out = server.stop()
    assert "Traceback" not in out, out[-4000:]
