"""The HTTP API in-process (AppClient): formats, answers, errors, feedback, admin, OpenAPI."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelward import Workspace
from modelward.predlog import read_predictions
from modelward.server import create_app

from .conftest import TOKEN, AppClient, Trained, make_workspace, register, rows

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def predict(client: AppClient, body: Any, model: str = "credit", **kw: Any) -> Any:
    return client.post(f"/v1/models/{model}/predict", json=body, **kw)


def metric(client: AppClient, name: str, **labels: str) -> float:
    """The value of one sample of /metrics (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        sample, _, label_text = key.partition("{")
        got = ",".join(sorted(label_text.rstrip("}").split(","))) if label_text else ""
        if sample == name and got == want:
            return float(value)
    return 0.0


# -- shared in-process server on SQLite for the read-only checks ---------------------------------


@pytest.fixture(scope="module")
def sqlite_client(tmp_path_factory: pytest.TempPathFactory, trained: dict[str, Trained]) -> Any:
    root = tmp_path_factory.mktemp("api")
    url = f"sqlite:///{root / 'mw.db'}"
    settings = "serve:\n  max_rows: 50\n  max_body_bytes: 20000\n"
    make_workspace(root / "ws", url, trained, settings)
    with Workspace.open(root / "ws", database_url=url) as ws, AppClient(create_app(ws)) as client:
        yield client


def test_predict_answers_with_ids_model_and_version(
    sqlite_client: AppClient, trained: dict[str, Trained]
) -> None:
    data = rows(5)
    resp = predict(sqlite_client, {"dataframe_records": data})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"predictions", "prediction_ids", "model", "version"}
    assert body["model"] == "credit" and body["version"] == 1
    expected = trained["credit"].estimator.predict(pd.DataFrame(data)).tolist()
    assert body["predictions"] == expected
    assert len(body["prediction_ids"]) == 5 and all(UUID7.match(i) for i in body["prediction_ids"])
    assert body["prediction_ids"] == sorted(body["prediction_ids"])  # time-ordered


def test_all_mlflow_formats_mean_the_same(sqlite_client: AppClient) -> None:
    data = rows(4, seed=3)
    columns = list(data[0])
    bodies = [
        {"dataframe_records": data},
        {"instances": data},
        {"inputs": data},
        {"inputs": {c: [r[c] for r in data] for c in columns}},
        {"dataframe_split": {"columns": columns, "data": [[r[c] for c in columns] for r in data]}},
        {
            "dataframe_split": {
                "columns": columns[::-1],
                "data": [[r[c] for c in columns[::-1]] for r in data],
            }
        },
    ]
    answers = [predict(sqlite_client, b, params={}).json()["predictions"] for b in bodies]
    assert all(a == answers[0] for a in answers), answers
    mlflow = sqlite_client.post("/invocations", json=bodies[0])
    assert mlflow.status_code == 400  # two models served and no default_model
    assert "serve.default_model" in mlflow.json()["error"]["message"]


def test_probabilities_when_asked(sqlite_client: AppClient, trained: dict[str, Trained]) -> None:
    data = rows(3)
    body = predict(sqlite_client, {"instances": data, "return": ["proba"]}).json()
    expected = trained["credit"].estimator.predict_proba(pd.DataFrame(data))
    assert np.allclose(body["probabilities"], expected, atol=1e-12)
    assert body["classes"] == [0, 1]
    assert body["predictions"] == [int(np.argmax(p)) for p in expected]


def test_refs_regression_and_unknown_models(sqlite_client: AppClient, trained: dict[str, Trained]) -> None:
    data = rows(2)
    for ref in ("credit@1", "credit@champion", "credit@v1"):
        assert predict(sqlite_client, {"instances": data}, model=ref).json()["version"] == 1
    price_rows = [{k: r[k] for k in ("age", "loan", "hvalue", "car")} for r in data]
    body = predict(sqlite_client, {"instances": price_rows}, model="price").json()
    expected = trained["price"].estimator.predict(pd.DataFrame(price_rows))
    assert np.allclose(body["predictions"], expected)
    proba = predict(sqlite_client, {"instances": price_rows, "return": ["proba"]}, model="price")
    assert proba.status_code == 400
    assert proba.json()["error"]["message"] == (
        'price@1 is a regression model and has no class probabilities; remove "return": ["proba"].'
    )
    ghost = predict(sqlite_client, {"instances": data}, model="ghost")
    assert ghost.status_code == 404
    assert ghost.json()["error"]["message"] == "No model named 'ghost'. Known models: credit, price."
    alias = predict(sqlite_client, {"instances": data}, model="credit@canary")
    assert alias.status_code == 404 and "has no alias 'canary'" in alias.json()["error"]["message"]
    version = predict(sqlite_client, {"instances": data}, model="credit@7")
    assert version.status_code == 404 and "has no version 7" in version.json()["error"]["message"]


def _bad(**change: Any) -> list[dict[str, Any]]:
    data = rows(3)
    data[2] = {**data[2], **change}
    return data


CAR_KNOWN = "'make01', 'make02', 'make03', 'make04', 'make05', 'make06', 'make07', 'make08', 'make09', 'make10', … (20 in all)"

BAD_INPUTS = [
    (
        {"instances": _bad(age="forty-two")},
        422,
        "wrong_type",
        "Column 'age' expected an integer, got 'forty-two' in row 2 of 3. Send an integer; values are never converted.",
    ),
    (
        {"instances": _bad(age=41.5)},
        422,
        "wrong_type",
        "Column 'age' expected an integer, got 41.5 in row 2 of 3. Send an integer; values are never converted.",
    ),
    (
        {"instances": _bad(salary=True)},
        422,
        "wrong_type",
        "Column 'salary' expected a number, got True in row 2 of 3. Send a number; values are never converted.",
    ),
    (
        {"instances": _bad(loan=None)},
        422,
        "null_not_allowed",
        "Column 'loan' is null in row 2 of 3, but it had no missing values in training. Send a number.",
    ),
    (
        {"instances": _bad(car="make99")},
        422,
        "unknown_category",
        f"Column 'car' has unknown category 'make99' in row 2 of 3; known: {CAR_KNOWN}. "
        "Send a known category (or set serve.unknown_categories: allow).",
    ),
    (
        {"instances": _bad(colour="red")},
        422,
        "missing_column",
        "Column 'colour' is missing in row 0 of 3 (other records have it). "
        "Send the same columns in every record; a missing value is null.",
    ),
    (
        {"instances": [{k: v for k, v in r.items() if k != "age"} for r in rows(2)]},
        422,
        "missing_column",
        "Missing column 'age' (an integer); every row needs it. "
        "The model takes salary, commission, age, elevel, car, zipcode, hvalue, hyears, loan.",
    ),
    (
        {"instances": [{**r, "colour": "red"} for r in rows(2)]},
        422,
        "unexpected_column",
        "Unexpected column 'colour': the model takes salary, commission, age, elevel, car, zipcode, hvalue, "
        "hyears, loan. Remove it (or set serve.unexpected_columns: drop).",
    ),
    (
        {"instances": rows(51)},
        413,
        "too_many_rows",
        "51 rows in one request; at most 50 are accepted (serve.max_rows). Split the request.",
    ),
    (
        {"instances": rows(2), "inputs": rows(2)},
        400,
        "malformed",
        "Send exactly one of dataframe_split, dataframe_records, instances, inputs; got instances, inputs.",
    ),
    (
        {"records": rows(2)},
        400,
        "malformed",
        "Unknown key(s) 'records' in the request body. Valid keys: dataframe_split, dataframe_records, "
        "instances, inputs, return, routing_key, params, explain, context.",
    ),
    (
        {"dataframe_split": {"columns": ["age"], "data": [[1, 2]]}},
        400,
        "malformed",
        "dataframe_split.data row 0 of 1 has 2 values; expected 1 (one per column).",
    ),
]


@pytest.mark.parametrize(("body", "status", "reason", "message"), BAD_INPUTS)
def test_bad_input_is_refused_with_column_row_and_fix(
    sqlite_client: AppClient, body: Any, status: int, reason: str, message: str
) -> None:
    before = metric(sqlite_client, "modelward_input_errors_total", model="credit", reason=reason)
    resp = predict(sqlite_client, body)
    assert resp.status_code == status, resp.text
    error = resp.json()
    assert set(error) == {"error"} and set(error["error"]) == {"code", "message", "details"}
    assert error["error"]["code"] == "invalid_input"
    assert error["error"]["message"] == message
    assert error["error"]["details"]["reason"] == reason
    after = metric(sqlite_client, "modelward_input_errors_total", model="credit", reason=reason)
    assert after == before + 1


def test_error_details_name_column_and_row(sqlite_client: AppClient) -> None:
    details = predict(sqlite_client, {"instances": _bad(age="x")}).json()["error"]["details"]
    assert details == {
        "reason": "wrong_type",
        "column": "age",
        "row": 2,
        "expected": "an integer",
        "got": "string",
    }


def test_body_limits_and_malformed_json(sqlite_client: AppClient) -> None:
    big = sqlite_client.post("/v1/models/credit/predict", content=b'{"instances": [' + b" " * 30000 + b"]}")
    assert big.status_code == 413
    assert big.json()["error"]["message"] == (
        "The request body is 30017 bytes or more; at most 20000 are accepted (serve.max_body_bytes). "
        "Send a smaller body (fewer rows or items per request)."
    )
    bad = sqlite_client.post("/v1/models/credit/predict", content=b'{"instances": [')
    assert bad.status_code == 400 and bad.json()["error"]["message"].startswith(
        "The request body is not valid JSON"
    )
    nan = sqlite_client.post("/v1/models/credit/predict", content=b'{"instances": [{"age": NaN}]}')
    assert nan.status_code == 400  # JSON has no NaN: refused, not coerced
    empty = predict(sqlite_client, {"instances": []})
    assert empty.json()["error"]["message"] == "'instances' holds no rows; send at least one."


def test_unknown_route_uses_the_error_shape(sqlite_client: AppClient) -> None:
    resp = sqlite_client.get("/v2/nothing")
    assert resp.status_code == 404
    assert resp.json() == {
        "error": {
            "code": "not_found",
            "message": "Not Found: GET /v2/nothing. See /docs for the endpoints.",
            "details": {},
        }
    }


def test_models_health_and_metrics(sqlite_client: AppClient) -> None:
    served = sqlite_client.get("/v1/models").json()["models"]
    by_ref = {(m["model"], m["ref"]): m for m in served}
    assert by_ref[("credit", "champion")]["version"] == 1 and by_ref[("price", "champion")]["version"] == 1
    credit = by_ref[("credit", "champion")]
    assert credit["aliases"] == ["champion"] and credit["inputs"][0]["name"] == "salary"
    assert credit["task"] == "classification"
    assert sqlite_client.get("/healthz").json() == {"status": "ok"}
    assert sqlite_client.get("/readyz").json()["status"] == "ready"
    before = metric(sqlite_client, "modelward_predictions_total", model="credit", version="1", arm="champion")
    predict(sqlite_client, {"instances": rows(3)})
    text = sqlite_client.get("/metrics").text
    assert metric(
        sqlite_client, "modelward_predictions_total", model="credit", version="1", arm="champion"
    ) == (before + 3)
    for needle in (
        'modelward_request_duration_seconds_bucket{arm="champion",le="0.001",model="credit",version="1"}',
        'modelward_predicted_class_total{class="0",model="credit",version="1"}',
        'modelward_model_info{alias="champion",model="credit",version="1"} 1.0',
        "modelward_batch_size_rows_count",
        "modelward_log_queue_depth",
        "modelward_log_commit_duration_seconds_count",
        "modelward_log_spool_bytes",
    ):
        assert needle in text, needle


def test_openapi_documents_every_endpoint(sqlite_client: AppClient) -> None:
    schema = sqlite_client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/v1/models/{model}/predict",
        "/invocations",
        "/v1/feedback",
        "/v1/models",
        "/metrics",
        "/healthz",
        "/readyz",
        "/v1/admin/models/{name}/promote",
        "/v1/admin/models/{name}/rollback",
    ):
        assert path in paths, path
    predict_op = paths["/v1/models/{model}/predict"]["post"]
    body_ref = predict_op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    components = schema["components"]["schemas"]
    request = components[body_ref.rsplit("/", 1)[1]]
    assert {"dataframe_split", "dataframe_records", "instances", "inputs", "return"} <= set(
        request["properties"]
    )
    assert set(predict_op["responses"]) >= {"200", "400", "404", "413", "422", "503"}

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    missing = {r for r in refs(schema) if r.rsplit("/", 1)[1] not in components}
    assert not missing, missing


# -- on both backends: feedback, admin, invocations ------------------------------------------


def test_feedback_is_idempotent_conflicts_and_names_unknown_ids(
    client: AppClient, workspace: Workspace
) -> None:
    ids = predict(client, {"instances": rows(3)}).json()["prediction_ids"]
    first = client.post("/v1/feedback", json={"prediction_id": ids[0], "label": 1})
    assert first.status_code == 200 and first.json() == {
        "results": [{"prediction_id": ids[0], "status": "recorded"}]
    }
    again = client.post(
        "/v1/feedback", json=[{"prediction_id": ids[0], "label": 1}, {"prediction_id": ids[1], "label": 0}]
    )
    assert [r["status"] for r in again.json()["results"]] == ["unchanged", "recorded"]
    conflict = client.post("/v1/feedback", json={"prediction_id": ids[0], "label": 0})
    assert conflict.status_code == 409 and ids[0] in conflict.json()["error"]["message"]
    overwrite = client.post("/v1/feedback", json={"prediction_id": ids[0], "label": 0, "overwrite": True})
    assert overwrite.json()["results"][0]["status"] == "overwritten"
    ghost = "01900000-0000-7000-8000-000000000000"
    missing = client.post("/v1/feedback", json={"prediction_id": ghost, "label": 1})
    assert missing.status_code == 404 and ghost in missing.json()["error"]["message"]
    invalid = client.post("/v1/feedback", json={"label": 1})
    assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "invalid_request"
    text = client.get("/metrics").text
    assert 'modelward_feedback_total{status="recorded"} 2.0' in text
    assert 'modelward_feedback_total{status="conflict"} 1.0' in text
    logged = read_predictions(workspace.store, "credit")
    assert set(ids) <= set(logged["id"])
    labels = dict(zip(logged["id"], logged["label"], strict=True))
    assert (labels[ids[0]], labels[ids[1]], labels[ids[2]]) == (0, 0, None)


def test_admin_needs_the_token_and_records_events(
    client: AppClient, workspace: Workspace, trained: dict[str, Trained]
) -> None:
    register(workspace, trained["credit"], promote=False)  # credit@2
    url = "/v1/admin/models/credit/promote"
    body = {"version": 2, "reason": "better on recent data", "actor": "alice"}
    none = client.post(url, json=body)
    assert none.status_code == 401 and none.headers["www-authenticate"] == "Bearer"
    assert none.json()["error"]["code"] == "unauthorized"
    wrong = client.post(url, json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and wrong.json()["error"]["message"] == "The admin token is wrong."
    auth = {"Authorization": f"Bearer {TOKEN}"}
    done = client.post(url, json=body, headers=auth)
    assert done.status_code == 200, done.text
    assert done.json() == {
        "model": "credit",
        "alias": "champion",
        "from_version": 1,
        "to_version": 2,
        "actor": "api:alice",
        "reason": "better on recent data",
        "kind": "alias_set",
    }
    # Served at once: the admin call reloads instead of waiting for the poll.
    assert predict(client, {"instances": rows(1)}).json()["version"] == 2
    back = client.post("/v1/admin/models/credit/rollback", json={"reason": "alert"}, headers=auth)
    assert back.json()["to_version"] == 1 and back.json()["actor"] == "api:admin"
    assert predict(client, {"instances": rows(1)}).json()["version"] == 1
    history = workspace.registry.history("credit", "champion")
    assert [(h.kind, h.to_version, h.actor, h.reason) for h in history[-2:]] == [
        ("alias_set", 2, "api:alice", "better on recent data"),
        ("alias_rollback", 1, "api:admin", "alert"),
    ]
    missing = client.post(url, json={"version": 9}, headers=auth)
    assert missing.status_code == 404 and "has no version 9" in missing.json()["error"]["message"]


def test_invocations_serves_the_default_model(
    tmp_path: Path, database_url: str, trained: dict[str, Trained]
) -> None:
    root = make_workspace(tmp_path / "ws", database_url, trained, "serve:\n  default_model: credit\n")
    with Workspace.open(root, database_url=database_url) as ws, AppClient(create_app(ws)) as client:
        data = rows(2)
        split = {"columns": list(data[0]), "data": [list(r.values()) for r in data]}
        mlflow = client.post("/invocations", json={"dataframe_split": split})
        direct = predict(client, {"dataframe_records": data})
        assert mlflow.status_code == 200, mlflow.text
        assert mlflow.json()["predictions"] == direct.json()["predictions"]
        assert mlflow.json()["model"] == "credit"
