"""The model registry: models, auto-numbered versions, aliases, tags and the audit log.

Every change appends an event (who, when, what, why) to the append-only ``events`` table.
Version numbers are allocated inside a write transaction that locks the model (a row lock
on PostgreSQL, the database write lock on SQLite) and are protected by a unique constraint,
so concurrent registrations from several processes get distinct numbers.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelward.errors import ConflictError, NotFoundError
from modelward.refs import check_alias, check_name
from modelward.registry._records import AliasChange, Event, ModelInfo, ModelVersion, _version
from modelward.store import Store, retry_allocation
from modelward.store.audit import record_event
from modelward.store.schema import aliases, events, model_versions, models, utcnow

__all__ = ["AliasChange", "Event", "ModelInfo", "ModelVersion", "Registry"]

log = logging.getLogger(__name__)


class Registry:
    """Registry operations over a :class:`~modelward.store.Store`."""

    def __init__(self, store: Store, actor: str) -> None:
        self.store = store
        self.actor = actor

    # -- registration ---------------------------------------------------------------------------

    def register(
        self,
        name: str,
        *,
        task: str,
        artifact: str,
        serializer: str,
        flavor: str,
        signature: Mapping[str, Any],
        input_example: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any],
        metrics: Mapping[str, Any],
        lineage: Mapping[str, Any],
        trusted_types: Sequence[str] = (),
        dataset_version_id: int | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ModelVersion:
        """Create model ``name`` if needed and add the next version to it."""
        check_name(name, "model name")

        def attempt() -> int:
            with self.store.write() as conn:
                model_id = self._lock_or_create_model(conn, name, task)
                number = (
                    conn.execute(
                        sa.select(sa.func.max(model_versions.c.version)).where(
                            model_versions.c.model_id == model_id
                        )
                    ).scalar()
                    or 0
                ) + 1
                conn.execute(
                    model_versions.insert().values(
                        model_id=model_id,
                        version=number,
                        artifact=artifact,
                        serializer=serializer,
                        flavor=flavor,
                        trusted_types=list(trusted_types),
                        signature=dict(signature),
                        input_example=[dict(r) for r in input_example],
                        params=dict(params),
                        metrics=dict(metrics),
                        lineage=dict(lineage),
                        dataset_version_id=dataset_version_id,
                        description=description,
                        tags=dict(tags or {}),
                        created_at=utcnow(),
                        created_by=self.actor,
                    )
                )
                record_event(
                    conn,
                    kind="version_registered",
                    subject_type="model",
                    subject=name,
                    actor=self.actor,
                    payload={"version": number, "artifact": artifact, "metrics": dict(metrics)},
                )
            return number

        # A lost race for the number or the model row is retried.
        number = retry_allocation(attempt, what=f"a version number for model {name!r}")
        return dataclasses.replace(self.get(name, number), created=True)

    def _lock_or_create_model(self, conn: Connection, name: str, task: str) -> int:
        query = sa.select(models.c.id, models.c.task).where(models.c.name == name)
        if self.store.dialect == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            model_id = conn.execute(
                models.insert().values(name=name, task=task, tags={}, created_at=utcnow())
            ).inserted_primary_key
            assert model_id is not None
            record_event(
                conn,
                kind="model_created",
                subject_type="model",
                subject=name,
                actor=self.actor,
                payload={"task": task},
            )
            return int(model_id[0])
        if row.task != task:
            raise ConflictError(
                f"Model {name!r} is a {row.task} model; cannot register a {task} version under the same name. "
                "Use another model name."
            )
        return int(row.id)

    # -- reading ---------------------------------------------------------------------------------

    def _model_row(self, conn: Connection, name: str) -> Any:
        row = conn.execute(sa.select(models).where(models.c.name == name)).first()
        if row is None:
            known = conn.execute(sa.select(models.c.name).order_by(models.c.name)).scalars().all()
            hint = f" Known models: {', '.join(known)}." if known else " No model is registered yet."
            raise NotFoundError(f"No model named {name!r}.{hint}", details={"model": name})
        return row

    def get(self, name: str, ref: int | str | None = None) -> ModelVersion:
        """Version ``ref`` (a number or an alias) of ``name``; ``None`` means the latest version."""
        with self.store.read() as conn:
            return self._get(conn, name, ref)

    def _get(self, conn: Connection, name: str, ref: int | str | None) -> ModelVersion:
        model = self._model_row(conn, name)
        query = sa.select(model_versions).where(model_versions.c.model_id == model.id)
        if ref is None:
            query = query.order_by(model_versions.c.version.desc()).limit(1)
        elif isinstance(ref, int):
            query = query.where(model_versions.c.version == ref)
        else:
            query = query.join(aliases, aliases.c.version_id == model_versions.c.id).where(
                aliases.c.model_id == model.id, aliases.c.alias == ref
            )
        row = conn.execute(query).first()
        if row is None:
            if ref is None:
                raise NotFoundError(f"Model {name!r} has no versions yet.")
            if isinstance(ref, int):
                raise NotFoundError(
                    f"Model {name!r} has no version {ref}. See `modelward models show {name}`.",
                    details={"model": name, "version": ref},
                )
            held = self._aliases(conn, model.id)
            hint = f" Aliases set: {', '.join(sorted(held))}." if held else " No alias is set yet."
            raise NotFoundError(
                f"Model {name!r} has no alias {ref!r}.{hint} Set one with "
                f"`modelward models promote {name} VERSION --alias {ref}`.",
                details={"model": name, "alias": ref},
            )
        held = self._aliases(conn, model.id)
        return _version(row, model, [a for a, v in held.items() if v == row.version])

    def list_aliases(self, name: str) -> dict[str, int]:
        """The aliases of model ``name`` and the version each points at."""
        with self.store.read() as conn:
            return self._aliases(conn, self._model_row(conn, name).id)

    def _aliases(self, conn: Connection, model_id: int) -> dict[str, int]:
        rows = conn.execute(
            sa.select(aliases.c.alias, model_versions.c.version)
            .join(model_versions, model_versions.c.id == aliases.c.version_id)
            .where(aliases.c.model_id == model_id)
        ).all()
        return {r.alias: int(r.version) for r in rows}

    def versions_with_artifact(self, name: str, artifact: str) -> list[ModelVersion]:
        """The versions of ``name`` whose artifact is ``artifact`` (a SHA-256), oldest first; none if
        the model does not exist."""
        with self.store.read() as conn:
            model = conn.execute(sa.select(models).where(models.c.name == name)).first()
            if model is None:
                return []
            held = self._aliases(conn, model.id)
            rows = conn.execute(
                sa.select(model_versions)
                .where(model_versions.c.model_id == model.id, model_versions.c.artifact == artifact)
                .order_by(model_versions.c.version)
            ).all()
            return [_version(r, model, [a for a, v in held.items() if v == r.version]) for r in rows]

    def versions(self, name: str) -> list[ModelVersion]:
        with self.store.read() as conn:
            model = self._model_row(conn, name)
            held = self._aliases(conn, model.id)
            rows = conn.execute(
                sa.select(model_versions)
                .where(model_versions.c.model_id == model.id)
                .order_by(model_versions.c.version)
            ).all()
            return [_version(r, model, [a for a, v in held.items() if v == r.version]) for r in rows]

    def count_models(self) -> int:
        """How many models are registered."""
        with self.store.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(models)).scalar_one())

    def versions_page(self, name: str, *, offset: int = 0, limit: int = 20) -> tuple[list[ModelVersion], int]:
        """One page of the versions of ``name``, newest first, and how many it has in all (bounded: one
        ``limit``-row query and a count, however many versions there are)."""
        with self.store.read() as conn:
            model = self._model_row(conn, name)
            held = self._aliases(conn, model.id)
            total = conn.execute(
                sa.select(sa.func.count()).where(model_versions.c.model_id == model.id)
            ).scalar_one()
            rows = conn.execute(
                sa.select(model_versions)
                .where(model_versions.c.model_id == model.id)
                .order_by(model_versions.c.version.desc())
                .offset(max(offset, 0))
                .limit(limit)
            ).all()
            versions = [_version(r, model, [a for a, v in held.items() if v == r.version]) for r in rows]
            return versions, int(total)

    def list_models(
        self, *, offset: int = 0, limit: int | None = None, name: str | None = None
    ) -> list[ModelInfo]:
        """Registered models by name (``offset``/``limit``: one page of them; ``name``: that one alone)."""
        with self.store.read() as conn:
            stats = (
                sa.select(
                    model_versions.c.model_id,
                    sa.func.max(model_versions.c.version).label("latest"),
                    sa.func.count().label("n"),
                )
                .group_by(model_versions.c.model_id)
                .subquery()
            )
            rows = conn.execute(
                sa.select(models, stats.c.latest, stats.c.n)
                .outerjoin(stats, stats.c.model_id == models.c.id)
                .where(sa.true() if name is None else models.c.name == name)
                .order_by(models.c.name)
                .offset(max(offset, 0))
                .limit(limit)
            ).all()
            return [
                ModelInfo(
                    name=r.name,
                    task=r.task,
                    description=r.description,
                    tags=dict(r.tags or {}),
                    created_at=r.created_at,
                    latest_version=r.latest,
                    versions=int(r.n or 0),
                    aliases=self._aliases(conn, r.id),
                )
                for r in rows
            ]

    # -- aliases -----------------------------------------------------------------------------------

    def promote(
        self, name: str, version: int, *, alias: str = "champion", reason: str | None = None
    ) -> AliasChange:
        """Point ``alias`` at ``version`` (recorded with its reason)."""
        check_alias(alias)
        with self.store.write() as conn:
            return self._move_alias(conn, name, alias, version, reason, kind="alias_set")

    def rollback(self, name: str, *, alias: str = "champion", reason: str | None = None) -> AliasChange:
        """Return ``alias`` to the version that held it before the current one."""
        check_alias(alias)
        with self.store.write() as conn:
            stack: list[int] = []
            for change in self._alias_changes(conn, name, alias):
                if change.kind == "alias_set" and change.from_version is not None:
                    stack.append(change.from_version)
                elif change.kind == "alias_rollback" and stack:
                    stack.pop()
            if not stack:
                raise ConflictError(
                    f"Cannot roll back {name}@{alias}: no earlier version held that alias. "
                    f"See `modelward models history {name}`.",
                    details={"model": name, "alias": alias},
                )
            return self._move_alias(conn, name, alias, stack[-1], reason or "rollback", kind="alias_rollback")

    def _move_alias(
        self, conn: Connection, name: str, alias: str, version: int, reason: str | None, *, kind: str
    ) -> AliasChange:
        model = self._model_row(conn, name)
        target = conn.execute(
            sa.select(model_versions.c.id).where(
                model_versions.c.model_id == model.id, model_versions.c.version == version
            )
        ).scalar()
        if target is None:
            raise NotFoundError(
                f"Model {name!r} has no version {version}; cannot point {alias!r} at it.",
                details={"model": name, "version": version},
            )
        current = self._aliases(conn, model.id).get(alias)
        now = utcnow()
        if current is None:
            conn.execute(
                aliases.insert().values(model_id=model.id, alias=alias, version_id=target, updated_at=now)
            )
        else:
            conn.execute(
                aliases.update()
                .where(aliases.c.model_id == model.id, aliases.c.alias == alias)
                .values(version_id=target, updated_at=now)
            )
        record_event(
            conn,
            kind=kind,
            subject_type="model",
            subject=name,
            actor=self.actor,
            payload={"alias": alias, "from": current, "to": version, "reason": reason},
        )
        return AliasChange(now, alias, current, version, self.actor, reason, kind)

    def remove_alias(self, name: str, alias: str, *, reason: str | None = None) -> None:
        with self.store.write() as conn:
            model = self._model_row(conn, name)
            current = self._aliases(conn, model.id).get(alias)
            if current is None:
                raise NotFoundError(f"Model {name!r} has no alias {alias!r}.")
            conn.execute(aliases.delete().where(aliases.c.model_id == model.id, aliases.c.alias == alias))
            record_event(
                conn,
                kind="alias_removed",
                subject_type="model",
                subject=name,
                actor=self.actor,
                payload={"alias": alias, "from": current, "to": None, "reason": reason},
            )

    def _alias_changes(self, conn: Connection, name: str, alias: str | None = None) -> list[AliasChange]:
        self._model_row(conn, name)
        rows = conn.execute(
            sa.select(events)
            .where(
                events.c.subject_type == "model",
                events.c.subject == name,
                events.c.kind.in_(("alias_set", "alias_rollback", "alias_removed")),
            )
            .order_by(events.c.id)
        ).all()
        changes = [
            AliasChange(
                ts=r.ts,
                alias=r.payload["alias"],
                from_version=r.payload.get("from"),
                to_version=r.payload.get("to"),
                actor=r.actor,
                reason=r.payload.get("reason"),
                kind=r.kind,
            )
            for r in rows
        ]
        return [c for c in changes if alias is None or c.alias == alias]

    def history(self, name: str, alias: str | None = None) -> list[AliasChange]:
        """Every alias change of ``name``, oldest first."""
        with self.store.read() as conn:
            return self._alias_changes(conn, name, alias)

    def change_mark(self) -> int:
        """A number that grows with every change to the registry (the id of the newest event: every
        change appends one), ``0`` when nothing was ever recorded. Two equal marks mean nothing
        changed in between; the model server polls it to know when to reload."""
        with self.store.read() as conn:
            return int(conn.execute(sa.select(sa.func.max(events.c.id))).scalar() or 0)

    def events(self, name: str | None = None, *, subject_type: str = "model") -> list[Event]:
        with self.store.read() as conn:
            query = sa.select(events).order_by(events.c.id)
            if name is not None:
                query = query.where(events.c.subject_type == subject_type, events.c.subject == name)
            return [
                Event(r.id, r.ts, r.actor, r.kind, r.subject_type, r.subject, dict(r.payload))
                for r in conn.execute(query)
            ]

    def events_page(
        self,
        name: str,
        *,
        before: int | None = None,
        limit: int = 50,
        kinds: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
        subject_type: str = "model",
    ) -> list[Event]:
        """Up to ``limit`` events of ``name``, newest first, older than event id ``before`` (the next page
        starts before the last id of this one); ``kinds`` keeps only those kinds, ``exclude`` drops some."""
        query = (
            sa.select(events)
            .where(events.c.subject_type == subject_type, events.c.subject == name)
            .order_by(events.c.id.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(events.c.id < before)
        if kinds is not None:
            query = query.where(events.c.kind.in_(list(kinds)))
        if exclude:
            query = query.where(events.c.kind.not_in(list(exclude)))
        with self.store.read() as conn:
            return [
                Event(r.id, r.ts, r.actor, r.kind, r.subject_type, r.subject, dict(r.payload))
                for r in conn.execute(query)
            ]

    def event_counts(self, kinds: Sequence[str]) -> dict[tuple[str, str], int]:
        """How many events of each of ``kinds`` each model has, as ``{(model, kind): count}`` (one
        grouped query; the loop's metrics export these as counters, which only grow: events are
        append-only)."""
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(events.c.subject, events.c.kind, sa.func.count())
                .where(events.c.subject_type == "model", events.c.kind.in_(list(kinds)))
                .group_by(events.c.subject, events.c.kind)
            )
            return {(r[0], r[1]): int(r[2]) for r in rows}

    # -- tags and descriptions ----------------------------------------------------------------

    def set_tags(self, name: str, version: int | None, tags: Mapping[str, str]) -> None:
        """Merge ``tags`` into the model (``version=None``) or one version."""
        with self.store.write() as conn:
            model = self._model_row(conn, name)
            if version is None:
                merged = {**(model.tags or {}), **tags}
                conn.execute(models.update().where(models.c.id == model.id).values(tags=merged))
            else:
                row = self._get(conn, name, version)
                merged = {**row.tags, **tags}
                conn.execute(model_versions.update().where(model_versions.c.id == row.id).values(tags=merged))
            record_event(
                conn,
                kind="tags_set",
                subject_type="model",
                subject=name,
                actor=self.actor,
                payload={"version": version, "tags": dict(tags)},
            )

    def describe(self, name: str, description: str, version: int | None = None) -> None:
        with self.store.write() as conn:
            model = self._model_row(conn, name)
            if version is None:
                conn.execute(models.update().where(models.c.id == model.id).values(description=description))
            else:
                row = self._get(conn, name, version)
                conn.execute(
                    model_versions.update()
                    .where(model_versions.c.id == row.id)
                    .values(description=description)
                )
            record_event(
                conn,
                kind="description_set",
                subject_type="model",
                subject=name,
                actor=self.actor,
                payload={"version": version, "description": description},
            )
