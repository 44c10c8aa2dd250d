"""Ground-truth labels for logged predictions: idempotent, all or nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from modelward.errors import ConflictError, NotFoundError
from modelward.predlog._records import FeedbackItem, FeedbackResult, plain_json
from modelward.store import Store
from modelward.store.schema import feedback, predictions, utcnow

__all__ = ["record_feedback"]

_ATTEMPTS = 3  # a concurrent first label for the same id makes us re-read and decide again


class _LostRaceError(Exception):
    pass


def record_feedback(
    store: Store, items: Sequence[FeedbackItem], *, land: Callable[[], None]
) -> list[FeedbackResult]:
    """Store labels; one result per item, in order.

    The same label again is ``"unchanged"``; a different label for an id that already has one
    raises :class:`ConflictError` (409) unless the item says ``overwrite``; an id that was never
    logged raises :class:`NotFoundError` (404). Either error records nothing from the call.
    ``land`` is called once when some ids are missing, to flush predictions still queued or
    spooled before deciding they do not exist.
    """
    if not items:
        return []
    wanted = [
        (item.prediction_id, plain_json(item.label, f"Label of {item.prediction_id!r}"), item.overwrite)
        for item in items
    ]
    ids = sorted({pid for pid, _, _ in wanted})
    if _missing(store, ids):
        land()
        missing = _missing(store, ids)
        if missing:
            listed = ", ".join(repr(pid) for pid in missing)
            raise NotFoundError(
                f"No logged prediction with id {listed}. Feedback must name an id from the "
                "prediction_ids of a predict response.",
                details={"prediction_ids": missing},
            )
    for attempt in range(_ATTEMPTS):
        try:
            with store.write() as conn:
                return _apply(conn, store.dialect, wanted, ids)
        except _LostRaceError:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _missing(store: Store, ids: list[str]) -> list[str]:
    with store.read() as conn:
        found = set(conn.scalars(sa.select(predictions.c.id).where(predictions.c.id.in_(ids))))
    return [pid for pid in ids if pid not in found]


def _apply(
    conn: Connection, dialect: str, wanted: list[tuple[str, Any, bool]], ids: list[str]
) -> list[FeedbackResult]:
    query = sa.select(feedback.c.prediction_id, feedback.c.label).where(feedback.c.prediction_id.in_(ids))
    if dialect == "postgresql":
        query = query.with_for_update()
    current: dict[str, Any] = {row.prediction_id: row.label for row in conn.execute(query)}
    new: dict[str, Any] = {}
    changed: dict[str, Any] = {}
    results: list[FeedbackResult] = []
    for pid, label, overwrite in wanted:
        status: Literal["recorded", "unchanged", "overwritten"]
        if pid not in current:
            status, new[pid] = "recorded", label
        elif current[pid] == label:
            status = "unchanged"
        elif overwrite:
            status = "overwritten"
            (new if pid in new else changed)[pid] = label
        else:
            raise ConflictError(
                f"Prediction {pid!r} already has label {current[pid]!r}; got {label!r}. "
                "Send overwrite: true to replace it.",
                details={"prediction_id": pid, "stored_label": current[pid], "label": label},
            )
        current[pid] = label
        results.append(FeedbackResult(pid, status))
    now = utcnow()
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(feedback)
    for pid, label in new.items():
        row = {"prediction_id": pid, "label": label, "ts": now, "updated_at": now}
        inserted = conn.execute(
            insert.values(row).on_conflict_do_nothing().returning(feedback.c.prediction_id)
        ).first()
        if inserted is None:
            raise _LostRaceError(pid)  # labelled concurrently since our read: decide again
    for pid, label in changed.items():
        conn.execute(
            feedback.update().where(feedback.c.prediction_id == pid).values(label=label, updated_at=now)
        )
    return results
