"""Explanations answered with predictions, when ``log.explanations`` is on (docs/explain.md).

``prediction_explanations`` holds, per prediction id, the explanation the caller got (the JSON of one row
of the answer's ``explanations.rows``), the method and the output space; indexed by model and time.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from modelward.store.schema import JsonType, UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prediction_explanations",
        sa.Column("prediction_id", sa.String(36), primary_key=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("ts", UtcDateTime, nullable=False),
        sa.Column("method", sa.String(50), nullable=False),
        sa.Column("output", sa.String(50), nullable=False),
        sa.Column("explanation", JsonType, nullable=False),
    )
    op.create_index("ix_prediction_explanations_model_ts", "prediction_explanations", ["model", "ts"])


def downgrade() -> None:
    op.drop_index("ix_prediction_explanations_model_ts", table_name="prediction_explanations")
    op.drop_table("prediction_explanations")
