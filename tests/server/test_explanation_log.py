"""``log.explanations``: the explanations a predict request asked for are stored by prediction id, as the
caller got them, on SQLite and PostgreSQL; /explain answers, plain predictions and the default (off) store
none; a row already stored for an id is kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from modelward import Workspace
from modelward.predlog import ExplanationRecord, read_explanations, read_predictions, record_explanations
from modelward.server import create_app

from .conftest import AppClient, Trained, make_workspace, rows


def test_explanations_asked_for_are_logged_by_prediction_id(
    tmp_path: Path, database_url: str, trained: dict[str, Trained]
) -> None:
    root = make_workspace(tmp_path / "ws", database_url, trained, "log:\n  explanations: true\n")
    with Workspace.open(root, database_url=database_url) as ws, AppClient(create_app(ws)) as client:
        body = {"dataframe_records": rows(3), "return": ["explanations"]}
        answer = client.post("/v1/models/credit/predict", json=body).json()
        assert (
            client.post("/v1/models/credit/explain", json={"dataframe_records": rows(2)}).status_code == 200
        )
        assert (
            client.post("/v1/models/credit/predict", json={"dataframe_records": rows(2)}).status_code == 200
        )
        every = {
            "dataframe_records": rows(2, seed=5),
            "return": ["explanations"],
            "explain": {"classes": "all"},
        }
        both = client.post("/v1/models/credit/predict", json=every).json()
        logged = read_explanations(ws.store, "credit")
        # /explain predicts in the micro-batch but logs and counts nothing: 3 + 2 + 2 predicted rows, not 9
        assert len(read_predictions(ws.store, "credit")) == 7
        counted = sum(
            float(line.rpartition(" ")[2])
            for line in client.get("/metrics").text.splitlines()
            if line.startswith("modelward_predicted_class_total{") and 'model="credit"' in line
        )
        assert counted == 7
        one = read_explanations(ws.store, "credit", ids=[answer["prediction_ids"][1]])
    assert one["explanation"].tolist() == [answer["explanations"]["rows"][1]]
    assert logged["prediction_id"].tolist() == answer["prediction_ids"] + both["prediction_ids"]
    assert logged["explanation"].tolist() == answer["explanations"]["rows"] + both["explanations"]["rows"]
    assert set(logged["method"]) == {"linear_shap"} and set(logged["output"]) == {"log_odds"}
    assert set(logged["version"]) == {1} and logged["ts"].dt.tz is not None


def test_off_by_default_and_a_stored_row_is_kept(
    tmp_path: Path, database_url: str, trained: dict[str, Trained]
) -> None:
    root = make_workspace(tmp_path / "ws", database_url, trained)
    with Workspace.open(root, database_url=database_url) as ws:
        assert ws.settings.log.explanations is False
        with AppClient(create_app(ws)) as client:
            body = {"dataframe_records": rows(2), "return": ["explanations"]}
            ids = client.post("/v1/models/credit/predict", json=body).json()["prediction_ids"]
        assert read_explanations(ws.store, "credit").empty
        now = dt.datetime.now(dt.UTC)
        first = ExplanationRecord(ids[0], "credit", 1, now, "linear_shap", "log_odds", {"value": 1.0})
        record_explanations(ws.store, [first])
        record_explanations(ws.store, [ExplanationRecord(ids[0], "credit", 1, now, "x", "y", {"value": 2.0})])
        again = read_explanations(ws.store, "credit", ids=[ids[0], ids[1]])
        assert again["explanation"].tolist() == [{"value": 1.0}] and again["method"].tolist() == [
            "linear_shap"
        ]
