"""Rollouts through the admin API and the CLI, on SQLite and PostgreSQL: start (routed at once by this
server), status, abort; one at a time; the champion cannot be rolled out; immediate promotes; bad steps,
no token and unknown models are 4xx in the one error shape."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from modelward import Workspace
from modelward.cli import app as cli
from modelward.server import create_app
from support.configs import register

from .conftest import TOKEN, AppClient, Trained, rows

AUTH = {"Authorization": f"Bearer {TOKEN}"}
URL = "/v1/admin/models/credit/rollout"


def test_start_status_abort_over_the_admin_api(workspace: Workspace, trained: dict[str, Trained]) -> None:
    register(workspace, trained["credit"])  # credit@2
    with AppClient(create_app(workspace)) as client:
        assert client.post(URL, json={"version": 2}).status_code == 401
        started = client.post(URL, json={"version": 2, "mode": "ab", "reason": "try it"}, headers=AUTH)
        assert started.status_code == 201, started.text
        body = started.json()["rollout"]
        assert (body["mode"], body["status"], body["share"], body["created_by"]) == (
            "ab",
            "running",
            0.5,
            "api:admin",
        )
        versions = {
            client.post(
                "/v1/models/credit/predict", json={"instances": rows(1), "routing_key": f"k{i}"}
            ).json()["version"]
            for i in range(30)
        }
        assert versions == {1, 2}  # routed at once: the answer came after this server reloaded
        again = client.post(URL, json={"version": 2}, headers=AUTH)
        assert (
            again.status_code == 409 and "already has an active rollout" in again.json()["error"]["message"]
        )
        assert client.get(URL, headers=AUTH).json()["rollout"]["id"] == body["id"]
        aborted = client.post(f"{URL}/abort", json={"reason": "enough"}, headers=AUTH)
        assert aborted.status_code == 200 and aborted.json()["rollout"]["status"] == "aborted"
        assert aborted.json()["rollout"]["reason"] == "enough"
        none = client.post(f"{URL}/abort", json={}, headers=AUTH)
        assert none.status_code == 404 and none.json()["error"]["message"].startswith(
            "'credit' has no active rollout"
        )
        bad = client.post(URL, json={"version": 2, "steps": [50, 5]}, headers=AUTH)
        assert bad.status_code == 400, bad.text
        assert bad.json()["error"]["message"].startswith(
            "steps: Value error, steps must be increasing percentages"
        )
        champion = client.post(URL, json={"version": 1}, headers=AUTH)
        assert champion.status_code == 409 and "already the champion" in champion.json()["error"]["message"]
        unknown = client.post("/v1/admin/models/nope/rollout", json={"version": 1}, headers=AUTH)
        assert unknown.status_code == 404 and "not declared" in unknown.json()["error"]["message"]
        now = client.post(URL, json={"version": 2, "mode": "immediate"}, headers=AUTH)
        assert now.status_code == 200 and now.json() == {"rollout": None, "champion": 2}
    kinds = [e.kind for e in workspace.registry.events("credit") if e.kind.startswith("rollout_")]
    assert kinds == ["rollout_started", "rollout_aborted"]


def test_the_rollout_commands(workspace: Workspace, trained: dict[str, Trained]) -> None:
    register(workspace, trained["credit"])
    runner = CliRunner()
    where = [
        "-w",
        str(workspace.root),
        "--database-url",
        str(workspace.store.engine.url.render_as_string(False)),
    ]
    started = runner.invoke(cli, ["rollout", "start", "credit", "2", "--steps", "10,100", *where])
    assert started.exit_code == 0, started.output
    assert (
        "started rollout 1 of credit: v2 vs champion v1, canary, running, 10% of requests" in started.output
    )
    status = runner.invoke(cli, ["rollout", "status", "credit", "--json", *where])
    assert json.loads(status.output)["rollouts"][0]["steps"] == [10.0, 100.0]
    bad = runner.invoke(cli, ["rollout", "start", "credit", "2", "--steps", "5,x", *where])
    assert "--steps takes percentages separated by commas" in str(bad.exception)
    aborted = runner.invoke(cli, ["rollout", "abort", "credit", "--reason", "done", *where])
    assert aborted.exit_code == 0 and "aborted" in aborted.output and "done" in aborted.output
    assert "no rollouts of price" in runner.invoke(cli, ["rollout", "status", "price", *where]).output
