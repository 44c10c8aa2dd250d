"""Rollouts: a challenger served beside the champion (shadow, canary steps, A/B) until the loop decides.

``rollouts`` holds one row per rollout with its split, its step, the sequential test's state and the last
evaluation, so a restarted server routes the same split and a restarted loop resumes the test where it
stopped. A partial unique index allows one active rollout per model. ``rollout_counts`` holds what the
prediction log cannot: requests, server errors and input errors per arm, flushed by each server every few
seconds (append-only, one row per server, arm and flush), for the error-budget and input-error guardrails.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from modelward.store.schema import JsonType, UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollouts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("champion_version", sa.Integer, nullable=False),
        sa.Column("challenger_version", sa.Integer, nullable=False),
        sa.Column("steps", JsonType, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("settings", JsonType, nullable=False),
        sa.Column("test", JsonType),
        sa.Column("evaluation", JsonType),
        sa.Column("job_id", sa.Integer),
        sa.Column("reason", sa.Text),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("step_started_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime),
    )
    op.create_index("ix_rollouts_model", "rollouts", ["model", "id"])
    op.create_index(
        "uq_rollouts_active",
        "rollouts",
        ["model"],
        unique=True,
        sqlite_where=sa.text("finished_at IS NULL"),
        postgresql_where=sa.text("finished_at IS NULL"),
    )
    op.create_table(
        "rollout_counts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("rollout_id", sa.Integer, nullable=False),
        sa.Column("ts", UtcDateTime, nullable=False),
        sa.Column("arm", sa.String(100), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("server_errors", sa.Integer, nullable=False),
        sa.Column("input_errors", sa.Integer, nullable=False),
    )
    op.create_index("ix_rollout_counts_rollout_id", "rollout_counts", ["rollout_id", "ts"])


def downgrade() -> None:
    op.drop_index("ix_rollout_counts_rollout_id", table_name="rollout_counts")
    op.drop_table("rollout_counts")
    op.drop_index("uq_rollouts_active", table_name="rollouts")
    op.drop_index("ix_rollouts_model", table_name="rollouts")
    op.drop_table("rollouts")
