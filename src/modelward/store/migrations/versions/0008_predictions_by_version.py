"""The prediction log by model version: an index on ``predictions (model, version, ts)``.

The monitor plans each version's next window from the first prediction of that version after the last
one it processed (``min(ts)`` of a version), and the loop counts a version's labeled predictions; with only
``(model, ts)`` both walked every later prediction of the model at every pass, all of them for a version
that no longer serves (a replaced champion, a rejected challenger).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_predictions_model_version_ts", "predictions", ["model", "version", "ts"])


def downgrade() -> None:
    op.drop_index("ix_predictions_model_version_ts", table_name="predictions")
