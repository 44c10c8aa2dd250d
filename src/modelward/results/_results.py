"""Monitoring results in the store: one ``monitoring_runs`` row per monitored window with its report,
the report's time series in ``monitoring_metrics`` (long format), and each model version's reference
in ``monitoring_references`` (see :mod:`modelward.results._references`)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelward.artifacts import ArtifactStore
from modelward.errors import NotFoundError
from modelward.monitoring import Reference, WindowReport
from modelward.predlog import Window, WindowSpec
from modelward.results import _references
from modelward.results._metrics import REALIZED_KINDS, realized_rows, window_rows
from modelward.results._references import ReferenceSource, StoredReference
from modelward.store import Store
from modelward.store.schema import monitoring_metrics, monitoring_runs, utcnow

__all__ = ["HISTORY_COLUMNS", "MonitoringResults", "MonitoringRun"]

HISTORY_COLUMNS = [
    "run_id",
    "version",
    "window_spec",
    "start_ts",
    "end_ts",
    "n_rows",
    "kind",
    "name",
    "feature",
    "value",
    "lower",
    "upper",
    "n",
    "method",
]


@dataclass(frozen=True)
class MonitoringRun:
    """One monitored window of one model version (its report is read with ``report(run.id)``).

    Attributes:
        id: the run's row id; the report and the time-series rows hang off it.
        model: the model's name.
        version: the model version whose predictions were monitored.
        window_spec: the windowing, as :attr:`~modelward.predlog.WindowSpec.key`
            (``count:5000/1000``, ``time:3600/3600``).
        start_ts, end_ts, start_id, end_id: the window's bounds (see
            :class:`~modelward.predlog.Window`; :attr:`window` rebuilds it).
        n_rows: predictions in the window.
        n_labeled: how many of them had feedback by ``labels_as_of``.
        dataset_drift: whether the dataset-level drift rule fired.
        drifted_share: drifted features / tested features (``None`` when none was tested).
        labels_as_of: feedback stored up to this instant is in the realized metrics.
        updated_at: when the run was last written: stored, or its realized metrics recomputed as
            labels arrived.
    """

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
    def window(self) -> Window:
        """The window this run covers."""
        return Window(
            WindowSpec.from_key(self.window_spec),
            self.version,
            self.start_ts,
            self.end_ts,
            self.start_id,
            self.end_id,
        )


def _run(row: Any) -> MonitoringRun:
    return MonitoringRun(
        id=int(row.id),
        model=row.model,
        version=int(row.version),
        window_spec=row.window_spec,
        start_ts=row.start_ts,
        end_ts=row.end_ts,
        start_id=row.start_id,
        end_id=row.end_id,
        n_rows=int(row.n_rows),
        n_labeled=int(row.n_labeled),
        dataset_drift=bool(row.dataset_drift),
        drifted_share=row.drifted_share,
        labels_as_of=row.labels_as_of,
        updated_at=row.updated_at,
    )


_RUN_COLUMNS = [c for c in monitoring_runs.c if c.name != "report"]


def _clean(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _insert_metrics(conn: Connection, run_id: int, rows: Iterable[dict[str, Any]]) -> None:
    values = [
        {
            "run_id": run_id,
            "kind": r["kind"],
            "name": str(r["name"])[:64],
            "feature": None if r.get("feature") is None else str(r["feature"])[:200],
            "value": _clean(r.get("value")),
            "lower": _clean(r.get("lower")),
            "upper": _clean(r.get("upper")),
            "n": None if r.get("n") is None else int(r["n"]),
            "method": None if r.get("method") is None else str(r["method"])[:64],
        }
        for r in rows
    ]
    if values:
        conn.execute(monitoring_metrics.insert(), values)


class MonitoringResults:
    """Stored monitoring results of a workspace (``ws.monitoring_results``): the only owner of the SQL of
    ``monitoring_runs``, ``monitoring_metrics`` and ``monitoring_references``."""

    def __init__(self, store: Store, artifacts: ArtifactStore) -> None:
        self.store = store
        self.artifacts = artifacts

    # -- references -------------------------------------------------------------------------------

    def reference(self, model: str, version: int) -> StoredReference | None:
        """The stored reference of ``model@version``, or None when none was built yet."""
        return _references.get(self.store, self.artifacts, model, version)

    def add_reference(
        self, model: str, version: int, reference: Reference, source: ReferenceSource
    ) -> StoredReference:
        """Store the reference of ``model@version`` (kept as is when another process stored one meanwhile)
        and return the stored one."""
        return _references.add(self.store, self.artifacts, model, version, reference, source)

    # -- runs -------------------------------------------------------------------------------------

    def last_run(self, model: str, version: int, window_spec: str) -> MonitoringRun | None:
        """The latest processed window of ``model@version`` under this windowing (the monitor's state)."""
        r = monitoring_runs.c
        query = (
            sa.select(*_RUN_COLUMNS)
            .where(r.model == model, r.version == version, r.window_spec == window_spec)
            .order_by(r.start_ts.desc(), r.start_id.desc())
            .limit(1)
        )
        with self.store.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _run(row)

    def save_run(
        self, model: str, window: Window, reference_id: int, report: WindowReport, labels_as_of: dt.datetime
    ) -> int:
        """Store one analysed window (replacing an earlier result for the same window) and its metrics."""
        r = monitoring_runs.c
        now = utcnow()
        values = {
            "end_ts": window.end_ts,
            "end_id": window.end_id,
            "n_rows": report.n_rows,
            "n_labeled": report.n_labeled,
            "dataset_drift": int(report.dataset_drift),
            "drifted_share": _clean(report.drifted_share),
            "report": report.to_dict(),
            "reference_id": reference_id,
            "updated_at": now,
            "labels_as_of": labels_as_of,
        }
        with self.store.write() as conn:
            existing = conn.execute(
                sa.select(r.id).where(
                    r.model == model,
                    r.version == window.version,
                    r.window_spec == window.spec.key,
                    r.start_ts == window.start_ts,
                    r.start_id == window.start_id,
                )
            ).scalar()
            if existing is None:
                key = conn.execute(
                    monitoring_runs.insert().values(
                        model=model,
                        version=window.version,
                        window_spec=window.spec.key,
                        start_ts=window.start_ts,
                        start_id=window.start_id,
                        created_at=now,
                        **values,
                    )
                ).inserted_primary_key
                assert key is not None
                run_id = int(key[0])
            else:
                run_id = int(existing)
                conn.execute(monitoring_runs.update().where(r.id == run_id).values(**values))
                conn.execute(monitoring_metrics.delete().where(monitoring_metrics.c.run_id == run_id))
            _insert_metrics(conn, run_id, window_rows(report))
        return run_id

    def runs_ending_after(self, model: str, window_spec: str, horizon: dt.datetime) -> list[MonitoringRun]:
        """Runs of ``model`` under this windowing whose window ended at or after ``horizon``."""
        r = monitoring_runs.c
        query = sa.select(*_RUN_COLUMNS).where(
            r.model == model, r.window_spec == window_spec, r.end_ts >= horizon
        )
        with self.store.read() as conn:
            return [_run(row) for row in conn.execute(query)]

    def mark_labels_checked(
        self, model: str, window_spec: str, horizon: dt.datetime, as_of: dt.datetime, skip: Sequence[int] = ()
    ) -> None:
        """Record that runs ending after ``horizon`` saw no feedback newer than their ``labels_as_of`` up to
        ``as_of``, so the next look for new labels starts there (and stays small)."""
        r = monitoring_runs.c
        query = monitoring_runs.update().where(
            r.model == model, r.window_spec == window_spec, r.end_ts >= horizon, r.labels_as_of < as_of
        )
        if skip:
            query = query.where(r.id.not_in(list(skip)))
        with self.store.write() as conn:
            conn.execute(query.values(labels_as_of=as_of))

    def update_realized(self, run: MonitoringRun, report: WindowReport) -> None:
        """Store ``report`` (the run's report with realized figures recomputed, ``labels_as_of`` set) and
        replace the run's realized metrics; the estimated ones stay, so both are visible side by side."""
        m = monitoring_metrics.c
        assert report.labels_as_of is not None
        with self.store.write() as conn:
            conn.execute(
                monitoring_runs.update()
                .where(monitoring_runs.c.id == run.id)
                .values(
                    n_labeled=report.n_labeled,
                    report=report.to_dict(),
                    labels_as_of=report.labels_as_of,
                    updated_at=utcnow(),
                )
            )
            conn.execute(
                monitoring_metrics.delete().where(
                    m.run_id == run.id,
                    sa.or_(m.kind.in_(REALIZED_KINDS), sa.and_(m.kind == "window", m.name == "n_labeled")),
                )
            )
            _insert_metrics(conn, run.id, realized_rows(report))

    def runs(self, model: str, *, limit: int | None = None) -> list[MonitoringRun]:
        """Runs of ``model``, newest window first."""
        r = monitoring_runs.c
        query = sa.select(*_RUN_COLUMNS).where(r.model == model).order_by(r.end_ts.desc(), r.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self.store.read() as conn:
            return [_run(row) for row in conn.execute(query)]

    def runs_page(self, model: str, *, offset: int = 0, limit: int = 20) -> tuple[list[MonitoringRun], int]:
        """One page of the runs of ``model``, newest window first, and how many it has in all."""
        r = monitoring_runs.c
        query = (
            sa.select(*_RUN_COLUMNS)
            .where(r.model == model)
            .order_by(r.end_ts.desc(), r.id.desc())
            .offset(max(offset, 0))
            .limit(limit)
        )
        with self.store.read() as conn:
            total = conn.execute(sa.select(sa.func.count()).where(r.model == model)).scalar_one()
            return [_run(row) for row in conn.execute(query)], int(total)

    def run(self, run_id: int) -> MonitoringRun:
        """Run ``run_id`` (without its report)."""
        with self.store.read() as conn:
            row = conn.execute(sa.select(*_RUN_COLUMNS).where(monitoring_runs.c.id == run_id)).first()
        if row is None:
            raise NotFoundError(f"No monitoring run {run_id}.", details={"run": run_id})
        return _run(row)

    def metrics_of(
        self,
        run_ids: Sequence[int],
        *,
        kinds: Sequence[str] | None = None,
        names: Mapping[str, Sequence[str]] | None = None,
    ) -> list[dict[str, Any]]:
        """The stored time-series rows of the runs ``run_ids`` as dicts (``run_id``, ``kind``, ``name``,
        ``feature``, ``value``, ``lower``, ``upper``, ``n``, ``method``), in storage order: a bounded slice of
        :meth:`history` for a page that draws a few windows (no frame to build). ``names`` keeps, for the kinds
        it names, only those metric names (``{"drift": ["p_value"]}``); other kinds keep every name."""
        if not run_ids:
            return []
        m = monitoring_metrics.c
        query = (
            sa.select(m.run_id, m.kind, m.name, m.feature, m.value, m.lower, m.upper, m.n, m.method)
            .where(m.run_id.in_([int(i) for i in run_ids]))
            .order_by(m.run_id, m.id)
        )
        if kinds:
            query = query.where(m.kind.in_(list(kinds)))
        if names:
            query = query.where(
                sa.or_(
                    m.kind.not_in(list(names)),
                    *(sa.and_(m.kind == kind, m.name.in_(list(keep))) for kind, keep in names.items()),
                )
            )
        with self.store.read() as conn:
            result = conn.execute(query)
            keys = list(result.keys())
            return [dict(zip(keys, row, strict=True)) for row in result]

    def report(self, run_id: int) -> WindowReport:
        """The stored report of run ``run_id``."""
        with self.store.read() as conn:
            doc = conn.execute(
                sa.select(monitoring_runs.c.report).where(monitoring_runs.c.id == run_id)
            ).scalar_one()
        return WindowReport.from_dict(doc)

    def history(
        self, model: str, *, kinds: Sequence[str] | None = None, since: dt.datetime | None = None
    ) -> pd.DataFrame:
        """The stored time series of ``model``: one row per (window, kind, name, feature), oldest first."""
        r, m = monitoring_runs.c, monitoring_metrics.c
        query = (
            sa.select(
                r.id.label("run_id"),
                r.version,
                r.window_spec,
                r.start_ts,
                r.end_ts,
                r.n_rows,
                m.kind,
                m.name,
                m.feature,
                m.value,
                m.lower,
                m.upper,
                m.n,
                m.method,
            )
            .join(monitoring_metrics, m.run_id == r.id)
            .where(r.model == model)
            .order_by(r.end_ts, r.id, m.id)
        )
        if kinds:
            query = query.where(m.kind.in_(list(kinds)))
        if since is not None:
            query = query.where(r.end_ts >= since)
        with self.store.read() as conn:
            rows = conn.execute(query).all()
        return pd.DataFrame([tuple(row) for row in rows], columns=HISTORY_COLUMNS)
