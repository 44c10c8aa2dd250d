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
    text,
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
    Column("importance", JsonType),  # GlobalImportance of its input columns on the holdout, or NULL
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
    Column("context", JsonType),  # what the caller sent beside the inputs (migration 0010)
    Index("ix_predictions_model_ts", "model", "ts"),
    Index("ix_predictions_model_version_ts", "model", "version", "ts"),  # migration 0008
)

# Explanations answered with predictions (log.explanations, migration 0011), by prediction id: each row's
# explanation as the caller got it, with the method and the output space it is in.
prediction_explanations = Table(
    "prediction_explanations",
    metadata,
    Column("prediction_id", String(36), primary_key=True),
    Column("model", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("ts", UtcDateTime, nullable=False),
    Column("method", String(50), nullable=False),
    Column("output", String(50), nullable=False),
    Column("explanation", JsonType, nullable=False),
    Index("ix_prediction_explanations_model_ts", "model", "ts"),
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

# Monitoring results (owned by modelward.results: ws.monitoring_results), migration 0004.
# One reference per model version: the profile blob in the artifact store, fitted once.
monitoring_references = Table(
    "monitoring_references",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("artifact", String(64), nullable=False),
    Column("format", String(64), nullable=False),
    Column("details", JsonType, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("model", "version", name="uq_monitoring_references_model_version"),
)

# One row per processed window. ``window_spec`` names the windowing ("time:3600/3600",
# "count:5000/5000"); a window is identified by its first row (``start_ts``, ``start_id``; the
# id is "" for time windows), so re-running one updates it instead of adding a second row.
# ``labels_as_of``: feedback up to this instant is in the realized metrics (newer labels: re-run).
monitoring_runs = Table(
    "monitoring_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("window_spec", String(64), nullable=False),
    Column("start_ts", UtcDateTime, nullable=False),
    Column("end_ts", UtcDateTime, nullable=False),
    Column("start_id", String(36), nullable=False),
    Column("end_id", String(36), nullable=False),
    Column("n_rows", BigInteger, nullable=False),
    Column("n_labeled", BigInteger, nullable=False),
    Column("dataset_drift", Integer, nullable=False),
    Column("drifted_share", Float),
    Column("report", JsonType, nullable=False),
    Column("reference_id", Integer, ForeignKey("monitoring_references.id"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("labels_as_of", UtcDateTime, nullable=False),
    UniqueConstraint(
        "model", "version", "window_spec", "start_ts", "start_id", name="uq_monitoring_runs_window"
    ),
    Index("ix_monitoring_runs_model_end", "model", "end_ts"),
)

# The time series, long format: one value per (run, kind, name, feature). ``kind`` is
# "drift", "prediction_drift", "quality", "realized", "estimated" or "window".
monitoring_metrics = Table(
    "monitoring_metrics",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("monitoring_runs.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("name", String(64), nullable=False),
    Column("feature", String(200)),
    Column("value", Float),
    Column("lower", Float),
    Column("upper", Float),
    Column("n", BigInteger),
    Column("method", String(64)),
    Index("ix_monitoring_metrics_run", "run_id", "kind"),
)

# The monitor finds feedback that arrived since its last look (to refresh realized metrics).
Index("ix_feedback_updated_at", feedback.c.updated_at)

# The maintenance loop (owned by modelward.jobs: ws.jobs), migration 0005. One row per retrain job;
# ``finished_at`` is NULL while the job is active, and a partial unique index allows at most one active
# job per model, whatever the number of triggers, runners or restarts. ``owner`` names the runner
# (host:pid:token) holding the job and ``heartbeat_at`` when it last said so; every write of a runner
# is conditional on still being the owner (a runner that lost the job cannot overwrite it).
retrain_jobs = Table(
    "retrain_jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(200), nullable=False),
    Column("status", String(32), nullable=False),
    Column("trigger", String(64), nullable=False),
    Column("evidence", JsonType, nullable=False),
    Column("champion_version", Integer),
    Column("dataset_version_id", Integer, ForeignKey("dataset_versions.id")),
    Column("holdout", JsonType),
    Column("challenger_version", Integer),
    Column("gate", JsonType),
    Column("error", Text),
    Column("owner", String(200)),
    Column("attempt", Integer, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime),
    Column("heartbeat_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Index("ix_retrain_jobs_model", "model", "id"),
    Index(
        "uq_retrain_jobs_active",
        "model",
        unique=True,
        sqlite_where=text("finished_at IS NULL"),
        postgresql_where=text("finished_at IS NULL"),
    ),
)

# Small per-model state of the loop: the last trigger decision per trigger (so a window is judged
# once), the last scheduled run, notices given once.
loop_state = Table(
    "loop_state",
    metadata,
    Column("model", String(200), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", JsonType, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# One leader among replicas (migration 0006): the process holding the row until ``expires_at`` runs the
# loop; taking an expired lease increments ``epoch``, and the leader's writes are conditional on its
# epoch, so a stale leader's write is refused. A row rather than an advisory lock: advisory locks break
# behind PgBouncer's transaction pooling.
loop_leases = Table(
    "loop_leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("acquired_at", UtcDateTime, nullable=False),
    Column("renewed_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

# Rollouts (migration 0007): a challenger served beside the champion until the loop decides; one active
# rollout per model (partial unique index). The split, step and sequential test's state are stored, so a
# restarted server routes the same split and a restarted loop resumes the test.
rollouts = Table(
    "rollouts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(200), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("champion_version", Integer, nullable=False),
    Column("challenger_version", Integer, nullable=False),
    Column("steps", JsonType, nullable=False),
    Column("step", Integer, nullable=False),
    Column("settings", JsonType, nullable=False),
    Column("test", JsonType),
    Column("evaluation", JsonType),
    Column("job_id", Integer),
    Column("reason", Text),
    Column("created_by", String(200), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("step_started_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Index("ix_rollouts_model", "model", "id"),
    Index(
        "uq_rollouts_active",
        "model",
        unique=True,
        sqlite_where=text("finished_at IS NULL"),
        postgresql_where=text("finished_at IS NULL"),
    ),
)

# What the prediction log cannot hold: requests, server errors and input errors per rollout arm, flushed by
# each server (``source``) every few seconds; append-only, summed per interval by the guardrails.
rollout_counts = Table(
    "rollout_counts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("rollout_id", Integer, nullable=False),
    Column("ts", UtcDateTime, nullable=False),
    Column("arm", String(100), nullable=False),
    Column("source", String(200), nullable=False),
    Column("requests", Integer, nullable=False),
    Column("server_errors", Integer, nullable=False),
    Column("input_errors", Integer, nullable=False),
    Index("ix_rollout_counts_rollout_id", "rollout_id", "ts"),
)
