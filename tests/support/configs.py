"""Workspace configuration and trained models shared by the server and monitoring tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelward import Workspace
from modelward.demo import agrawal_frame
from modelward.registry import ModelVersion

#: A LogisticRegression classifier (``credit``) and a small forest regressor (``price``) on the demo data.
LR_AND_FOREST_REGRESSOR = """\
models:
  credit:
    task: classification
    target: approved
    dataset: agrawal
    entrypoint: modelward.demo:train_logistic_regression
    params: {max_iter: 300}
  price:
    task: regression
    target: salary
    dataset: agrawal
    features: [age, loan, hvalue, car]
    entrypoint: modelward.demo:train_random_forest_regressor
    params: {n_estimators: 5, max_depth: 4, random_state: 0}
"""


@dataclass(frozen=True)
class TrainedModel:
    """A model trained once per test session: its stored bytes, its training snapshot, its record."""

    blob: bytes
    dataset_blob: bytes
    version: ModelVersion
    estimator: Any


def train_demo_models(root: Path, rows: int) -> dict[str, TrainedModel]:
    """``credit`` and ``price`` of :data:`LR_AND_FOREST_REGRESSOR` trained on ``rows`` demo rows."""
    agrawal_frame(rows, seed=7).to_csv(root / "agrawal.csv", index=False)
    out = {}
    with Workspace.init(root, config=LR_AND_FOREST_REGRESSOR) as ws:
        ws.datasets.add(root / "agrawal.csv", "agrawal")
        for name in ("credit", "price"):
            mv = ws.train(name)
            out[name] = TrainedModel(
                ws.artifacts.get(mv.artifact),
                ws.artifacts.get(mv.lineage["dataset"]["artifact"]),
                mv,
                ws.load_model(mv),
            )
    return out


def register(ws: Workspace, trained: TrainedModel, *, promote: bool = False) -> ModelVersion:
    """Register the trained bytes in ``ws`` as the next version (its training snapshot copied along)."""
    mv = trained.version
    ws.artifacts.put(trained.dataset_blob)
    new = ws.registry.register(
        mv.name,
        task=mv.task,
        artifact=ws.artifacts.put(trained.blob),
        serializer=mv.serializer,
        flavor=mv.flavor,
        trusted_types=mv.trusted_types,
        signature=mv.signature,
        input_example=mv.input_example,
        params=mv.params,
        metrics=mv.metrics,
        lineage=mv.lineage,
    )
    if promote:
        ws.registry.promote(new.name, new.version, reason="test setup")
    return new
