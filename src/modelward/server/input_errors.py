"""The one error of a refused input (:class:`InputError`) and its reasons: what the request parsers and the
validator raise, counted by reason in ``modelward_input_errors_total``."""

from __future__ import annotations

from typing import Any

from modelward.errors import ModelwardError

__all__ = ["REASONS", "InputError", "json_type", "malformed", "nul_refused"]

# Every reason an input can be refused; the `reason` label of modelward_input_errors_total.
REASONS = (
    "malformed",
    "body_too_large",
    "too_many_rows",
    "missing_column",
    "unexpected_column",
    "wrong_type",
    "null_not_allowed",
    "unknown_category",
    "out_of_range",
    "model_rejected",
)


class InputError(ModelwardError):
    """A request body that does not fit the model's signature."""

    code = "invalid_input"
    status_code = 422

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        column: str | None = None,
        row: int | None = None,
        status_code: int = 422,
        details: dict[str, Any] | None = None,
    ) -> None:
        assert reason in REASONS, reason
        super().__init__(message, details={"reason": reason, "column": column, "row": row, **(details or {})})
        self.reason = reason
        self.status_code = status_code


def malformed(message: str) -> InputError:
    """A body that is not one of the accepted shapes (400)."""
    return InputError(message, reason="malformed", status_code=400)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def nul_refused(what: str, column: str, row: int | None) -> InputError:
    """A string holding a NUL character (``\\u0000``): PostgreSQL stores none in JSON, so the row could not be
    logged, and a micro-batch is logged at once: refused here, before it can fail anyone else's request (422)."""
    where = "" if row is None else f" in row {row}"
    return InputError(
        f"{what} holds a NUL character (\\u0000){where}; it cannot be logged (PostgreSQL stores none in JSON "
        "text). Remove it.",
        reason="out_of_range",
        column=column,
        row=row,
    )
