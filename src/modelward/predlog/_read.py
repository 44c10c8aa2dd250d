"""Reading the log back, for monitoring: predictions of one model joined with their labels."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from modelward.store import Store
from modelward.store.schema import feedback, predictions

__all__ = ["COLUMNS", "read_predictions"]

COLUMNS = [
    "id",
    "ts",
    "model",
    "version",
    "arm",
    "routing_key_hash",
    "features",
    "prediction",
    "probabilities",
    "latency_ms",
    "label",
    "label_ts",
]
# JSON values keep their Python form (dicts, lists, None), whatever pandas would infer.
_JSON_COLUMNS = frozenset({"features", "prediction", "probabilities", "label"})


def read_predictions(
    store: Store,
    model: str,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Predictions of ``model`` with ``since <= ts < until``, oldest first, with their labels.

    ``limit`` keeps the most recent rows. Columns: ``COLUMNS``; ``features`` holds one dict per
    row (``pd.json_normalize(df["features"].tolist())`` spreads it into columns); ``label`` is None
    and ``label_ts`` NaT where no feedback arrived.
    """
    joined = predictions.outerjoin(feedback, feedback.c.prediction_id == predictions.c.id)
    query = (
        sa.select(*predictions.c, feedback.c.label, feedback.c.ts.label("label_ts"))
        .select_from(joined)
        .where(predictions.c.model == model)
    )
    if since is not None:
        query = query.where(predictions.c.ts >= since)
    if until is not None:
        query = query.where(predictions.c.ts < until)
    if limit is not None:
        query = query.order_by(predictions.c.ts.desc(), predictions.c.id.desc()).limit(limit)
    else:
        query = query.order_by(predictions.c.ts, predictions.c.id)
    with store.read() as conn:
        rows = [tuple(row) for row in conn.execute(query)]
    if limit is not None:
        rows.reverse()
    values = list(zip(*rows, strict=True)) if rows else [() for _ in COLUMNS]
    frame = pd.DataFrame(
        {
            name: pd.Series(column, dtype=object if name in _JSON_COLUMNS else None)
            for name, column in zip(COLUMNS, values, strict=True)
        }
    )
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame["label_ts"] = pd.to_datetime(frame["label_ts"], utc=True)
    return frame
