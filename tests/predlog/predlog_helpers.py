"""Records and row checks shared by the prediction-log tests."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from modelward.predlog import PredictionRecord, new_prediction_id
from modelward.store.schema import predictions


def make_record(model: str = "m", i: int = 0, **overrides: object) -> PredictionRecord:
    fields: dict[str, object] = {
        "id": new_prediction_id(),
        "ts": dt.datetime.now(dt.UTC),
        "model": model,
        "version": 1,
        "arm": None,
        "routing_key_hash": None,
        "features": {"x": float(i), "city": "Oslo"},
        "prediction": i % 2,
        "probabilities": [0.25, 0.75],
        "latency_ms": 0.5,
    }
    fields.update(overrides)
    return PredictionRecord(**fields)  # type: ignore[arg-type]


def stored_ids(url: str) -> list[str]:
    """Ids in the predictions table, read over a connection of its own (not the log's)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.scalars(sa.select(predictions.c.id)))
    finally:
        engine.dispose()
