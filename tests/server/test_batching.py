"""Micro-batching: concurrent requests merge into one predict call; each caller gets its own rows."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from modelward import Workspace
from modelward.server import create_app
from modelward.server.batching import MicroBatcher

from .conftest import AppClient, Trained, make_workspace, rows


def test_concurrent_requests_are_merged_and_routed_back(tmp_path: Path, trained: dict[str, Trained]) -> None:
    url = f"sqlite:///{tmp_path / 'mw.db'}"
    root = make_workspace(tmp_path / "ws", url, trained, "serve:\n  batch_max_wait_ms: 25\n")
    data = rows(40, seed=5)
    expected = trained["credit"].estimator.predict_proba(pd.DataFrame(data))[:, 1].tolist()
    with Workspace.open(root, database_url=url) as ws, AppClient(create_app(ws)) as client:

        async def one(i: int) -> httpx.Response:
            row = dict(data[i])
            if i in (7, 23):  # bad rows fail only their own request
                row["age"] = "old"
            body = {"dataframe_records": [row], "return": ["proba"]}
            return await client.client.post("/v1/models/credit/predict", json=body)

        answers = client.run_all([one(i) for i in range(len(data))])
        metrics = client.get("/metrics").text

    for i, resp in enumerate(answers):
        if i in (7, 23):
            assert resp.status_code == 422
            assert resp.json()["error"]["message"].startswith(
                "Column 'age' expected an integer, got 'old' in row 0"
            )
            continue
        assert resp.status_code == 200, resp.text
        assert resp.json()["probabilities"][0][1] == pytest.approx(expected[i], abs=1e-12), i
    batches = _sample(metrics, 'modelward_batch_size_rows_count{model="credit",version="1"}')
    merged_rows = _sample(metrics, 'modelward_batch_size_rows_sum{model="credit",version="1"}')
    assert merged_rows == 38
    assert batches < 38 / 4, f"{batches} predict calls for 38 requests"
    logged = _sample(metrics, 'modelward_predictions_total{arm="champion",model="credit",version="1"}')
    assert logged == 38


def _sample(text: str, key: str) -> float:
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{key} not in metrics")


# -- the batcher on its own -----------------------------------------------------------------------


def _run(batcher: MicroBatcher[Any, Any], items: list[Any]) -> list[Any]:
    async def main() -> list[Any]:
        return list(await asyncio.gather(*(batcher.submit(i) for i in items), return_exceptions=True))

    return asyncio.run(main())


def test_batches_respect_max_rows_and_keep_order() -> None:
    calls: list[list[int]] = []

    def process(items: list[list[int]]) -> list[list[int]]:
        calls.append([len(i) for i in items])
        return [[10 * v for v in item] for item in items]

    batcher = MicroBatcher(process, executor=ThreadPoolExecutor(1), max_rows=5, max_wait_s=0.01, rows=len)
    items = [[1, 2], [3, 4], [5], [6, 7, 8, 9, 10, 11], [12]]
    assert _run(batcher, items) == [[10, 20], [30, 40], [50], [60, 70, 80, 90, 100, 110], [120]]
    assert calls == [[2, 2, 1], [6], [1]]  # an item bigger than max_rows is a batch of its own
    assert batcher.idle


def test_a_poisoned_batch_is_split_so_only_the_poisoned_item_fails() -> None:
    calls: list[list[int]] = []

    def process(items: list[int]) -> list[int]:
        calls.append(list(items))
        if 13 in items:
            raise ValueError("unlucky item")
        return [10 * i for i in items]

    batcher = MicroBatcher(process, executor=ThreadPoolExecutor(1), max_rows=4, max_wait_s=0.01)
    out = _run(batcher, [1, 13, 3, 4, 5])
    assert out[0] == 10 and out[2:] == [30, 40, 50]
    assert isinstance(out[1], ValueError) and str(out[1]) == "unlucky item"
    assert calls == [[1, 13, 3, 4], [1], [13], [3], [4], [5]]
    assert batcher.idle


def test_a_value_the_model_refuses_fails_only_its_own_request(
    tmp_path: Path, trained: dict[str, Trained]
) -> None:
    """An estimator that raises on one request's rows: that request gets a 422, its batch-mates answers."""
    url = f"sqlite:///{tmp_path / 'mw.db'}"
    root = make_workspace(tmp_path / "ws", url, trained, "serve:\n  batch_max_wait_ms: 25\n")
    data = rows(32, seed=3)
    with Workspace.open(root, database_url=url) as ws, AppClient(create_app(ws)) as client:
        served = client.run(client.app.state.modelward.cache.get("credit"))
        served._fast = None  # through the estimator itself, which is the user's code
        served.estimator = _Refusing(served.estimator, poison=12345.5)

        async def one(i: int) -> httpx.Response:
            row = {**data[i], "salary": 12345.5} if i % 16 == 5 else data[i]
            return await client.client.post("/v1/models/credit/predict", json={"instances": [row]})

        answers = client.run_all([one(i) for i in range(len(data))])
        metrics = client.get("/metrics").text
    for i, resp in enumerate(answers):
        if i % 16 == 5:
            assert resp.status_code == 422, resp.text
            error = resp.json()["error"]
            assert error["details"]["reason"] == "model_rejected"
            assert error["message"] == (
                "credit@1 could not predict the 1 row(s) of this request: ValueError: salary 12345.5 refused. "
                "Check the values sent; nothing was logged."
            )
        else:
            assert resp.status_code == 200, resp.text
    assert _sample(metrics, 'modelward_input_errors_total{model="credit",reason="model_rejected"}') == 2
    assert _sample(metrics, 'modelward_predictions_total{arm="champion",model="credit",version="1"}') == 30


class _Refusing:
    """Wraps an estimator; raises when any row holds ``poison`` as its salary."""

    def __init__(self, estimator: Any, poison: float) -> None:
        self.estimator, self.poison = estimator, poison

    def _check(self, x: pd.DataFrame) -> None:
        if (x["salary"] == self.poison).any():
            raise ValueError(f"salary {self.poison} refused")

    def predict(self, x: pd.DataFrame) -> Any:
        self._check(x)
        return self.estimator.predict(x)

    def predict_proba(self, x: pd.DataFrame) -> Any:
        self._check(x)
        return self.estimator.predict_proba(x)
