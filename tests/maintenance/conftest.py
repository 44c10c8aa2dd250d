"""Fixtures of the monitor tests: models trained once, a fresh workspace per test (SQLite and
PostgreSQL), predictions written through the real PredictionLog writer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelward import Workspace
from modelward.demo import agrawal_frame
from modelward.predlog import FeedbackItem, PredictionLog, PredictionRecord, new_prediction_id
from support.configs import LR_AND_FOREST_REGRESSOR, TrainedModel, register, train_demo_models

CONFIG = LR_AND_FOREST_REGRESSOR

T0 = dt.datetime(2026, 3, 1, 0, 0, tzinfo=dt.UTC)


Trained = TrainedModel


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Trained]:
    return train_demo_models(tmp_path_factory.mktemp("training"), rows=2000)


@pytest.fixture
def workspace(tmp_path: Path, database_url: str, trained: dict[str, Trained]) -> Iterator[Workspace]:
    root = tmp_path / "ws"
    with Workspace.init(root, config=CONFIG, database_url=database_url) as ws:
        for t in trained.values():
            register(ws, t)
    with Workspace.open(root, database_url=database_url) as ws:
        yield ws


class Logger:
    """Writes predictions the way the server does: model outputs, through PredictionLog."""

    def __init__(self, ws: Workspace, trained: dict[str, Trained], spool: Path) -> None:
        self.ws = ws
        self.trained = trained
        self.plog = PredictionLog(ws.store, spool_dir=spool)
        self.plog.start()

    def log(
        self,
        model: str,
        frame: pd.DataFrame,
        start: dt.datetime,
        *,
        spacing_s: float = 1.0,
        version: int = 1,
        context: list[dict[str, Any]] | None = None,
    ) -> list[str]:
        """Predict ``frame``'s rows and log them ``spacing_s`` apart from ``start`` (with ``context``: each
        row's predict-body context); returns the ids."""
        t = self.trained[model]
        features = list(t.version.lineage["features"])
        x = frame[features]
        pred = t.estimator.predict(x)
        proba = t.estimator.predict_proba(x) if model == "credit" else None
        records = []
        ids = []
        for i, row in enumerate(x.to_dict(orient="records")):
            pid = new_prediction_id()
            ids.append(pid)
            records.append(
                PredictionRecord(
                    pid,
                    start + dt.timedelta(seconds=i * spacing_s),
                    model,
                    version,
                    None,
                    None,
                    row,
                    pred[i].item(),
                    None if proba is None else proba[i].tolist(),
                    1.0,
                    None if context is None else context[i],
                )
            )
        for k in range(0, len(records), 2000):
            self.plog.submit(records[k : k + 2000]).result(timeout=60)
        return ids

    def feedback(self, ids: list[str], labels: Any, *, now: dt.datetime | None = None) -> None:
        items = [FeedbackItem(pid, np.asarray(labels)[i].item()) for i, pid in enumerate(ids)]
        for k in range(0, len(items), 2000):
            self.plog.add_feedback(items[k : k + 2000], now=now)

    def close(self) -> None:
        self.plog.close()


@pytest.fixture
def logger(workspace: Workspace, trained: dict[str, Trained], tmp_path: Path) -> Iterator[Logger]:
    lg = Logger(workspace, trained, tmp_path / "spool")
    yield lg
    lg.close()


def data(n: int, seed: int) -> pd.DataFrame:
    return agrawal_frame(n, seed=seed)
