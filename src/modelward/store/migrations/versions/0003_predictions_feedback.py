"""The prediction log: predictions and feedback tables.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from modelward.store.schema import JsonType, UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("ts", UtcDateTime, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("arm", sa.String(100)),
        sa.Column("routing_key_hash", sa.String(64)),
        sa.Column("features", JsonType, nullable=False),
        sa.Column("prediction", JsonType),
        sa.Column("probabilities", JsonType),
        sa.Column("latency_ms", sa.Float, nullable=False),
    )
    op.create_index("ix_predictions_model_ts", "predictions", ["model", "ts"])
    op.create_table(
        "feedback",
        sa.Column("prediction_id", sa.String(36), primary_key=True),
        sa.Column("label", JsonType),
        sa.Column("ts", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_index("ix_predictions_model_ts", table_name="predictions")
    op.drop_table("predictions")
