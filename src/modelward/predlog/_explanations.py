"""Explanations logged beside predictions (``log.explanations``): what a caller was told about why.

Why this exists: an explanation answered to a caller is evidence (an application refused, and the inputs
that weighed most); with ``log.explanations`` on, the server stores each explained row by prediction id,
so it can be read back beside the prediction and its label. Written on the explain thread once the
explanations are computed, before the answer is sent; a row already stored for an id is kept (a retry
writes nothing twice).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from modelward.errors import ModelwardError
from modelward.store import Store
from modelward.store.schema import prediction_explanations

__all__ = ["ExplanationRecord", "read_explanations", "record_explanations"]

_COLUMNS = ["prediction_id", "model", "version", "ts", "method", "output", "explanation"]


@dataclass(frozen=True)
class ExplanationRecord:
    """One explained prediction.

    Attributes:
        prediction_id: the id the predict answer gave the row.
        model, version: the model version that answered.
        ts: when the explanation was made (timezone-aware).
        method: the explainer (``tree_shap``, ``linear_shap``, ``exact_shap``, ``permutation_shap``).
        output: the space of the attributions (``probability``, ``log_odds``, ``logit``, ``prediction``).
        explanation: the row as the answer's ``explanations.rows`` held it (base value and attribution per
            input column; a list over every class when all classes were asked for).
    """

    prediction_id: str
    model: str
    version: int
    ts: dt.datetime
    method: str
    output: str
    explanation: Any


def record_explanations(store: Store, records: Sequence[ExplanationRecord]) -> None:
    """Store ``records``, keeping a row already stored for the same prediction id."""
    if not records:
        return
    table = prediction_explanations
    if store.dialect == "postgresql":
        insert: Any = postgresql.insert(table).on_conflict_do_nothing(index_elements=[table.c.prediction_id])
    elif store.dialect == "sqlite":
        insert = sqlite.insert(table).on_conflict_do_nothing(index_elements=[table.c.prediction_id])
    else:
        raise ModelwardError(f"The prediction log supports SQLite and PostgreSQL, not {store.dialect!r}.")
    with store.write() as conn:
        conn.execute(insert, [{c: getattr(r, c) for c in _COLUMNS} for r in records])


def read_explanations(
    store: Store,
    model: str,
    *,
    ids: Sequence[str] | None = None,
    since: dt.datetime | None = None,
    limit: int = 10_000,
) -> pd.DataFrame:
    """Logged explanations of ``model`` (optionally only ``ids``, or those made at or after ``since``),
    oldest first, at most the newest ``limit``; columns: ``prediction_id, model, version, ts, method,
    output, explanation``."""
    c = prediction_explanations.c
    query = sa.select(*(c[n] for n in _COLUMNS)).where(c.model == model)
    if ids is not None:
        query = query.where(c.prediction_id.in_(list(ids)))
    if since is not None:
        query = query.where(c.ts >= since)
    query = query.order_by(c.ts.desc(), c.prediction_id.desc()).limit(limit)
    with store.read() as conn:
        rows = [tuple(row) for row in conn.execute(query)][::-1]
    frame = pd.DataFrame(rows, columns=_COLUMNS)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame
