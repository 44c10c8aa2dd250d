"""Monitoring results in the store: one ``monitoring_runs`` row per window, its time series in
``monitoring_metrics`` (long format), and the queries the monitor plans with."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelward.maintenance._windows import Window
from modelward.store import Store
from modelward.store.schema import feedback, monitoring_metrics, monitoring_runs, predictions, utcnow

__all__ = [
    "RunRow",
    "history",
    "last_window",
    "list_runs",
    "mark_labels_checked",
    "runs_with_new_labels",
    "save_run",
    "update_realized",
]


@dataclass(frozen=True)
class RunRow:
    id: int
    model: str
    version: int
    window_spec: str
    start_ts: dt.datetime
    end_ts: dt.datetime
    start_id: str
    end_id: str
    n_rows: int
    n_labeled: int
    dataset_drift: bool
    drifted_share: float | None
    labels_as_of: dt.datetime
    updated_at: dt.datetime

    @property
    def is_time(self) -> bool:
        return self.window_spec.startswith("time:")

    def contains(self, version: int, ts: dt.datetime, pid: str) -> bool:
        if version != self.version:
            return False
        if self.is_time:
            return self.start_ts <= ts < self.end_ts
        return (self.start_ts, self.start_id) <= (ts, pid) <= (self.end_ts, self.end_id)


def _run(row: Any) -> RunRow:
    return RunRow(
        id=int(row.id), model=row.model, version=int(row.version), window_spec=row.window_spec,
        start_ts=row.start_ts, end_ts=row.end_ts, start_id=row.start_id, end_id=row.end_id,
        n_rows=int(row.n_rows), n_labeled=int(row.n_labeled), dataset_drift=bool(row.dataset_drift),
        drifted_share=row.drifted_share, labels_as_of=row.labels_as_of, updated_at=row.updated_at,
    )


_RUN_COLUMNS = [c for c in monitoring_runs.c if c.name != "report"]


def last_window(store: Store, model: str, version: int, spec_key: str) -> RunRow | None:
    """The latest processed window of ``model@version`` under this windowing (the monitor's state)."""
    r = monitoring_runs.c
    query = (
        sa.select(*_RUN_COLUMNS)
        .where(r.model == model, r.version == version, r.window_spec == spec_key)
        .order_by(r.start_ts.desc(), r.start_id.desc())
        .limit(1)
    )
    with store.read() as conn:
        row = conn.execute(query).first()
    return None if row is None else _run(row)


def _clean(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _insert_metrics(conn: Connection, run_id: int, rows: Iterable[dict[str, Any]]) -> None:
    values = [
        {
            "run_id": run_id, "kind": r["kind"], "name": str(r["name"])[:64],
            "feature": None if r.get("feature") is None else str(r["feature"])[:200],
            "value": _clean(r.get("value")), "lower": _clean(r.get("lower")), "upper": _clean(r.get("upper")),
            "n": None if r.get("n") is None else int(r["n"]),
            "method": None if r.get("method") is None else str(r["method"])[:64],
        }
        for r in rows
    ]
    if values:
        conn.execute(monitoring_metrics.insert(), values)


def save_run(
    store: Store,
    *,
    model: str,
    window: Window,
    reference_id: int,
    n_rows: int,
    n_labeled: int,
    dataset_drift: bool,
    drifted_share: float | None,
    report: dict[str, Any],
    metrics: Sequence[dict[str, Any]],
    labels_as_of: dt.datetime,
) -> int:
    """Store one processed window (replacing an earlier result for the same window) and its metrics."""
    r = monitoring_runs.c
    now = utcnow()
    values = {
        "end_ts": window.end_ts, "end_id": window.end_id, "n_rows": n_rows, "n_labeled": n_labeled,
        "dataset_drift": int(dataset_drift), "drifted_share": _clean(drifted_share), "report": report,
        "reference_id": reference_id, "updated_at": now, "labels_as_of": labels_as_of,
    }
    with store.write() as conn:
        existing = conn.execute(
            sa.select(r.id).where(
                r.model == model, r.version == window.version, r.window_spec == window.spec.key,
                r.start_ts == window.start_ts, r.start_id == window.start_id,
            )
        ).scalar()
        if existing is None:
            key = conn.execute(
                monitoring_runs.insert().values(
                    model=model, version=window.version, window_spec=window.spec.key, start_ts=window.start_ts,
                    start_id=window.start_id, created_at=now, **values,
                )
            ).inserted_primary_key
            assert key is not None
            run_id = int(key[0])
        else:
            run_id = int(existing)
            conn.execute(monitoring_runs.update().where(r.id == run_id).values(**values))
            conn.execute(monitoring_metrics.delete().where(monitoring_metrics.c.run_id == run_id))
        _insert_metrics(conn, run_id, metrics)
    return run_id


def runs_with_new_labels(store: Store, model: str, spec_key: str, horizon: dt.datetime) -> list[RunRow]:
    """Runs that ended after ``horizon`` and whose window got feedback after their realized metrics."""
    r = monitoring_runs.c
    with store.read() as conn:
        runs = [_run(row) for row in conn.execute(
            sa.select(*_RUN_COLUMNS).where(r.model == model, r.window_spec == spec_key, r.end_ts >= horizon)
        )]
        if not runs:
            return []
        oldest_labels = min(run.labels_as_of for run in runs)
        first_ts = min(run.start_ts for run in runs)
        arrivals = conn.execute(
            sa.select(predictions.c.version, predictions.c.ts, predictions.c.id, feedback.c.updated_at)
            .join(feedback, feedback.c.prediction_id == predictions.c.id)
            .where(predictions.c.model == model, feedback.c.updated_at >= oldest_labels,
                   predictions.c.ts >= first_ts)
        ).all()
    stale: dict[int, RunRow] = {}
    for version, ts, pid, updated in arrivals:
        for run in runs:
            if run.id not in stale and updated >= run.labels_as_of and run.contains(version, ts, pid):
                stale[run.id] = run
    return sorted(stale.values(), key=lambda run: (run.version, run.start_ts, run.start_id))


def mark_labels_checked(store: Store, model: str, spec_key: str, horizon: dt.datetime, as_of: dt.datetime,
                        skip: Sequence[int] = ()) -> None:
    """Record that runs ending after ``horizon`` saw no feedback newer than their ``labels_as_of`` up to
    ``as_of``, so the next look for new labels starts there (and stays small)."""
    r = monitoring_runs.c
    query = monitoring_runs.update().where(
        r.model == model, r.window_spec == spec_key, r.end_ts >= horizon, r.labels_as_of < as_of
    )
    if skip:
        query = query.where(r.id.not_in(list(skip)))
    with store.write() as conn:
        conn.execute(query.values(labels_as_of=as_of))


def update_realized(
    store: Store, run: RunRow, *, n_labeled: int, realized: dict[str, Any], concept_drift: list[dict[str, Any]],
    notes: list[str], metrics: Sequence[dict[str, Any]], labels_as_of: dt.datetime,
) -> None:
    """Replace a run's realized metrics (estimated ones stay, so both are visible side by side)."""
    m = monitoring_metrics.c
    with store.write() as conn:
        report = dict(conn.execute(sa.select(monitoring_runs.c.report).where(monitoring_runs.c.id == run.id))
                      .scalar_one())
        report.update(realized=realized, concept_drift=concept_drift, n_labeled=n_labeled,
                      relabel_notes=notes, labels_as_of=labels_as_of.isoformat())
        conn.execute(monitoring_runs.update().where(monitoring_runs.c.id == run.id).values(
            n_labeled=n_labeled, report=report, labels_as_of=labels_as_of, updated_at=utcnow()))
        conn.execute(monitoring_metrics.delete().where(
            m.run_id == run.id,
            sa.or_(m.kind.in_(("realized", "concept_drift")), sa.and_(m.kind == "window", m.name == "n_labeled")),
        ))
        _insert_metrics(conn, run.id, [{"kind": "window", "name": "n_labeled", "value": float(n_labeled)},
                                       *metrics])


def list_runs(store: Store, model: str, *, limit: int | None = None) -> list[RunRow]:
    """Runs of ``model``, newest window first."""
    r = monitoring_runs.c
    query = sa.select(*_RUN_COLUMNS).where(r.model == model).order_by(r.end_ts.desc(), r.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with store.read() as conn:
        return [_run(row) for row in conn.execute(query)]


def run_report(store: Store, run_id: int) -> dict[str, Any]:
    with store.read() as conn:
        return dict(conn.execute(sa.select(monitoring_runs.c.report).where(monitoring_runs.c.id == run_id))
                    .scalar_one())


def history(store: Store, model: str, *, kinds: Sequence[str] | None = None,
            since: dt.datetime | None = None) -> pd.DataFrame:
    """The stored time series of ``model``: one row per (window, kind, name, feature), oldest first."""
    r, m = monitoring_runs.c, monitoring_metrics.c
    query = (
        sa.select(r.id.label("run_id"), r.version, r.window_spec, r.start_ts, r.end_ts, r.n_rows, m.kind, m.name,
                  m.feature, m.value, m.lower, m.upper, m.n, m.method)
        .join(monitoring_metrics, m.run_id == r.id)
        .where(r.model == model)
        .order_by(r.end_ts, r.id, m.id)
    )
    if kinds:
        query = query.where(m.kind.in_(list(kinds)))
    if since is not None:
        query = query.where(r.end_ts >= since)
    with store.read() as conn:
        rows = conn.execute(query).all()
    columns = ["run_id", "version", "window_spec", "start_ts", "end_ts", "n_rows", "kind", "name", "feature",
               "value", "lower", "upper", "n", "method"]
    return pd.DataFrame([tuple(row) for row in rows], columns=columns)
