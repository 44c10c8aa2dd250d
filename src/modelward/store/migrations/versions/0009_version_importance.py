"""Global importance of each model version's input columns (mean |SHAP|, permutation importance).

``model_versions.importance`` holds the JSON of :class:`modelward.explain.importance.GlobalImportance`,
computed on the holdout at registration; versions registered before, or without a holdout, have none.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from modelward.store.schema import JsonType

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("importance", JsonType, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("importance")
