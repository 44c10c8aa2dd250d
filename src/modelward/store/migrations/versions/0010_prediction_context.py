"""What a caller sent beside a prediction's inputs: the ``"context"`` body key (docs/serving.md).

``predictions.context`` holds a JSON object per row (e.g. a sensitive column such as ``{"gender": "f"}``
that is not a model input but is needed to check fairness), or NULL when none was sent; it is never
passed to the model. Rows logged before this migration have none.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from modelward.store.schema import JsonType

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("context", JsonType, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("context")
