"""Predictions made by the real server app (in-process, through HTTP) are what the monitor reads."""

from __future__ import annotations

import pytest
from sklearn.metrics import accuracy_score

from maintenance.conftest import Trained, data
from modelward import Workspace
from modelward.maintenance import Monitor
from modelward.predlog import parse_window
from modelward.server import create_app
from server.conftest import AppClient


def test_predictions_served_over_http_are_monitored(
    workspace: Workspace, trained: dict[str, Trained]
) -> None:
    for name in ("credit", "price"):
        workspace.registry.promote(name, 1, reason="serve for the monitor test")
    frame = data(200, 21)
    features = trained["credit"].version.lineage["features"]
    records = frame[features].to_dict(orient="records")
    with AppClient(create_app(workspace)) as client:
        ids: list[str] = []
        for k in range(0, 200, 50):
            answer = client.post("/v1/models/credit/predict", json={"instances": records[k : k + 50]})
            assert answer.status_code == 200, answer.text
            ids += answer.json()["prediction_ids"]
        labels = frame["approved"].tolist()
        fed = client.post(
            "/v1/feedback", json=[{"prediction_id": i, "label": labels[n]} for n, i in enumerate(ids[:80])]
        )
        assert fed.status_code == 200, fed.text
    done = Monitor(workspace, "credit", window=parse_window(200)).run_once()
    [window] = done.windows
    assert (window.report.n_rows, window.report.n_labeled) == (200, 80)
    assert window.report.drift is not None and window.report.drift.drifted_features == []
    assert [f.status for f in window.report.drift.features] == ["ok"] * len(features)
    assert not [q for q in window.report.drift.quality if q.check in ("type_changed", "missing_column")]
    pred = trained["credit"].estimator.predict(frame[features])
    expected = accuracy_score(frame["approved"].to_numpy()[:80], pred[:80])
    assert window.report.realized["accuracy"].value == pytest.approx(expected, abs=1e-12)
    assert "accuracy" in window.report.estimated
