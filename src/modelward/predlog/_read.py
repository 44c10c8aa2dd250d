"""Reading the log back, for monitoring: predictions of one model joined with their labels."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import orjson
import pandas as pd
import sqlalchemy as sa

from modelward.store import Store
from modelward.store.schema import UtcDateTime, feedback, predictions

if TYPE_CHECKING:
    from modelward.predlog._windows import Window

__all__ = [
    "COLUMNS",
    "Cursor",
    "LabelArrival",
    "PredictionWindow",
    "count_labeled",
    "count_predictions",
    "labels_arrived",
    "latency_samples",
    "read_predictions",
    "read_window",
]

_CHUNK_ROWS = 50_000  # rows fetched and decoded at a time by read_window
_IN_CHUNK = 5_000  # ids per IN (...) list

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
    "context",
    "label",
    "label_ts",
]
# JSON values keep their Python form (dicts, lists, None), whatever pandas would infer.
_JSON_COLUMNS = frozenset({"features", "prediction", "probabilities", "context", "label"})


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


# -- bulk reading for monitoring ----------------------------------------------------------------
# ``read_predictions`` returns one Python object per JSON value. Monitoring reads whole windows
# (100k rows and more), so ``read_window`` fetches the JSON columns as text and decodes each
# column with one orjson call, then builds the feature frame column-wise.

Cursor = tuple[dt.datetime, str]
"""A position in the log: (ts, id) of one prediction; rows are ordered by ts, then id."""


@dataclass(frozen=True)
class PredictionWindow:
    """Logged predictions of one model, decoded for analysis (row order: ts, then id).

    Every field has one entry per row; ``len(window)`` is the number of rows, and ``first`` /
    ``last`` are the cursors of its first and last row.

    Attributes:
        ids: the prediction ids.
        ts: when each prediction was made (UTC).
        version: the model version that made each prediction.
        features: one column per feature key (missing keys are NaN).
        prediction: the model's outputs.
        probabilities: an ``n x k`` float array of class probabilities (rows without them are
            NaN), or ``None`` when no row has any.
        label: the feedback label (``None`` where none arrived).
        labeled: where a label arrived.
        context: one column per key of the rows' ``"context"`` (what callers sent beside the inputs,
            such as a sensitive column; missing keys are NaN); no columns when no row has any.
    """

    ids: npt.NDArray[np.object_]
    ts: pd.DatetimeIndex
    version: npt.NDArray[np.int64]
    features: pd.DataFrame
    prediction: npt.NDArray[Any]
    probabilities: npt.NDArray[np.float64] | None
    label: npt.NDArray[np.object_]
    labeled: npt.NDArray[np.bool_]
    context: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def first(self) -> Cursor | None:
        return (self.ts[0].to_pydatetime(), str(self.ids[0])) if len(self) else None

    @property
    def last(self) -> Cursor | None:
        return (self.ts[-1].to_pydatetime(), str(self.ids[-1])) if len(self) else None


def read_window(
    store: Store,
    model: str,
    window: Window | None = None,
    *,
    version: int | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    after: Cursor | None = None,
    start: Cursor | None = None,
    through: Cursor | None = None,
    offset: int = 0,
    limit: int | None = None,
    labeled_only: bool = False,
    features: Sequence[str] | None = None,
) -> PredictionWindow:
    """Predictions of ``model`` (optionally one ``version``), oldest first, decoded in bulk.

    ``window``: exactly the rows of a planned :class:`~modelward.predlog.Window` (its version and
    bounds; give no other bound with it). Otherwise bounds combine: ``since <= ts < until``;
    ``(ts, id) > after``; ``(ts, id) >= start``; ``(ts, id) <= through``; then ``offset`` rows are
    skipped and at most ``limit`` kept. ``labeled_only`` keeps the rows that have feedback.
    ``features`` fixes the feature columns (in that order); by default every key found.
    """
    if window is not None:
        given = [version, since, until, after, start, through, limit]
        if offset or any(bound is not None for bound in given):
            raise ValueError("read_window: give either a window or explicit bounds, not both")
        version = window.version
        if window.spec.kind == "time":
            since, until = window.start_ts, window.end_ts
        else:
            start, through = window.start, window.through
    query = _window_query(model, version, since, until, after, start, through, labeled_only)
    query = query.order_by(predictions.c.ts, predictions.c.id)
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    # Streamed and decoded in chunks, so the raw JSON text and the per-row Python objects of a large
    # window never all exist at once (server-side cursor on PostgreSQL).
    parts: list[PredictionWindow] = []
    with store.read() as conn:
        result = conn.execution_options(stream_results=True, yield_per=_CHUNK_ROWS).execute(query)
        for chunk in result.partitions(_CHUNK_ROWS):
            parts.append(_decode(chunk, features))
    if not parts:
        return _decode([], features)
    return parts[0] if len(parts) == 1 else _concat(parts)


@dataclass(frozen=True)
class LabelArrival:
    """Feedback for one prediction: which version made it, when it was logged, when the label was stored.

    Attributes:
        version: the model version that made the prediction.
        ts: when the prediction was logged.
        prediction_id: its id.
        updated_at: when its label was (last) stored.
    """

    version: int
    ts: dt.datetime
    prediction_id: str
    updated_at: dt.datetime


def labels_arrived(
    store: Store, model: str, *, updated_since: dt.datetime, logged_since: dt.datetime
) -> list[LabelArrival]:
    """Labels stored (or changed) at or after ``updated_since`` for predictions of ``model`` logged at or
    after ``logged_since`` (how the monitor finds windows whose realized metrics are out of date).

    Read from the feedback side (its ``updated_at`` index: the few labels since the monitor's last look),
    then their predictions by id: joined the other way, a database walks every prediction logged since
    ``logged_since`` (a week of them) at every pass."""
    f, p = feedback.c, predictions.c
    with store.read() as conn:
        fresh = conn.execute(
            sa.select(f.prediction_id, f.updated_at).where(f.updated_at >= updated_since)
        ).all()
        updated = dict(fresh)
        out: list[LabelArrival] = []
        ids = list(updated)
        for k in range(0, len(ids), _IN_CHUNK):
            query = sa.select(p.version, p.ts, p.id).where(
                p.id.in_(ids[k : k + _IN_CHUNK]), p.model == model, p.ts >= logged_since
            )
            out += [LabelArrival(int(v), ts, pid, updated[pid]) for v, ts, pid in conn.execute(query)]
    return out


def count_labeled(
    store: Store, model: str, *, since: dt.datetime | None = None, version: int | None = None
) -> int:
    """How many predictions of ``model`` (optionally of one ``version``, logged at or after ``since``) have a
    label: one COUNT, for the loop's decisions that need only the number."""
    p = predictions.c
    query = (
        sa.select(sa.func.count())
        .select_from(predictions.join(feedback, feedback.c.prediction_id == p.id))
        .where(p.model == model)
    )
    if since is not None:
        query = query.where(p.ts >= since)
    if version is not None:
        query = query.where(p.version == version)
    with store.read() as conn:
        return int(conn.execute(query).scalar() or 0)


def count_predictions(store: Store, model: str, *, since: dt.datetime) -> int:
    """How many predictions of ``model`` were logged at or after ``since`` (one COUNT over the
    ``(model, ts)`` index: the console's prediction volume)."""
    p = predictions.c
    query = sa.select(sa.func.count()).where(p.model == model, p.ts >= since)
    with store.read() as conn:
        return int(conn.execute(query).scalar() or 0)


def latency_samples(
    store: Store,
    model: str,
    windows: Sequence[tuple[dt.datetime, dt.datetime, int]],
    *,
    per_window: int = 500,
) -> list[list[float]]:
    """For each ``(start, end, version)`` window of ``model``, the latencies (ms) of at most ``per_window`` of
    its logged predictions (from ``start`` to ``end`` inclusive): a bounded sample for its latency
    percentiles, all windows in one query."""
    if not windows:
        return []
    params: dict[str, Any] = {"model": model, "limit": per_window}
    for i, (start, end, version) in enumerate(windows):
        params.update({f"v{i}": version, f"s{i}": start, f"e{i}": end})
    out: list[list[float]] = [[] for _ in windows]
    with store.read() as conn:
        for w, latency in conn.execute(_latency_query(len(windows)), params):
            out[int(w)].append(float(latency))
    return out


@functools.lru_cache(maxsize=8)
def _latency_query(n: int) -> sa.CompoundSelect[Any]:
    """The UNION ALL of ``n`` per-window samples, with bound parameters (built once per ``n``: building and
    compiling 30 subqueries costs more than running them)."""
    p = predictions.c
    parts = [
        sa.select(sa.literal(i).label("w"), p.latency_ms)
        .where(
            p.model == sa.bindparam("model"),
            p.version == sa.bindparam(f"v{i}"),
            p.ts >= sa.bindparam(f"s{i}", type_=UtcDateTime),
            p.ts <= sa.bindparam(f"e{i}", type_=UtcDateTime),
        )
        .limit(sa.bindparam("limit", type_=sa.Integer, literal_execute=True))
        .subquery()
        for i in range(n)
    ]
    return sa.union_all(*(sa.select(part.c.w, part.c.latency_ms) for part in parts))


def _rows_query(model: str, labeled_only: bool) -> sa.Select[Any]:
    """Every column monitoring needs; JSON as text (decoded in bulk), ts as the driver gives it."""
    p = predictions.c
    joined = (predictions.join if labeled_only else predictions.outerjoin)(
        feedback, feedback.c.prediction_id == p.id
    )
    return (
        sa.select(
            p.id,
            sa.type_coerce(p.ts, sa.String).label("ts"),
            p.version,
            sa.cast(p.features, sa.Text).label("features"),
            sa.cast(p.prediction, sa.Text).label("prediction"),
            sa.cast(p.probabilities, sa.Text).label("probabilities"),
            sa.cast(feedback.c.label, sa.Text).label("label"),
            feedback.c.prediction_id.label("labeled"),
            sa.cast(p.context, sa.Text).label("context"),
        )
        .select_from(joined)
        .where(p.model == model)
    )


def _window_query(
    model: str,
    version: int | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    after: Cursor | None,
    start: Cursor | None,
    through: Cursor | None,
    labeled_only: bool,
) -> sa.Select[Any]:
    p = predictions.c
    query = _rows_query(model, labeled_only)
    if version is not None:
        query = query.where(p.version == version)
    if since is not None:
        query = query.where(p.ts >= since)
    if until is not None:
        query = query.where(p.ts < until)
    if after is not None:
        query = query.where(sa.tuple_(p.ts, p.id) > sa.tuple_(sa.literal(after[0], UtcDateTime()), after[1]))
    if start is not None:
        query = query.where(sa.tuple_(p.ts, p.id) >= sa.tuple_(sa.literal(start[0], UtcDateTime()), start[1]))
    if through is not None:
        query = query.where(
            sa.tuple_(p.ts, p.id) <= sa.tuple_(sa.literal(through[0], UtcDateTime()), through[1])
        )
    return query


def _concat(parts: list[PredictionWindow]) -> PredictionWindow:
    probas = [p.probabilities for p in parts]
    widths = {p.shape[1] for p in probas if p is not None}
    probabilities: npt.NDArray[np.float64] | None = None
    if len(widths) == 1:
        k = widths.pop()
        probabilities = np.concatenate(
            [
                p if p is not None else np.full((len(part), k), np.nan)
                for p, part in zip(probas, parts, strict=True)
            ]
        )
    predictions = [p.prediction for p in parts]
    kinds = {p.dtype.kind for p in predictions}
    return PredictionWindow(
        ids=np.concatenate([p.ids for p in parts]),
        ts=pd.DatetimeIndex(parts[0].ts.append([p.ts for p in parts[1:]])),
        version=np.concatenate([p.version for p in parts]),
        features=pd.concat([p.features for p in parts], ignore_index=True),
        prediction=np.concatenate(predictions if kinds == {"f"} else [p.astype(object) for p in predictions]),
        probabilities=probabilities,
        label=np.concatenate([p.label for p in parts]),
        labeled=np.concatenate([p.labeled for p in parts]),
        context=_concat_context(parts),
    )


def _concat_context(parts: list[PredictionWindow]) -> pd.DataFrame:
    """The parts' context frames, one row per row of every part (a part with no context has NaN rows)."""
    if all(p.context.empty and len(p.context.columns) == 0 for p in parts):
        return pd.DataFrame(index=pd.RangeIndex(sum(len(p) for p in parts)))
    return pd.concat(
        [p.context if len(p.context.columns) else pd.DataFrame(index=pd.RangeIndex(len(p))) for p in parts],
        ignore_index=True,
    )


def _json_values(texts: Sequence[str | None]) -> list[Any]:
    """Decode many JSON texts with one parser call (SQL NULL → None)."""
    if not texts:
        return []
    body = ",".join("null" if t is None else t for t in texts)
    values: list[Any] = orjson.loads(f"[{body}]")
    return values


def _decode(rows: Sequence[Any], features: Sequence[str] | None) -> PredictionWindow:
    if rows:
        ids, ts_raw, versions, feat_txt, pred_txt, proba_txt, label_txt, labeled_ids, context_txt = zip(
            *rows, strict=True
        )
    else:
        ids = ts_raw = versions = feat_txt = pred_txt = proba_txt = label_txt = labeled_ids = context_txt = ()
    records = _json_values(feat_txt)
    if features is None:
        frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    else:
        frame = (
            pd.DataFrame.from_records(records, columns=list(features))
            if records
            else pd.DataFrame(columns=list(features))
        )
    ts = pd.DatetimeIndex(pd.to_datetime(pd.Series(ts_raw, dtype=object), utc=True, format="ISO8601"))
    prediction = np.asarray(_json_values(pred_txt), dtype=object)
    if prediction.size and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in prediction[:1000]
    ):
        with contextlib.suppress(TypeError, ValueError):
            prediction = prediction.astype(np.float64)
    proba_values = _json_values(proba_txt)
    probabilities: npt.NDArray[np.float64] | None = None
    with contextlib.suppress(ValueError, TypeError):  # every row has k probabilities: one conversion
        probabilities = np.array(proba_values, dtype=np.float64)
    if probabilities is not None and probabilities.ndim != 2:
        probabilities = None
    widths = set() if probabilities is not None else {len(v) for v in proba_values if isinstance(v, list)}
    if len(widths) == 1:
        k = widths.pop()
        probabilities = np.array(
            [v if isinstance(v, list) and len(v) == k else [math.nan] * k for v in proba_values],
            dtype=np.float64,
        )
    labels = np.empty(len(rows), dtype=object)
    labels[:] = _json_values(label_txt)
    return PredictionWindow(
        ids=np.asarray(ids, dtype=object),
        ts=ts,
        version=np.asarray(versions, dtype=np.int64),
        features=frame,
        prediction=prediction,
        probabilities=probabilities,
        label=labels,
        labeled=np.fromiter((i is not None for i in labeled_ids), dtype=bool, count=len(rows)),
        context=_context_frame(context_txt),
    )


def _context_frame(texts: Sequence[str | None]) -> pd.DataFrame:
    """One column per context key (rows without a context: NaN); no columns when no row has one."""
    if not any(t is not None and t != "null" for t in texts):
        return pd.DataFrame(index=pd.RangeIndex(len(texts)))
    return pd.DataFrame.from_records([v if isinstance(v, dict) else {} for v in _json_values(texts)])
