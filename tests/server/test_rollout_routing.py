"""The server routes an active rollout, in process on SQLite and PostgreSQL: a canary's share by the stable
hash of the routing key (sticky, header or body key, random without one), each prediction logged with its
arm and version; a shadow copy scored off the request path and logged under ``shadow`` with its champion
twin's id; the per-arm counters flushed to the store; a step or an abort picked up at the next reload."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pandas as pd
import pytest

from modelward import Workspace
from modelward.predlog import read_predictions
from modelward.rollouts import shadow_twin
from modelward.routing import assign_arm
from modelward.server import create_app
from support.configs import register

from .conftest import AppClient, Trained, rows

NOW = dt.datetime.now(dt.UTC)


def _rollout(ws: Workspace, trained: dict[str, Trained], mode: str, steps: list[float]) -> Any:
    challenger = register(ws, trained["credit"])  # the same bytes as credit@2: the arm tells them apart
    return ws.rollouts.start(
        "credit", champion=1, challenger=challenger.version, mode=mode, steps=steps, settings={}, now=NOW
    )


def _predict(client: AppClient, row: dict[str, Any], key: str | None = None, header: bool = False) -> Any:
    body: dict[str, Any] = {"instances": [row]}
    headers = {}
    if key is not None and header:
        headers["X-Routing-Key"] = key
    elif key is not None:
        body["routing_key"] = key
    answer = client.post("/v1/models/credit/predict", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _log(ws: Workspace) -> pd.DataFrame:
    return read_predictions(ws.store, "credit")


@pytest.mark.slow
def test_a_canary_splits_by_the_routing_key_and_logs_every_arm(
    workspace: Workspace, trained: dict[str, Trained]
) -> None:
    rollout = _rollout(workspace, trained, "canary", [30, 100])
    data = rows(1)[0]
    with AppClient(create_app(workspace)) as client:
        keys = [f"user-{i}" for i in range(200)]
        versions = {k: _predict(client, data, k, header=i % 2 == 0)["version"] for i, k in enumerate(keys)}
        expected = {
            k: 2 if assign_arm(k, [("champion", 0.7), ("canary", 0.3)], salt=rollout.salt) == "canary" else 1
            for k in keys
        }
        assert versions == expected  # the live server and the pure function agree on every key
        assert 35 < sum(v == 2 for v in versions.values()) < 85
        assert all(_predict(client, data, k)["version"] == versions[k] for k in keys[:40])  # sticky
        keyless = [_predict(client, data)["version"] for _ in range(60)]
        assert 5 < keyless.count(2) < 35  # no key: a random split in the same shares
        pinned = client.post(
            "/v1/models/credit@1/predict", json={"instances": [data], "routing_key": keys[0]}
        )
        assert pinned.json()["version"] == 1  # a pinned version is never split
        bad = client.post("/v1/models/credit/predict", json={"instances": [{"age": 3}], "routing_key": "x"})
        assert bad.status_code == 422

        # A step (an event) reaches the server at its next reload: now everyone is on the canary.
        workspace.rollouts.advance(rollout, now=NOW, evidence={})
        client.run(client.app.state.modelward.cache.refresh())
        assert {_predict(client, data, k)["version"] for k in keys[:30]} == {2}
        workspace.rollouts.finish(
            workspace.rollouts.get(rollout.id), "aborted", now=NOW, reason="test", evidence={}
        )
        client.run(client.app.state.modelward.cache.refresh())
        assert {_predict(client, data, k)["version"] for k in keys[:30]} == {1}
    log = _log(workspace)
    assert set(zip(log["arm"], log["version"], strict=True)) == {("champion", 1), ("canary", 2), ("v1", 1)}
    counts = workspace.rollouts.counts(rollout, interval=3600)
    canary_requests = int(counts["canary"].requests.sum())
    assert canary_requests == int((log["arm"] == "canary").sum())
    assert int(counts["champion"].requests.sum()) + canary_requests == 200 + 40 + 60 + 1 + 30
    bad_arm = (
        "canary"
        if assign_arm("x", [("champion", 0.7), ("canary", 0.3)], salt=rollout.salt) == "canary"
        else "champion"
    )
    assert int(counts[bad_arm].input_errors.sum()) == 1


def test_a_shadow_scores_a_copy_and_callers_get_the_champion(
    workspace: Workspace, trained: dict[str, Trained]
) -> None:
    rollout = _rollout(workspace, trained, "shadow", [100])
    with AppClient(create_app(workspace)) as client:
        answers = [_predict(client, row, f"u{i}") for i, row in enumerate(rows(20))]
        assert {a["version"] for a in answers} == {1}
        ids = [a["prediction_ids"][0] for a in answers]
        deadline = time.monotonic() + 10
        while (_log(workspace)["arm"] == "shadow").sum() < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
    log = _log(workspace)
    shadow = log[log["arm"] == "shadow"]
    assert sorted(shadow["id"]) == sorted(shadow_twin(i) for i in ids)
    assert set(shadow["version"]) == {2}
    champion = log.set_index("id").loc[ids]
    assert (champion["arm"] == "champion").all()
    # The same model bytes: the shadow predicts exactly what the champion did.
    twins = shadow.set_index("id").loc[[shadow_twin(i) for i in ids]]
    assert twins["prediction"].tolist() == champion["prediction"].tolist()
    counts = workspace.rollouts.counts(rollout, interval=3600)
    assert int(counts["shadow"].requests.sum()) == int(counts["champion"].requests.sum()) == 20
