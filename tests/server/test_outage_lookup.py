"""A model looked up while the database is away answers 503 and is served once it is back."""

from __future__ import annotations

from pathlib import Path

from modelward import Workspace
from modelward.server import create_app
from support.pg import BreakablePostgres

from .conftest import AppClient, Trained, make_workspace, rows


def test_a_lookup_during_an_outage_is_503_and_not_remembered(
    tmp_path: Path, breakable_pg: BreakablePostgres, trained: dict[str, Trained]
) -> None:
    root = make_workspace(tmp_path / "ws", breakable_pg.url, trained)
    with Workspace.open(root, database_url=breakable_pg.url) as ws, AppClient(create_app(ws)) as client:
        assert client.get("/readyz").status_code == 200
        breakable_pg.down()
        during = client.post("/v1/models/credit@1/predict", json={"instances": rows(1)})  # not loaded yet
        ready = client.get("/readyz")
        breakable_pg.up()
        after = client.post("/v1/models/credit@1/predict", json={"instances": rows(1)})
    assert during.status_code == 503, during.text
    error = during.json()["error"]
    assert error["code"] == "database_unavailable"
    assert f'role "{breakable_pg.role}" is not permitted to log in' in error["message"]
    assert ready.status_code == 503 and ready.json()["error"]["details"] == {"ready": False}
    assert "Not ready: The database " in ready.json()["error"]["message"]
    assert after.status_code == 200, after.text  # the outage was not remembered as a missing model
    assert after.json()["version"] == 1
