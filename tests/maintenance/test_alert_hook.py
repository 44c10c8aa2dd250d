"""`POST /v1/hooks/alertmanager` in process (SQLite and PostgreSQL): firing alerts open a retrain job through
the manual trigger's path (trigger `alert`); 100 duplicate alerts inside the cooldown make exactly one job;
resolved alerts are ignored; bad payloads and tokens get a 4xx in the one error shape and change nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelward import Workspace
from modelward.server import create_app
from server.conftest import AppClient

from .loop_support import events, kinds, make_loop_workspace, send, traffic

HOOK_TOKEN = "alertmanager-hook-token"
HOOK = {"Authorization": f"Bearer {HOOK_TOKEN}"}
URL = "/v1/hooks/alertmanager"


def alert(status: str = "firing", **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "CreditAccuracyDrop", "model": "credit", "severity": "page", **labels},
        "annotations": {"summary": "credit accuracy below 80 % for 10 minutes"},
        "startsAt": "2026-03-01T12:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=...",
        "fingerprint": "c0ffee0123456789",
    }


def payload(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    """An Alertmanager webhook body, version 4, as Alertmanager sends it."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="CreditAccuracyDrop"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "modelward",
        "groupLabels": {"alertname": "CreditAccuracyDrop"},
        "commonLabels": {"alertname": "CreditAccuracyDrop", "model": "credit"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts) or [alert()],
    }


@pytest.fixture
def root(tmp_path: Path, database_url: str) -> Path:
    root = make_loop_workspace(tmp_path / "ws", database_url)
    with (root / "modelward.yaml").open("a") as config:
        config.write(f"hooks: {{token: {HOOK_TOKEN}}}\n")
    return root


@pytest.fixture
def app(root: Path) -> Iterator[tuple[Workspace, AppClient]]:
    with Workspace.open(root) as ws, AppClient(create_app(ws)) as client:
        yield ws, client


@pytest.mark.slow
def test_100_duplicate_alerts_in_the_cooldown_make_one_job(app: tuple[Workspace, AppClient]) -> None:
    ws, client = app
    send(client, traffic(300, seed=5))  # labeled rows enough for training and the gate
    answers = [client.post(URL, json=payload(), headers=HOOK) for _ in range(50)]
    first = answers[0]
    assert first.status_code == 202, first.text
    result = first.json()["results"][0]
    assert result["started"] and result["model"] == "credit" and result["job"]["trigger"] == "alert"
    assert (
        "Alertmanager: CreditAccuracyDrop firing for credit: credit accuracy below 80 %" in result["reason"]
    )
    assert {a.status_code for a in answers[1:]} == {200}
    assert {a.json()["results"][0]["suppressed_by"] for a in answers[1:]} == {"active_job"}

    job = ws.jobs.active("credit")  # no loop runs here: the job waits; end it as a runner would
    assert job is not None and job.trigger == "alert"
    claimed = ws.jobs.claim(job, "test:1:x", now=dt.datetime.now(dt.UTC), event=("loop_job_started", {}))
    assert claimed is not None
    ws.jobs.finish(claimed, "failed", now=dt.datetime.now(dt.UTC), error="ended by the test")
    later = [client.post(URL, json=payload(), headers=HOOK) for _ in range(50)]
    assert {a.status_code for a in later} == {200}
    assert {a.json()["results"][0]["suppressed_by"] for a in later} == {"cooldown"}

    assert len(ws.jobs.latest("credit")) == 1  # 100 alerts, one job
    fired = events(ws, "loop_trigger_fired")
    assert len(fired) == 1 and fired[0]["trigger"] == "alert"
    signal = fired[0]["signals"][0]
    assert signal["trigger"] == "alert" and signal["evidence"]["receiver"] == "modelward"
    assert signal["evidence"]["alerts"][0]["fingerprint"] == "c0ffee0123456789"
    assert kinds(ws).count("loop_trigger_suppressed") == 99
    assert {e.actor for e in ws.registry.events("credit") if e.kind == "loop_trigger_fired"} == {
        "hook:alertmanager"
    }


def test_alerts_of_one_group_make_one_trigger_and_resolved_ones_are_ignored(
    app: tuple[Workspace, AppClient],
) -> None:
    ws, client = app
    resolved = client.post(URL, json=payload(alert("resolved"), status="resolved"), headers=HOOK)
    assert resolved.status_code == 200 and resolved.json() == {"results": [], "resolved_ignored": 1}
    many = payload(*(alert(instance=f"replica-{i}") for i in range(5)), alert("resolved"))
    answer = client.post(URL, json=many, headers=HOOK)  # too few labels yet: suppressed, said why
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["results"]
    assert result["alerts"] == 5 and result["suppressed_by"] == "labels"
    assert answer.json()["resolved_ignored"] == 1
    assert ws.jobs.latest("credit") == []
    (suppressed,) = events(ws, "loop_trigger_suppressed")
    assert (
        "Alertmanager: CreditAccuracyDrop firing for credit (5 alerts)" in suppressed["signals"][0]["reason"]
    )
    assert suppressed["signals"][0]["evidence"]["alert_count"] == 5


def _error(answer: Any, status: int, code: str, text: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code and text in body["error"]["message"], body


def test_bad_tokens_and_payloads_are_refused_and_change_nothing(app: tuple[Workspace, AppClient]) -> None:
    ws, client = app
    _error(client.post(URL, json=payload()), 401, "unauthorized", "Bearer <hooks.token>")
    _error(
        client.post(URL, json=payload(), headers={"Authorization": "Basic x"}), 401, "unauthorized", "Bearer"
    )
    _error(
        client.post(URL, json=payload(), headers={"Authorization": "Bearer nope"}), 403, "forbidden", "wrong"
    )
    admin = {"Authorization": "Bearer loop-admin-token"}  # the admin token is not the hooks token
    _error(client.post(URL, json=payload(), headers=admin), 403, "forbidden", "hooks token is wrong")
    _error(client.post(URL, content=b"{not json", headers=HOOK), 400, "invalid_input", "not valid JSON")
    _error(
        client.post(URL, json={**payload(), "version": "3"}, headers=HOOK), 422, "invalid_request", "version"
    )
    _error(client.post(URL, json={"version": "4"}, headers=HOOK), 422, "invalid_request", "body.status")
    _error(client.post(URL, json=[1, 2], headers=HOOK), 422, "invalid_request", "body")
    bad_alert = {**payload(), "alerts": [{"status": "pending", "labels": {}}]}
    _error(client.post(URL, json=bad_alert, headers=HOOK), 422, "invalid_request", "alerts.0.status")
    nul = payload({**alert(), "annotations": {"summary": "a\x00b"}})  # PostgreSQL stores no NUL in JSON
    _error(
        client.post(URL, json=nul, headers=HOOK), 422, "invalid_request", "NUL characters are not accepted"
    )
    unlabeled = payload(alert(), {**alert(), "labels": {"alertname": "NoModel"}})
    _error(client.post(URL, json=unlabeled, headers=HOOK), 422, "invalid_alert", "has no 'model' label")
    _error(
        client.post(URL, json=payload(alert(model="nosuch")), headers=HOOK),
        404,
        "not_found",
        "names model 'nosuch' (label 'model'), which is not declared in modelward.yaml (declared: credit)",
    )
    huge = {**payload(), "commonAnnotations": {"x": "y" * 11_000_000}}
    _error(client.post(URL, json=huge, headers=HOOK), 413, "invalid_input", "serve.max_body_bytes")
    assert ws.jobs.latest("credit") == [] and kinds(ws) == []  # nothing done, nothing recorded


def test_hooks_are_off_without_a_token_and_the_label_is_configurable(root: Path) -> None:
    config = (root / "modelward.yaml").read_text()
    (root / "modelward.yaml").write_text(config.replace(f"hooks: {{token: {HOOK_TOKEN}}}", ""))
    with Workspace.open(root) as ws, AppClient(create_app(ws)) as client:
        _error(client.post(URL, json=payload(), headers=HOOK), 403, "forbidden", "Webhooks are off")
    (root / "modelward.yaml").write_text(config.replace("{token:", "{model_label: service, token:"))
    with Workspace.open(root) as ws, AppClient(create_app(ws)) as client:
        _error(client.post(URL, json=payload(), headers=HOOK), 422, "invalid_alert", "has no 'service' label")
        answer = client.post(URL, json=payload(alert(service="credit")), headers=HOOK)
        assert answer.status_code == 200 and answer.json()["results"][0]["model"] == "credit", answer.text
