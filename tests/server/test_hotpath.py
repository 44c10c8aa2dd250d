"""The predict hot path at the ASGI level: streamed bodies, size limits without a length, disconnects."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelward import Workspace
from modelward.server import create_app

from .conftest import AppClient, Trained, make_workspace, rows


@pytest.fixture(scope="module")
def small_limit_client(tmp_path_factory: pytest.TempPathFactory, trained: dict[str, Trained]) -> Any:
    root = tmp_path_factory.mktemp("hotpath")
    url = f"sqlite:///{root / 'mw.db'}"
    make_workspace(root / "ws", url, trained, "serve:\n  max_body_bytes: 5000\n")
    with Workspace.open(root / "ws", database_url=url) as ws, AppClient(create_app(ws)) as client:
        yield client


def _call(
    client: AppClient, path: str, chunks: list[bytes], *, disconnect: bool = False, root_path: str = ""
) -> list[dict[str, Any]]:
    """Send ``chunks`` as one streamed body (no content-length); return what the app sent."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
    ]
    if disconnect:
        messages = [{"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": root_path + path,
        "raw_path": (root_path + path).encode(),
        "root_path": root_path,
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("t", 80),
    }
    client.run(client.app(scope, receive, send))
    return sent


def test_streamed_body_is_read_whole(small_limit_client: AppClient) -> None:
    body = json.dumps({"dataframe_records": rows(3)}).encode()
    sent = _call(small_limit_client, "/v1/models/credit/predict", [body[:10], body[10:50], body[50:]])
    assert sent[0]["status"] == 200
    answer = json.loads(sent[1]["body"])
    assert len(answer["predictions"]) == 3 and len(answer["prediction_ids"]) == 3
    headers = dict(sent[0]["headers"])
    assert headers[b"content-type"] == b"application/json"
    assert int(headers[b"content-length"]) == len(sent[1]["body"])


def test_streamed_body_over_the_limit_is_413_without_a_length(small_limit_client: AppClient) -> None:
    sent = _call(small_limit_client, "/v1/models/credit/predict", [b'{"instances": [' + b" " * 3000] * 2)
    assert sent[0]["status"] == 413
    error = json.loads(sent[1]["body"])["error"]
    assert error["details"] == {
        "reason": "body_too_large",
        "column": None,
        "row": None,
        "max_body_bytes": 5000,
    }
    assert error["message"].startswith("The request body is 6030 bytes or more; at most 5000 are accepted")


def test_client_gone_before_its_body_gets_no_answer(small_limit_client: AppClient) -> None:
    assert _call(small_limit_client, "/v1/models/credit/predict", [], disconnect=True) == []


def test_other_paths_and_methods_go_to_fastapi(small_limit_client: AppClient) -> None:
    assert small_limit_client.get("/v1/models/credit/predict").status_code == 405
    nested = small_limit_client.post("/v1/models/a/b/predict", json={"instances": [{}]})
    assert nested.status_code == 404 and nested.json()["error"]["code"] == "not_found"
    unknown = small_limit_client.post("/v1/models/nope/predict", json={"instances": [{}]})
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]["message"]


def test_under_a_root_path_fastapi_routes_answer_the_same_way(small_limit_client: AppClient) -> None:
    # Behind a proxy prefix the hot path steps aside and FastAPI's predict route answers.
    body = json.dumps({"dataframe_records": rows(2)}).encode()
    sent = _call(small_limit_client, "/v1/models/credit/predict", [body[:7], body[7:]], root_path="/api")
    assert sent[0]["status"] == 200
    answer = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert len(answer["predictions"]) == 2 and answer["model"] == "credit"
    too_big = _call(
        small_limit_client,
        "/v1/models/credit/predict",
        [b'{"instances": [' + b" " * 3000] * 2,
        root_path="/api",
    )
    assert too_big[0]["status"] == 413
    error = json.loads(b"".join(m.get("body", b"") for m in too_big[1:]))["error"]
    assert error["details"]["reason"] == "body_too_large"
    assert (
        _call(small_limit_client, "/v1/models/credit/predict", [], disconnect=True, root_path="/api")[0][
            "status"
        ]
        == 499
    )
