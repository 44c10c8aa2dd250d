"""One leader among replicas: the loop's lease row.

Several ``serve``/``loop`` processes may share one database; exactly one of them runs the loop. It
holds the lease row (one per lease name) until ``expires_at`` and renews it; a process takes an
expired lease by a conditional UPDATE that increments ``epoch``. The epoch fences a stale leader: the
loop's writes are conditional on the epoch it holds. A row, not an advisory lock, because advisory
locks do not survive PgBouncer's transaction pooling and SQLite has none.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from modelward.store.schema import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "loop_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("acquired_at", UtcDateTime, nullable=False),
        sa.Column("renewed_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("loop_leases")
