"""The append-only audit log: one function writes events, inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
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
    ts: dt.datetime | None = None,
) -> int:
    """Append one event (who, what, about which subject, with what evidence); returns its id.

    ``ts`` defaults to now; a caller running on an injected clock (the loop) passes its own.
    """
    result = conn.execute(
        events.insert().values(
            ts=ts or utcnow(),
            actor=actor,
            kind=kind,
            subject_type=subject_type,
            subject=subject,
            payload=dict(payload),
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
