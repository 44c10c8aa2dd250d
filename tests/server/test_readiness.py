"""Readiness tells the truth: a model that cannot load, or a database file that vanished, is not ready."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from modelward import Workspace
from modelward.server import create_app

from .conftest import AppClient, Trained, make_workspace, rows


def _flip_a_byte(ws: Workspace, digest: str) -> None:
    path = Path(ws.artifacts.path(digest))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))


def test_a_champion_that_fails_to_load_makes_the_server_not_ready(
    tmp_path: Path, database_url: str, trained: dict[str, Trained]
) -> None:
    root = make_workspace(tmp_path / "ws", database_url, trained)
    with Workspace.open(root, database_url=database_url) as ws:
        _flip_a_byte(ws, ws.registry.get("credit", "champion").artifact)
        with AppClient(create_app(ws)) as client:
            ready = client.get("/readyz")
            predict = client.post("/v1/models/credit/predict", json={"instances": rows(1)})
            other = client.post(
                "/v1/models/price/predict",
                json={"instances": [{k: r[k] for k in ("age", "loan", "hvalue", "car")} for r in rows(1)]},
            )
    assert ready.status_code == 503, ready.text
    error = ready.json()["error"]
    assert error["code"] == "model_unavailable"
    assert error["message"].startswith(
        "Not ready: 1 model(s) that should be served could not be loaded. credit@champion is credit@1, which "
        "could not be loaded: "
    )
    assert "is corrupted or was tampered with" in error["message"], error["message"]
    assert error["details"]["models"]["credit@champion"]["version"] == 1
    # the broken model answers 503 with the reason (never a 500), the others serve on
    assert predict.status_code == 503 and predict.json()["error"]["code"] == "model_unavailable"
    assert "modelward models rollback credit" in predict.json()["error"]["message"]
    assert other.status_code == 200, other.text


def test_a_new_version_that_fails_to_load_keeps_the_old_one_serving(
    tmp_path: Path, trained: dict[str, Trained]
) -> None:
    url = f"sqlite:///{tmp_path / 'mw.db'}"
    root = make_workspace(tmp_path / "ws", url, trained)
    with Workspace.open(root, database_url=url) as ws, AppClient(create_app(ws)) as client:
        assert client.get("/readyz").json() == {"status": "ready", "models": 2}
        v1 = ws.registry.get("credit", "champion")
        broken = ws.registry.register(
            "credit",
            task=v1.task,
            artifact=ws.artifacts.put(b"not a model at all"),
            serializer=v1.serializer,
            flavor=v1.flavor,
            trusted_types=v1.trusted_types,
            signature=v1.signature,
            input_example=v1.input_example,
            params=v1.params,
            metrics=v1.metrics,
            lineage=v1.lineage,
        )
        ws.registry.promote("credit", broken.version, reason="oops")
        client.run(client.app.state.modelward.cache.refresh(force=True))
        ready = client.get("/readyz")
        answer = client.post("/v1/models/credit/predict", json={"instances": rows(1)})
    assert ready.status_code == 200
    assert ready.json()["degraded"]["credit@champion"]["version"] == 2
    assert answer.status_code == 200 and answer.json()["version"] == 1


def test_a_deleted_sqlite_file_is_an_outage_not_silent_loss(
    tmp_path: Path, trained: dict[str, Trained], caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "mw.db"
    url = f"sqlite:///{db}"
    root = make_workspace(tmp_path / "ws", url, trained)
    with Workspace.open(root, database_url=url) as ws:
        app = create_app(ws)
        with AppClient(app) as client:
            assert client.post("/v1/models/credit/predict", json={"instances": rows(1)}).status_code == 200
            assert client.get("/readyz").status_code == 200
            db.unlink()
            with caplog.at_level(logging.ERROR, logger="modelward"):
                after = client.post("/v1/models/credit/predict", json={"instances": rows(2)})
            ready = client.get("/readyz")
            predlog = app.state.modelward.predlog
            spooled = predlog.spool_bytes
            reachable = predlog.database_reachable
            feedback = client.post(
                "/v1/feedback", json={"prediction_id": after.json()["prediction_ids"][0], "label": 1}
            )
    assert after.status_code == 200, after.text  # log.on_failure: spool (the default) keeps serving
    assert spooled > 0 and not reachable
    assert ready.status_code == 503
    assert f"The SQLite database {db} was deleted while in use" in ready.json()["error"]["message"]
    assert any(f"The SQLite database {db} was deleted" in r.getMessage() for r in caplog.records), caplog.text
    assert feedback.status_code == 503
    assert not db.exists()  # nothing recreated an empty database behind the user's back
