"""The predict body's ``"context"``: what a caller logs beside a row's inputs and never passes to the model
(a sensitive column the fairness check needs, say). One object for every row, or a list of one per row;
flat, with string, number, boolean or null values, and small: a row's context is a few descriptive
columns, not a second payload. A key that is also an input column is refused: a column is one or the other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from modelward.server.input_errors import InputError, json_type, malformed, nul_refused

__all__ = ["MAX_CONTEXT_KEYS", "MAX_CONTEXT_KEY_CHARS", "MAX_CONTEXT_VALUE_CHARS", "parse_context"]

MAX_CONTEXT_KEYS, MAX_CONTEXT_KEY_CHARS, MAX_CONTEXT_VALUE_CHARS = 20, 100, 200


def parse_context(value: Any, rows: int, columns: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The ``context`` of each row: one object for all of them, or a list of one per row."""
    if value is None:
        return None
    example = '{"context": {"gender": "f"}} or one object per row: {"context": [{"gender": "f"}, ...]}'
    if isinstance(value, dict):
        _check_context(value, None, columns)
        return [value] * rows
    if not isinstance(value, list):
        raise malformed(
            f"'context' must be an object or a list of objects, got a JSON {json_type(value)}; send {example}."
        )
    if len(value) != rows:
        raise malformed(
            f"'context' holds {len(value)} object(s) for {rows} row(s); send one per row, or one object for all "
            f"of them: {example}."
        )
    for row, item in enumerate(value):
        if not isinstance(item, dict):
            raise malformed(
                f"'context' item {row} must be an object, got a JSON {json_type(item)}; send {example}."
            )
        _check_context(item, row, columns)
    return value


def _check_context(item: dict[str, Any], row: int | None, columns: Mapping[str, Any]) -> None:
    where = "'context'" if row is None else f"'context' item {row}"
    if len(item) > MAX_CONTEXT_KEYS:
        raise malformed(f"{where} has {len(item)} keys; at most {MAX_CONTEXT_KEYS} are accepted.")
    for key, value in item.items():
        column = f"context.{key}"
        if not key or len(key) > MAX_CONTEXT_KEY_CHARS:
            raise malformed(f"{where} has a key of {len(key)} characters; use 1 to {MAX_CONTEXT_KEY_CHARS}.")
        if key in columns:
            raise InputError(
                f"{where} repeats {key!r}, which the request sends as an input column; a column is either a "
                "model input (in the rows) or context (never passed to the model), not both.",
                reason="unexpected_column",
                column=column,
                row=row,
            )
        if "\x00" in key:
            raise nul_refused(f"{where}: a key", column, row)
        if isinstance(value, str):
            if "\x00" in value:
                raise nul_refused(f"{where}: {key!r}", column, row)
            if len(value) > MAX_CONTEXT_VALUE_CHARS:
                raise InputError(
                    f"{where}: {key!r} is a string of {len(value)} characters; at most "
                    f"{MAX_CONTEXT_VALUE_CHARS} are accepted.",
                    reason="out_of_range",
                    column=column,
                    row=row,
                )
        elif isinstance(value, float) and not math.isfinite(value):
            raise InputError(
                f"{where}: {key!r} is {value}; send a finite number.",
                reason="out_of_range",
                column=column,
                row=row,
            )
        elif value is not None and not isinstance(value, bool | int | float):
            raise InputError(
                f"{where}: {key!r} is a JSON {json_type(value)}; context values are strings, numbers, "
                "booleans or null.",
                reason="wrong_type",
                column=column,
                row=row,
            )
