"""Fixtures of the server tests: models trained once, registered into fresh workspaces.

Training runs once per session (on SQLite); each test's workspace gets the same model
bytes registered directly, which takes milliseconds, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from modelward import Workspace
from modelward.demo import agrawal_frame
from modelward.server import create_app
from support.configs import LR_AND_FOREST_REGRESSOR, TrainedModel, register, train_demo_models

CONFIG = LR_AND_FOREST_REGRESSOR

TOKEN = "s3cret-admin-token"


Trained = TrainedModel


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Trained]:
    return train_demo_models(tmp_path_factory.mktemp("training"), rows=1200)


def make_workspace(root: Path, database_url: str, trained: dict[str, Trained], settings: str = "") -> Path:
    """A workspace at ``root`` serving credit@1 and price@1 as champions."""
    root.mkdir(parents=True, exist_ok=True)
    config = f"admin_token: {TOKEN}\n{settings}{CONFIG}"
    with Workspace.init(root, config=config, database_url=database_url) as ws:
        for t in trained.values():
            register(ws, t, promote=True)
    return root


@pytest.fixture
def workspace(tmp_path: Path, database_url: str, trained: dict[str, Trained]) -> Iterator[Workspace]:
    """A workspace on both backends (via ``database_url``) serving credit and price."""
    root = make_workspace(tmp_path / "ws", database_url, trained)
    with Workspace.open(root, database_url=database_url) as ws:
        yield ws


class AppClient:
    """A synchronous client of an app running in-process (httpx.ASGITransport), lifespan included.

    The app runs on an event loop in a thread of its own, as under uvicorn; ``run_all`` sends
    requests concurrently.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._lifespan = app.router.lifespan_context(app)
        self.run(self._lifespan.__aenter__())
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def run_all(self, coros: list[Coroutine[Any, Any, Any]]) -> list[Any]:
        async def gather() -> list[Any]:
            return list(await asyncio.gather(*coros))

        return list(self.run(gather()))

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.run(self.client.get(url, **kw))  # type: ignore[no-any-return]

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.run(self.client.post(url, **kw))  # type: ignore[no-any-return]

    def close(self) -> None:
        try:
            self.run(self.client.aclose())
            self.run(self._lifespan.__aexit__(None, None, None))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    def __enter__(self) -> AppClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def client(workspace: Workspace) -> Iterator[AppClient]:
    with AppClient(create_app(workspace)) as c:
        yield c


def rows(n: int, seed: int = 11) -> list[dict[str, Any]]:
    """``n`` valid input records of the credit model."""
    frame = agrawal_frame(n, seed=seed).drop(columns=["approved"])
    return frame.to_dict(orient="records")  # type: ignore[return-value]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
