"""What the log stores: prediction records, feedback items, and their JSON-lines form."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from modelward.errors import DataError, StoreError

__all__ = [
    "FeedbackItem",
    "FeedbackResult",
    "LogUnavailableError",
    "PredictionRecord",
    "decode_line",
    "encode_record",
    "plain_json",
]

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE


class LogUnavailableError(StoreError):
    """The prediction log cannot make a record durable (database down and ``on_failure: reject``)."""

    code = "log_unavailable"
    status_code = 503


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """One logged prediction: one row of a predict request and what the model answered.

    Attributes:
        id: the prediction id returned to the caller (a UUIDv7 string, so ids sort by time);
            feedback names it.
        ts: when the prediction was made; must be timezone-aware.
        model: the model's name.
        version: the model version that answered.
        arm: which reference answered: the alias (``champion``, …) or ``vN`` for a request
            pinned to version N; ``None`` when not served through the server.
        routing_key_hash: SHA-256 hex of the request's routing key (``X-Routing-Key`` or
            ``routing_key``), or ``None``; raw keys never reach the log.
        features: the model's inputs for this row, feature name → value.
        prediction: the model's output for this row (a class label or a number).
        probabilities: class probabilities in the order of the signature's ``classes``, or
            ``None`` (regression, or a model without ``predict_proba``).
        latency_ms: milliseconds from the request's arrival to the model's answer (shared by
            the rows of one request).
        context: what the caller sent beside the inputs for this row (the predict body's
            ``"context"``: e.g. a sensitive column that is not a model input), or ``None``; never
            passed to the model.
    """

    id: str
    ts: dt.datetime
    model: str
    version: int
    arm: str | None
    routing_key_hash: str | None
    features: dict[str, Any]
    prediction: Any
    probabilities: list[float] | None
    latency_ms: float
    context: dict[str, Any] | None = None


@dataclass(frozen=True)
class FeedbackItem:
    """Ground truth for one prediction, as ``POST /v1/feedback`` takes it.

    Attributes:
        prediction_id: the id a predict response returned for the row.
        label: the true outcome (a class label or a number).
        overwrite: replace a different label already stored; without it such an item is refused.
    """

    prediction_id: str
    label: Any
    overwrite: bool = False


@dataclass(frozen=True)
class FeedbackResult:
    """What storing one :class:`FeedbackItem` did.

    Attributes:
        prediction_id: the prediction the label was for.
        status: ``"recorded"`` (its first label), ``"unchanged"`` (the same label again) or
            ``"overwritten"`` (a different label replaced the stored one, with ``overwrite``).
    """

    prediction_id: str
    status: Literal["recorded", "unchanged", "overwritten"]


def encode_record(record: PredictionRecord) -> bytes:
    """One JSON line (newline included): the spool format, and the source of the database row.

    NumPy scalars and arrays become JSON numbers and lists; NaN and infinities become null
    (JSON has no NaN), so a record written to the spool reads back equal to the stored row.
    """
    if record.ts.tzinfo is None:
        raise DataError(
            f"Prediction {record.id!r} has a naive timestamp {record.ts.isoformat()}; "
            "give an aware one, e.g. datetime.now(timezone.utc)."
        )
    try:
        return orjson.dumps(record, option=_OPTIONS)
    except TypeError as exc:
        raise DataError(
            f"Prediction {record.id!r} of model {record.model!r} cannot be logged: {exc}. "
            "Features, prediction and probabilities must be JSON values (numbers, strings, "
            "booleans, null, lists, string-keyed objects) or NumPy scalars/arrays."
        ) from exc


def decode_line(line: bytes) -> dict[str, Any]:
    """The database row of an encoded record."""
    row: dict[str, Any] = orjson.loads(line)
    row["ts"] = dt.datetime.fromisoformat(row["ts"])
    row.setdefault("context", None)  # a line spooled by a version without the context key
    return row


def plain_json(value: Any, what: str) -> Any:
    """``value`` as plain JSON data (NumPy → Python, NaN → None), as the database will return it."""
    try:
        return orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY))
    except TypeError as exc:
        raise DataError(f"{what} must be a JSON value; got {type(value).__name__}: {exc}.") from exc
