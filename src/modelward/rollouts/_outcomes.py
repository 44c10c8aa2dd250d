"""What a rollout decision reads: each arm's logged predictions (latency, prediction, label and when the
label arrived) and each arm's request and error counters per interval.

A shadow prediction's id is its champion twin's id with the UUID version nibble ``7`` turned into ``8``
(:func:`shadow_twin`): callers only ever see the champion's id, so feedback labels the champion's row, and
the shadow row takes the label of its twin.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa

from modelward.store import Store
from modelward.store.schema import feedback, predictions, rollout_counts

__all__ = ["ArmCounts", "ArmRows", "read_arm_rows", "read_counts", "shadow_twin"]


def shadow_twin(prediction_id: str) -> str:
    """The id of the other half of a shadow pair: champion id ↔ shadow id (the UUID version nibble 7 ↔ 8).

    >>> shadow_twin("0190b2a4-5c1e-7abc-8def-0123456789ab")
    '0190b2a4-5c1e-8abc-8def-0123456789ab'
    >>> shadow_twin(shadow_twin("0190b2a4-5c1e-7abc-8def-0123456789ab"))[14]
    '7'
    """
    nibble = {"7": "8", "8": "7"}.get(prediction_id[14])
    if nibble is None:
        raise ValueError(f"{prediction_id!r} is not a modelward prediction id (UUID version 7 or 8)")
    return prediction_id[:14] + nibble + prediction_id[15:]


@dataclass
class ArmRows:
    """One arm's predictions since the rollout started, oldest first.

    ``latency_ms`` has one entry per *request*, not per row: the rows of one request share its latency, and
    counting a slow ten-row request ten times would make the latency guardrail's binomial test (which
    assumes independent requests) fail on one hiccup. A request is recognised by its rows' shared
    ``(ts, latency_ms)``: ``ts`` is its micro-batch's time, the latency its own arrival-to-answer time."""

    ids: list[str] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    predictions: list[Any] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)
    label_ts: list[dt.datetime | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def labeled(self) -> int:
        return sum(ts is not None for ts in self.label_ts)


@dataclass
class ArmCounts:
    """One arm's counters per interval (aligned across arms: index ``i`` is the same interval)."""

    requests: np.ndarray[Any, np.dtype[np.int64]]
    server_errors: np.ndarray[Any, np.dtype[np.int64]]
    input_errors: np.ndarray[Any, np.dtype[np.int64]]


def read_arm_rows(
    store: Store,
    model: str,
    *,
    since: dt.datetime,
    arms: Mapping[str, tuple[str, int]],
    labels_until: dt.datetime,
) -> dict[str, ArmRows]:
    """``{name: rows}`` for each ``name: (arm label, version)``; labels that arrived at or after
    ``labels_until`` are left out (they are read at the next pass)."""
    out: dict[str, ArmRows] = {}
    p, f = predictions.c, feedback.c
    for name, (arm, version) in arms.items():
        joined = predictions.outerjoin(feedback, sa.and_(f.prediction_id == p.id, f.ts < labels_until))
        query = (
            sa.select(p.id, p.ts, p.latency_ms, p.prediction, f.label, f.ts)
            .select_from(joined)
            .where(p.model == model, p.arm == arm, p.version == version, p.ts >= since)
            .order_by(p.ts, p.id)
        )
        rows = ArmRows()
        requests: set[tuple[dt.datetime, float]] = set()
        with store.read() as conn:
            for pid, ts, latency, prediction, label, label_ts in conn.execute(query):
                rows.ids.append(pid)
                if (ts, latency) not in requests:
                    requests.add((ts, latency))
                    rows.latency_ms.append(float(latency))
                rows.predictions.append(prediction)
                rows.labels.append(label)
                rows.label_ts.append(label_ts)
        out[name] = rows
    if "shadow" in out and "champion" in out:
        _label_shadow(out["shadow"], out["champion"])
    return out


def _label_shadow(shadow: ArmRows, champion: ArmRows) -> None:
    """Shadow rows take the labels of their champion twins."""
    index = {pid: i for i, pid in enumerate(champion.ids)}
    for j, pid in enumerate(shadow.ids):
        i = index.get(shadow_twin(pid)) if pid[14] == "8" else None
        if i is not None:
            shadow.labels[j], shadow.label_ts[j] = champion.labels[i], champion.label_ts[i]


def read_counts(
    store: Store, rollout_id: int, start: dt.datetime, interval: float, *, only_since: bool = False
) -> dict[str, ArmCounts]:
    """Per-arm counters of a rollout summed per ``interval`` seconds from ``start`` (``only_since``: the
    counters stored from ``start`` on only, a bounded read of a long rollout's recent part)."""
    c = rollout_counts.c
    query = sa.select(c.ts, c.arm, c.requests, c.server_errors, c.input_errors).where(
        c.rollout_id == rollout_id
    )
    if only_since:
        query = query.where(c.ts >= start)
    with store.read() as conn:
        rows = list(conn.execute(query))
    if not rows:
        return {}
    buckets = [max(0, math.floor((ts - start).total_seconds() / interval)) for ts, *_ in rows]
    n = max(buckets) + 1
    out: dict[str, ArmCounts] = {}
    for bucket, (_ts, arm, req, err, bad) in zip(buckets, rows, strict=True):
        counts = out.get(arm)
        if counts is None:
            zeros = [np.zeros(n, dtype=np.int64) for _ in range(3)]
            counts = out[arm] = ArmCounts(*zeros)
        counts.requests[bucket] += req
        counts.server_errors[bucket] += err
        counts.input_errors[bucket] += bad
    return out
