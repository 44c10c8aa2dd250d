"""Monitoring results: per-version reference profiles, one run per window, metrics as a time series;
an index on feedback.updated_at (the monitor looks for labels that arrived since its last pass).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from modelward.store.schema import JsonType, UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitoring_references",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("artifact", sa.String(64), nullable=False),
        sa.Column("format", sa.String(64), nullable=False),
        sa.Column("details", JsonType, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("model", "version", name="uq_monitoring_references_model_version"),
    )
    op.create_table(
        "monitoring_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("window_spec", sa.String(64), nullable=False),
        sa.Column("start_ts", UtcDateTime, nullable=False),
        sa.Column("end_ts", UtcDateTime, nullable=False),
        sa.Column("start_id", sa.String(36), nullable=False),
        sa.Column("end_id", sa.String(36), nullable=False),
        sa.Column("n_rows", sa.BigInteger, nullable=False),
        sa.Column("n_labeled", sa.BigInteger, nullable=False),
        sa.Column("dataset_drift", sa.Integer, nullable=False),
        sa.Column("drifted_share", sa.Float),
        sa.Column("report", JsonType, nullable=False),
        sa.Column(
            "reference_id",
            sa.Integer,
            sa.ForeignKey(
                "monitoring_references.id", name="fk_monitoring_runs_reference_id_monitoring_references"
            ),
            nullable=False,
        ),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("labels_as_of", UtcDateTime, nullable=False),
        sa.UniqueConstraint(
            "model", "version", "window_spec", "start_ts", "start_id", name="uq_monitoring_runs_window"
        ),
    )
    op.create_index("ix_monitoring_runs_model_end", "monitoring_runs", ["model", "end_ts"])
    op.create_table(
        "monitoring_metrics",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey(
                "monitoring_runs.id", ondelete="CASCADE", name="fk_monitoring_metrics_run_id_monitoring_runs"
            ),
            nullable=False,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("feature", sa.String(200)),
        sa.Column("value", sa.Float),
        sa.Column("lower", sa.Float),
        sa.Column("upper", sa.Float),
        sa.Column("n", sa.BigInteger),
        sa.Column("method", sa.String(64)),
    )
    op.create_index("ix_monitoring_metrics_run", "monitoring_metrics", ["run_id", "kind"])
    op.create_index("ix_feedback_updated_at", "feedback", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_feedback_updated_at", table_name="feedback")
    op.drop_index("ix_monitoring_metrics_run", table_name="monitoring_metrics")
    op.drop_table("monitoring_metrics")
    op.drop_index("ix_monitoring_runs_model_end", table_name="monitoring_runs")
    op.drop_table("monitoring_runs")
    op.drop_table("monitoring_references")
