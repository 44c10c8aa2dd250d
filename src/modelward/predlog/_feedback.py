"""Ground-truth labels for logged predictions: idempotent, all or nothing, checked against the model."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from modelward.errors import ConflictError, DataError, NotFoundError
from modelward.predlog._records import FeedbackItem, FeedbackResult, plain_json
from modelward.store import Store
from modelward.store.schema import feedback, predictions, utcnow

__all__ = ["OutputSpec", "check_label", "record_feedback"]

#: ``(model, version) -> the "output" part of that version's signature`` ({"task", "classes"}).
OutputSpec = Callable[[str, int], Mapping[str, Any]]

_ATTEMPTS = 3  # a concurrent first label for the same id makes us re-read and decide again
_CHUNK = 500  # ids per statement: far below every database's limit on bound parameters
_NAMED = 20  # unknown ids named in a 404 (the count says how many in all)


class _LostRaceError(Exception):
    pass


def record_feedback(
    store: Store,
    items: Sequence[FeedbackItem],
    *,
    land: Callable[[], None],
    outputs: OutputSpec | None = None,
    now: dt.datetime | None = None,
) -> list[FeedbackResult]:
    """Store labels; one result per item, in order.

    The same label again is ``"unchanged"``; a different label for an id that already has one
    raises :class:`ConflictError` (409) unless the item says ``overwrite``; an id that was never
    logged raises :class:`NotFoundError` (404, naming at most 20 of them and the count); a label
    that is null, not finite, or (with ``outputs``) not a class of the model version that made
    the prediction (not a finite number for a regressor) raises :class:`DataError` (422). Any
    error records nothing from the call. ``land`` is called once when some ids are missing, to
    flush predictions still queued or spooled before deciding they do not exist. ``now`` stamps the
    labels (default: the current time; a replay on a simulated clock passes its own).
    """
    if not items:
        return []
    ids = sorted({item.prediction_id for item in items})
    owners = _owners(store, ids)
    if len(owners) < len(ids):
        land()
        owners = _owners(store, ids)
        missing = [pid for pid in ids if pid not in owners]
        if missing:
            listed = ", ".join(repr(pid) for pid in missing[:_NAMED])
            more = f" and {len(missing) - _NAMED} more" if len(missing) > _NAMED else ""
            raise NotFoundError(
                f"{len(missing)} of {len(ids)} prediction ids were never logged: {listed}{more}. Feedback "
                "must name an id from the prediction_ids of a predict response; nothing was recorded.",
                details={"prediction_ids": missing[:_NAMED], "missing": len(missing)},
            )
    wanted = []
    for item in items:
        label = plain_json(item.label, f"Label of {item.prediction_id!r}")
        if outputs is not None:
            model, version = owners[item.prediction_id]
            label = check_label(outputs(model, version), label, item.prediction_id, f"{model}@{version}")
        elif label is None:
            check_label({}, label, item.prediction_id, "its model")
        wanted.append((item.prediction_id, label, item.overwrite))
    for attempt in range(_ATTEMPTS):
        try:
            with store.write() as conn:
                return _apply(conn, store.dialect, wanted, ids, now or utcnow())
        except _LostRaceError:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def check_label(output: Mapping[str, Any], label: Any, prediction_id: str, model: str) -> Any:
    """``label`` as stored for a model whose signature output is ``output``, or a :class:`DataError`.

    A classifier's label must equal one of its classes as JSON values: ``1`` and ``1.0`` are the
    same integer class (stored as the class, ``1``), ``true``/``false`` match only boolean
    classes, strings only string classes. A regressor's label is a finite number.

    >>> check_label({"task": "classification", "classes": [0, 1]}, 1.0, "p1", "credit@1")
    1
    >>> check_label({"task": "classification", "classes": [0, 1]}, "yes", "p1", "credit@1")
    Traceback (most recent call last):
    ...
    modelward.errors.DataError: Label 'yes' of prediction 'p1' is not a class of credit@1 (classes: 0, 1). Send one of the classes.
    """
    if label is None or (isinstance(label, float) and not math.isfinite(label)):
        raise DataError(
            f"Label of prediction {prediction_id!r} is {'null' if label is None else label}; send the true "
            "label (a class of the model, or a number for a regressor).",
            details={"prediction_id": prediction_id},
        )
    task = output.get("task")
    if task == "regression":
        if isinstance(label, bool) or not isinstance(label, int | float):
            raise DataError(
                f"Label {label!r} of prediction {prediction_id!r} is not a number; {model} is a regressor: "
                "send a finite number.",
                details={"prediction_id": prediction_id, "label": label},
            )
        return label
    classes = output.get("classes")
    if task != "classification" or classes is None:
        return label
    for cls in classes:
        if _same_class(label, cls):
            return cls
    shown = ", ".join(map(repr, classes[:20])) + (f", … ({len(classes)} in all)" if len(classes) > 20 else "")
    raise DataError(
        f"Label {label!r} of prediction {prediction_id!r} is not a class of {model} (classes: {shown}). "
        "Send one of the classes.",
        details={"prediction_id": prediction_id, "label": label, "classes": classes[:20]},
    )


def _same_class(label: Any, cls: Any) -> bool:
    if isinstance(cls, bool) or isinstance(label, bool):
        return isinstance(cls, bool) and isinstance(label, bool) and cls == label
    if isinstance(cls, str) or isinstance(label, str):
        return isinstance(cls, str) and isinstance(label, str) and cls == label
    if isinstance(cls, int | float) and isinstance(label, int | float):
        return bool(cls == label)
    return bool(cls == label)


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _owners(store: Store, ids: list[str]) -> dict[str, tuple[str, int]]:
    """``id -> (model, version)`` of the ids that are logged."""
    out: dict[str, tuple[str, int]] = {}
    with store.read() as conn:
        for chunk in _chunks(ids):
            query = sa.select(predictions.c.id, predictions.c.model, predictions.c.version).where(
                predictions.c.id.in_(chunk)
            )
            out.update((row.id, (row.model, row.version)) for row in conn.execute(query))
    return out


def _apply(
    conn: Connection, dialect: str, wanted: list[tuple[str, Any, bool]], ids: list[str], now: dt.datetime
) -> list[FeedbackResult]:
    current: dict[str, Any] = {}
    for chunk in _chunks(ids):
        query = sa.select(feedback.c.prediction_id, feedback.c.label).where(
            feedback.c.prediction_id.in_(chunk)
        )
        if dialect == "postgresql":
            query = query.with_for_update()
        current.update((row.prediction_id, row.label) for row in conn.execute(query))
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
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(feedback)
    pending = list(new.items())
    for start in range(0, len(pending), _CHUNK):
        rows = [
            {"prediction_id": pid, "label": label, "ts": now, "updated_at": now}
            for pid, label in pending[start : start + _CHUNK]
        ]
        # executemany (one cached statement, batched by SQLAlchemy's insertmanyvalues), not a VALUES list:
        # that compiles a new statement for every batch size, which cost more than the insert itself.
        inserted = conn.execute(insert.on_conflict_do_nothing().returning(feedback.c.prediction_id), rows)
        if len(inserted.all()) < len(rows):
            raise _LostRaceError  # some labelled concurrently since our read: decide again
    for pid, label in changed.items():
        conn.execute(
            feedback.update().where(feedback.c.prediction_id == pid).values(label=label, updated_at=now)
        )
    return results
