"""The maintenance loop: retrain jobs (at most one active per model, enforced by a partial unique index)
and the loop's small per-model state.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from modelward.store.schema import JsonType, UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retrain_jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("trigger", sa.String(64), nullable=False),
        sa.Column("evidence", JsonType, nullable=False),
        sa.Column("champion_version", sa.Integer),
        sa.Column(
            "dataset_version_id",
            sa.Integer,
            sa.ForeignKey("dataset_versions.id", name="fk_retrain_jobs_dataset_version_id_dataset_versions"),
        ),
        sa.Column("holdout", JsonType),
        sa.Column("challenger_version", sa.Integer),
        sa.Column("gate", JsonType),
        sa.Column("error", sa.Text),
        sa.Column("owner", sa.String(200)),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("started_at", UtcDateTime),
        sa.Column("heartbeat_at", UtcDateTime),
        sa.Column("finished_at", UtcDateTime),
    )
    op.create_index("ix_retrain_jobs_model", "retrain_jobs", ["model", "id"])
    op.create_index(
        "uq_retrain_jobs_active",
        "retrain_jobs",
        ["model"],
        unique=True,
        sqlite_where=sa.text("finished_at IS NULL"),
        postgresql_where=sa.text("finished_at IS NULL"),
    )
    op.create_table(
        "loop_state",
        sa.Column("model", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", JsonType, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("loop_state")
    op.drop_index("uq_retrain_jobs_active", table_name="retrain_jobs")
    op.drop_index("ix_retrain_jobs_model", table_name="retrain_jobs")
    op.drop_table("retrain_jobs")
