"""POST /v1/models/{name}/explain and "return": ["explanations"] on predict, in-process.

credit is a one-hot + scaled LogisticRegression pipeline (exact linear SHAP, log-odds), price a
one-hot RandomForestRegressor pipeline (exact TreeSHAP, the prediction). Local accuracy is checked
against the trained estimator itself (1e-6); the error shape against predict's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelward import Workspace, persistence
from modelward.demo import agrawal_frame
from modelward.server import create_app

from .conftest import AppClient, Trained, rows

TOL = 1e-6


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: explaining reads the store once per version (its reference), like any other read."""
    return f"sqlite:///{tmp_path / 'modelward.db'}"


def additive(row: dict[str, Any]) -> float:
    total = row["base_value"] + sum(row["attributions"].values())
    assert total == pytest.approx(row["value"], abs=TOL)
    return float(row["value"])


def test_explain_linear_pipeline_in_log_odds(client: AppClient, trained: dict[str, Trained]) -> None:
    body = {"dataframe_records": rows(4)}
    got = client.post("/v1/models/credit/explain", json=body)
    assert got.status_code == 200, got.text
    answer = got.json()
    e = answer["explanations"]
    assert (e["method"], e["exact"], e["output"]) == ("linear_shap", True, "log_odds")
    assert "reference holdout" in e["background"] or "input example" in e["background"]
    model = trained["credit"].estimator
    frame = pd.DataFrame(rows(4))
    logit = model.decision_function(frame)
    assert answer["predictions"] == model.predict(frame).tolist()
    assert set(e["features"]) == set(frame.columns)
    for i, row in enumerate(e["rows"]):
        assert row["class"] == answer["predictions"][i]
        assert set(row["attributions"]) == set(frame.columns)  # input columns: one-hot summed back
        sign = 1.0 if row["class"] == model.classes_[1] else -1.0  # the predicted class's log-odds
        assert additive(row) == pytest.approx(sign * logit[i], abs=TOL)
    assert "prediction_ids" not in answer  # explaining logs nothing


def test_predict_returns_the_same_explanations(client: AppClient) -> None:
    body: dict[str, Any] = {"dataframe_records": rows(3), "return": ["explanations", "proba"]}
    predicted = client.post("/v1/models/credit/predict", json=body).json()
    explained = client.post("/v1/models/credit/explain", json={"dataframe_records": rows(3)}).json()
    assert len(predicted["prediction_ids"]) == 3 and predicted["probabilities"]
    assert predicted["explanations"]["rows"] == explained["explanations"]["rows"]
    body["explain"] = {"classes": "all"}
    both = client.post("/v1/models/credit/predict", json=body).json()["explanations"]
    assert both["classes"] == [0, 1]
    for per_class in both["rows"]:
        assert [r["class"] for r in per_class] == [0, 1]
        negated = {k: -v for k, v in per_class[1]["attributions"].items()}
        assert per_class[0]["attributions"] == pytest.approx(negated, abs=1e-12)
        assert additive(per_class[0]) == pytest.approx(-additive(per_class[1]), abs=TOL)


def test_explain_forest_regressor_adds_up_to_its_prediction(
    client: AppClient, trained: dict[str, Trained]
) -> None:
    features = [c["name"] for c in trained["price"].version.signature["inputs"]]
    records = [{k: r[k] for k in features} for r in rows(5)]
    got = client.post(
        "/v1/models/price/explain",
        json={"dataframe_split": {"columns": features, "data": [[r[k] for k in features] for r in records]}},
    )
    assert got.status_code == 200, got.text
    e = got.json()["explanations"]
    assert (e["method"], e["output"]) == ("tree_shap", "prediction")
    expected = trained["price"].estimator.predict(pd.DataFrame(records))
    for row, y in zip(e["rows"], expected, strict=True):
        assert row["class"] is None
        assert additive(row) == pytest.approx(float(y), abs=TOL)


BAD_BODIES: list[Any] = [
    b"not json",
    {"dataframe_records": [{"age": 40}]},  # columns missing
    {"dataframe_records": [{**rows(1)[0], "age": "forty"}]},
    {"dataframe_records": rows(1), "return": ["shap"]},
    {"dataframe_records": rows(1), "explain": {"classes": "some"}},
    {"instances": []},
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_bad_input_gets_predicts_error(client: AppClient, body: Any) -> None:
    def send(path: str, extra: dict[str, Any]) -> Any:
        if isinstance(body, bytes):
            return client.post(path, content=body)
        return client.post(path, json={**body, **extra})

    wants = {"return": ["explanations"]} if isinstance(body, dict) and "return" not in body else {}
    predicted = send("/v1/models/credit/predict", wants)
    explained = send("/v1/models/credit/explain", {})
    assert 400 <= explained.status_code < 500
    assert explained.status_code == predicted.status_code, (explained.text, predicted.text)
    assert set(explained.json()) == {"error"} and set(explained.json()["error"]) == {
        "code",
        "message",
        "details",
    }
    assert explained.json()["error"]["code"] == predicted.json()["error"]["code"]
    assert explained.json()["error"]["details"].get("reason") == predicted.json()["error"]["details"].get(
        "reason"
    )


def test_explain_options_need_explanations_and_rows_are_bounded(tmp_path: Any, workspace: Workspace) -> None:
    with AppClient(create_app(workspace)) as c:
        got = c.post(
            "/v1/models/credit/predict", json={"dataframe_records": rows(1), "explain": {"classes": "all"}}
        )
        assert got.status_code == 400 and "explanations" in got.json()["error"]["message"]
        limit = workspace.settings.serve.explain_max_rows
        many = {"inputs": {k: [v] * (limit + 1) for k, v in rows(1)[0].items()}}
        got = c.post("/v1/models/credit/explain", json=many)
        assert got.status_code == 413 and "serve.explain_max_rows" in got.json()["error"]["message"]
        plain = c.post("/v1/models/credit/predict", json=many)
        assert plain.status_code == 200  # the explain limit is not predict's


def test_plain_predict_builds_no_explainer(workspace: Workspace) -> None:
    app = create_app(workspace)
    with AppClient(app) as c:
        assert c.post("/v1/models/credit/predict", json={"dataframe_records": rows(2)}).status_code == 200
        state = app.predict_path.state  # type: ignore[attr-defined]
        assert state.explanations._explainers == {}
        assert c.post("/v1/models/credit/explain", json={"dataframe_records": rows(2)}).status_code == 200
        assert list(state.explanations._explainers) == [("credit", 1)]


def test_model_without_exact_explainer_answers_with_the_fallback(
    workspace: Workspace, trained: dict[str, Trained]
) -> None:
    credit = trained["credit"].version
    frame = agrawal_frame(400, seed=5)
    x, y = frame.drop(columns=["approved"]), frame["approved"]
    categorical = [c for c in x.columns if not pd.api.types.is_numeric_dtype(x[c])]
    numeric = [c for c in x.columns if c not in categorical]
    knn = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("c", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
                        ("n", StandardScaler(), numeric),
                    ]
                ),
            ),
            ("model", KNeighborsClassifier(n_neighbors=15)),
        ]
    ).fit(x, y)
    blob = persistence.dumps(knn, "skops")
    mv = workspace.registry.register(
        "knn",
        task="classification",
        artifact=workspace.artifacts.put(blob),
        serializer="skops",
        flavor="sklearn",
        signature=credit.signature,
        input_example=credit.input_example,
        params={},
        metrics={},
        lineage={},
    )
    workspace.registry.promote("knn", mv.version)
    with AppClient(create_app(workspace)) as c:
        got = c.post("/v1/models/knn/explain", json={"dataframe_records": rows(2)})
        assert got.status_code == 200, got.text
        e = got.json()["explanations"]
        assert e["method"] == "permutation_shap" and e["exact"] is False  # nine columns: sampled
        assert "KNeighborsClassifier" in e["fallback_reason"] and e["permutations"] >= 2
        proba = knn.predict_proba(pd.DataFrame(rows(2)))
        for i, row in enumerate(e["rows"]):
            assert additive(row) == pytest.approx(proba[i, list(knn.classes_).index(row["class"])], abs=TOL)
    assert np.isfinite(proba).all()
