"""Datasets: immutable, content-addressed versions of tabular data.

``add`` reads a CSV or Parquet file, validates it, infers a schema, computes per-column
statistics, stores a Parquet snapshot in the artifact store and records a version. Adding
the same content again returns the existing version. Nothing is recorded unless the whole
snapshot was stored first, so a failure never leaves a half-written version.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelward.artifacts import ArtifactStore
from modelward.datasets._frames import (
    content_hash,
    diff_frames,
    from_parquet_bytes,
    infer_schema,
    read_table,
    summarize,
    to_parquet_bytes,
)
from modelward.errors import NotFoundError
from modelward.refs import check_name
from modelward.store import Store, retry_allocation
from modelward.store.audit import record_event
from modelward.store.schema import dataset_versions, datasets, utcnow

__all__ = [
    "DatasetStore",
    "DatasetVersion",
    "from_parquet_bytes",
    "infer_schema",
    "read_table",
    "summarize",
    "to_parquet_bytes",
]


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable snapshot of a dataset: its content hash, schema, statistics and parent.

    ``ref`` is ``"name@version"``, the form the CLI accepts. The rows themselves are in the
    artifact store; :meth:`DatasetStore.load` reads them back (hash-verified).

    Attributes:
        id: its database row id (what a model version's ``dataset_version_id`` points at).
        name: the dataset's name.
        version: the version number: 1 for the first snapshot of ``name``, then 2, 3, …
        content_hash: SHA-256 of the rows (column names, order, dtypes and values; not the index
            nor the file format), so the same data read from CSV or Parquet hashes the same.
        artifact: SHA-256 of the stored Parquet snapshot, its key in the artifact store.
        rows: number of rows.
        schema: column → kind: ``numeric``, ``categorical``, ``boolean``, ``datetime`` or ``text``.
        stats: column → statistics for its kind (``count``, ``missing``, ``missing_rate``, then
            e.g. ``mean``/``std``/quantiles or ``top``/``categories``); see
            :func:`~modelward.datasets.summarize`.
        source: the path the snapshot was read from, or ``None`` for an in-memory frame.
        parent_version: the version number this one followed (``None`` for the first).
        created_at: when it was recorded (UTC).
        created_by: the actor who added it (setting ``actor``; default: the OS user).
        created: ``True`` when the call that returned it recorded it; ``False`` when the same
            content was already a version, which was returned instead.
    """

    id: int
    name: str
    version: int
    content_hash: str
    artifact: str
    rows: int
    schema: dict[str, str]
    stats: dict[str, dict[str, Any]]
    source: str | None
    parent_version: int | None
    created_at: dt.datetime
    created_by: str
    created: bool = False  # True when this call made the version (False: existing content)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


class DatasetStore:
    """Dataset versions of one workspace: add, read, list and diff snapshots (``ws.datasets``).

    Holds the SQL of the ``datasets`` and ``dataset_versions`` tables; rows live in the artifact
    store as Parquet. Every addition is recorded in the audit log under ``actor``.
    """

    def __init__(self, store: Store, artifacts: ArtifactStore, actor: str) -> None:
        self.store = store
        self.artifacts = artifacts
        self.actor = actor

    def add(self, path: str | os.PathLike[str], name: str) -> DatasetVersion:
        """Snapshot the file at ``path`` as the next version of dataset ``name``."""
        check_name(name, "dataset name")
        frame = read_table(path)
        return self.add_frame(frame, name, source=str(Path(path)))

    def add_frame(self, frame: pd.DataFrame, name: str, *, source: str | None = None) -> DatasetVersion:
        """Snapshot an in-memory frame (already validated by the caller) as a dataset version."""
        check_name(name, "dataset name")
        digest = content_hash(frame)
        existing = self._by_hash(name, digest)
        if existing is not None:
            return existing
        schema = infer_schema(frame)
        stats = summarize(frame, schema)
        artifact = self.artifacts.put(to_parquet_bytes(frame))  # stored before anything is recorded

        def attempt() -> DatasetVersion:
            with self.store.write() as conn:
                dataset_id = self._dataset_id(conn, name, create=True)
                assert dataset_id is not None
                found = self._find(conn, name, dataset_id, content_hash=digest)
                if found is not None:
                    return found
                parent = conn.execute(
                    sa.select(dataset_versions.c.id, dataset_versions.c.version)
                    .where(dataset_versions.c.dataset_id == dataset_id)
                    .order_by(dataset_versions.c.version.desc())
                    .limit(1)
                ).first()
                number = (parent.version if parent else 0) + 1
                conn.execute(
                    dataset_versions.insert().values(
                        dataset_id=dataset_id,
                        version=number,
                        content_hash=digest,
                        artifact=artifact,
                        rows=len(frame),
                        columns_schema=schema,
                        stats=stats,
                        source=source,
                        parent_id=parent.id if parent else None,
                        created_at=utcnow(),
                        created_by=self.actor,
                    )
                )
                record_event(
                    conn,
                    kind="dataset_version_added",
                    subject_type="dataset",
                    subject=name,
                    actor=self.actor,
                    payload={"version": number, "content_hash": digest, "rows": len(frame), "source": source},
                )
                result = self._find(conn, name, dataset_id, version=number)
                assert result is not None
            return dataclasses.replace(result, created=True)

        # A lost race for the number, the dataset row or the same content is retried (the same content
        # is then found and returned).
        return retry_allocation(attempt, what=f"a version of dataset {name!r}")

    def _by_hash(self, name: str, digest: str) -> DatasetVersion | None:
        with self.store.read() as conn:
            dataset_id = self._dataset_id(conn, name, create=False)
            if dataset_id is None:
                return None
            return self._find(conn, name, dataset_id, content_hash=digest)

    def _dataset_id(self, conn: Connection, name: str, *, create: bool) -> int | None:
        found = conn.execute(sa.select(datasets.c.id).where(datasets.c.name == name)).scalar()
        if found is not None or not create:
            return found
        key = conn.execute(datasets.insert().values(name=name, created_at=utcnow())).inserted_primary_key
        assert key is not None
        return int(key[0])

    def _find(
        self,
        conn: Connection,
        name: str,
        dataset_id: int,
        *,
        version: int | None = None,
        content_hash: str | None = None,
    ) -> DatasetVersion | None:
        parent = dataset_versions.alias("parent")
        query = (
            sa.select(dataset_versions, parent.c.version.label("parent_version"))
            .outerjoin(parent, parent.c.id == dataset_versions.c.parent_id)
            .where(dataset_versions.c.dataset_id == dataset_id)
        )
        if version is not None:
            query = query.where(dataset_versions.c.version == version)
        elif content_hash is not None:
            query = query.where(dataset_versions.c.content_hash == content_hash)
        else:
            query = query.order_by(dataset_versions.c.version.desc()).limit(1)
        row = conn.execute(query).first()
        return None if row is None else _version(row, name)

    def get(self, name: str, version: int | None = None) -> DatasetVersion:
        """Version ``version`` of ``name`` (latest when ``None``)."""
        with self.store.read() as conn:
            dataset_id = self._dataset_id(conn, name, create=False)
            if dataset_id is None:
                known = conn.execute(sa.select(datasets.c.name).order_by(datasets.c.name)).scalars().all()
                hint = f" Known datasets: {', '.join(known)}." if known else " No dataset has been added yet."
                raise NotFoundError(
                    f"No dataset named {name!r}.{hint} Add one with `modelward data add PATH --name {name}`.",
                    details={"dataset": name},
                )
            found = self._find(conn, name, dataset_id, version=version)
            if found is None:
                raise NotFoundError(
                    f"Dataset {name!r} has no version {version}. See `modelward data show {name}`.",
                    details={"dataset": name, "version": version},
                )
            return found

    def get_by_id(self, version_id: int) -> DatasetVersion:
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(datasets.c.name)
                .join(dataset_versions, dataset_versions.c.dataset_id == datasets.c.id)
                .where(dataset_versions.c.id == version_id)
            ).first()
            if row is None:
                raise NotFoundError(f"No dataset version with id {version_id}.")
            ident = conn.execute(
                sa.select(dataset_versions.c.dataset_id, dataset_versions.c.version).where(
                    dataset_versions.c.id == version_id
                )
            ).one()
            found = self._find(conn, row.name, ident.dataset_id, version=ident.version)
            assert found is not None
            return found

    def list_datasets(self, *, offset: int = 0, limit: int | None = None) -> list[DatasetVersion]:
        """The latest version of every dataset (by name; ``offset``/``limit`` give one page of them)."""
        with self.store.read() as conn:
            query = sa.select(datasets.c.id, datasets.c.name).order_by(datasets.c.name).offset(max(offset, 0))
            rows = conn.execute(query if limit is None else query.limit(limit)).all()
            out = [self._find(conn, r.name, r.id) for r in rows]
            return [v for v in out if v is not None]

    def count_datasets(self) -> int:
        """How many datasets there are."""
        with self.store.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(datasets)).scalar_one())

    def versions_page(
        self, name: str, *, offset: int = 0, limit: int = 20
    ) -> tuple[list[DatasetVersion], int]:
        """One page of the versions of ``name``, newest first, and how many it has in all."""
        latest = self.get(name)  # the clear error for an unknown name
        with self.store.read() as conn:
            dataset_id = self._dataset_id(conn, name, create=False)
            parent = dataset_versions.alias("parent")
            rows = conn.execute(
                sa.select(dataset_versions, parent.c.version.label("parent_version"))
                .outerjoin(parent, parent.c.id == dataset_versions.c.parent_id)
                .where(dataset_versions.c.dataset_id == dataset_id)
                .order_by(dataset_versions.c.version.desc())
                .offset(max(offset, 0))
                .limit(limit)
            ).all()
        return [_version(r, name) for r in rows], latest.version

    def versions(self, name: str) -> list[DatasetVersion]:
        latest = self.get(name)
        return [self.get(name, v) for v in range(1, latest.version + 1)]

    def load(self, version: DatasetVersion) -> pd.DataFrame:
        """The snapshot's rows (hash-verified on read)."""
        return self.load_snapshot(version.artifact)

    def load_snapshot(self, artifact: str) -> pd.DataFrame:
        """The rows of the Parquet snapshot stored under ``artifact`` (its SHA-256; hash-verified on read)."""
        frame: pd.DataFrame = from_parquet_bytes(self.artifacts.get(artifact))
        return frame

    def diff(self, a: DatasetVersion, b: DatasetVersion) -> dict[str, Any]:
        result: dict[str, Any] = diff_frames(
            {"schema": a.schema, "stats": a.stats, "rows": a.rows},
            {"schema": b.schema, "stats": b.stats, "rows": b.rows},
        )
        return result


def _version(row: Any, name: str) -> DatasetVersion:
    return DatasetVersion(
        id=int(row.id),
        name=name,
        version=int(row.version),
        content_hash=row.content_hash,
        artifact=row.artifact,
        rows=int(row.rows),
        schema=dict(row.columns_schema),
        stats=dict(row.stats),
        source=row.source,
        parent_version=row.parent_version,
        created_at=row.created_at,
        created_by=row.created_by,
    )
