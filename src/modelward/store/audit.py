"""The append-only audit log: one function writes events, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Connection

from modelward.store.schema import events, utcnow


def record_event(
    conn: Connection,
    *,
    kind: str,
    subject_type: str,
    subject: str,
    actor: str,
    payload: Mapping[str, Any],
) -> None:
    """Append one event (who, what, about which subject, with what evidence)."""
    conn.execute(
        events.insert().values(
            ts=utcnow(),
            actor=actor,
            kind=kind,
            subject_type=subject_type,
            subject=subject,
            payload=dict(payload),
        )
    )
