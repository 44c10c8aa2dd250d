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
    """One logged prediction. ``ts`` must be timezone-aware; ``features`` are the model's inputs."""

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


@dataclass(frozen=True)
class FeedbackItem:
    """Ground truth for one prediction; ``overwrite`` replaces a different label already stored."""

    prediction_id: str
    label: Any
    overwrite: bool = False


@dataclass(frozen=True)
class FeedbackResult:
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
    return row


def plain_json(value: Any, what: str) -> Any:
    """``value`` as plain JSON data (NumPy → Python, NaN → None), as the database will return it."""
    try:
        return orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY))
    except TypeError as exc:
        raise DataError(f"{what} must be a JSON value; got {type(value).__name__}: {exc}.") from exc
