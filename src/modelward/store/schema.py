"""The metadata schema (SQLAlchemy Core). Changes go through Alembic migrations only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

JsonType = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(timezone.utc)")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("description", Text),
    Column("created_at", UtcDateTime, nullable=False),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("artifact", String(64), nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("columns_schema", JsonType, nullable=False),
    Column("stats", JsonType, nullable=False),
    Column("source", Text),
    Column("parent_id", Integer, ForeignKey("dataset_versions.id")),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_number"),
    UniqueConstraint("dataset_id", "content_hash", name="uq_dataset_versions_content"),
)

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("task", String(32), nullable=False),
    Column("description", Text),
    Column("tags", JsonType, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", Integer, ForeignKey("models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("artifact", String(64), nullable=False),
    Column("serializer", String(16), nullable=False),
    Column("flavor", String(64), nullable=False),
    Column("trusted_types", JsonType, nullable=False),
    Column("signature", JsonType, nullable=False),
    Column("input_example", JsonType, nullable=False),
    Column("params", JsonType, nullable=False),
    Column("metrics", JsonType, nullable=False),
    Column("lineage", JsonType, nullable=False),
    Column("dataset_version_id", Integer, ForeignKey("dataset_versions.id")),
    Column("description", Text),
    Column("tags", JsonType, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    UniqueConstraint("model_id", "version", name="uq_model_versions_number"),
)

aliases = Table(
    "aliases",
    metadata,
    Column("model_id", Integer, ForeignKey("models.id"), primary_key=True),
    Column("alias", String(100), primary_key=True),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Append-only audit log: every change to the registry or datasets. Triggers (migration 0002)
# refuse UPDATE and DELETE on both backends.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ts", UtcDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("subject_type", String(32), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("payload", JsonType, nullable=False),
    Index("ix_events_subject", "subject_type", "subject", "id"),
)

# The prediction log (modelward.predlog). Rows arrive in batches from one writer thread per
# process; ids are UUIDv7 strings, so they sort by time. Spool replay inserts if absent.
predictions = Table(
    "predictions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("ts", UtcDateTime, nullable=False),
    Column("model", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("arm", String(100)),
    Column("routing_key_hash", String(64)),
    Column("features", JsonType, nullable=False),
    Column("prediction", JsonType),
    Column("probabilities", JsonType),
    Column("latency_ms", Float, nullable=False),
    Index("ix_predictions_model_ts", "model", "ts"),
)

# Ground truth, by prediction id. No foreign key: labels may name predictions that are still
# spooled on a server, and the predictions table must stay cheap to append to.
feedback = Table(
    "feedback",
    metadata,
    Column("prediction_id", String(36), primary_key=True),
    Column("label", JsonType),
    Column("ts", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
