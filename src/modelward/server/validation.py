"""Request bodies → validated columns, checked against a model's signature.

Everything here runs per request, before micro-batching, so one caller's bad row can never
fail another caller's request. Nothing is coerced: a string where a number is expected, a
``null`` in a column that never had missing values, a category never seen in training are
all refused with an :class:`InputError` naming the column, the row (0-based, as in the JSON
array) and the fix.

Accepted bodies are the formats of MLflow's scoring server:

* ``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}``
* ``{"dataframe_records": [{...}, ...]}`` and ``{"instances": [{...}, ...]}``
* ``{"inputs": [{...}, ...]}`` or ``{"inputs": {"col": [...], ...}}`` (columnar)

plus the optional keys ``return`` (``["proba"]``, ``["explanations"]`` or both), ``explain``
(``{"classes": "predicted" | "all"}``: which classes' attributions), ``routing_key``, ``params`` and
``context`` (what is logged beside the inputs but never passed to the model, such as a sensitive column
the fairness check needs: one object for every row, or a list of one object per row; flat, with string,
number, boolean or null values); and, as
MLflow's scoring server accepts, a ``text/csv`` body with a header row (:func:`csv_split`, read
as pandas reads it, then checked like any other body).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from modelward.server.context import parse_context
from modelward.server.input_errors import REASONS, InputError, nul_refused
from modelward.server.input_errors import json_type as _json_type
from modelward.server.input_errors import malformed as _malformed

__all__ = [
    "FORMATS",
    "REASONS",
    "Column",
    "InputError",
    "ParsedRequest",
    "Validator",
    "csv_split",
    "parse_body",
]

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_OPTIONAL = ("return", "routing_key", "params", "explain", "context")
_RETURNS = ("proba", "explanations")
_EXPLAIN_CLASSES = ("predicted", "all")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# scikit-learn's trees convert inputs to float32, and no tabular model needs more: a number
# outside float32's range would become infinite inside the model (and fail the whole batch).
FLOAT32_MAX = 3.4028234663852886e38
_FLOAT, _INT = {float}, {int}


@dataclass(frozen=True)
class ParsedRequest:
    """A body split into its parts; ``columns`` is still unvalidated."""

    columns: dict[str, list[Any]]
    rows: int
    want_proba: bool
    routing_key: str | None
    want_explanations: bool = False
    explain_all_classes: bool = False  # attributions of every class, not only the predicted one
    context: list[dict[str, Any]] | None = None  # one per row: logged beside the inputs, never predicted on


def parse_body(body: Any, *, max_rows: int, explaining: bool = False) -> ParsedRequest:
    """Split a decoded JSON body into columns (name → values) and options (``explaining``: the
    body of ``/explain``, which always returns explanations)."""
    if not isinstance(body, dict):
        raise _malformed(
            f"The request body must be a JSON object with one of {', '.join(FORMATS)}; "
            f"got a JSON {_json_type(body)}."
        )
    given = [k for k in FORMATS if k in body]
    unknown = sorted(set(body) - set(FORMATS) - set(_OPTIONAL))
    if unknown:
        raise _malformed(
            f"Unknown key(s) {', '.join(map(repr, unknown))} in the request body. "
            f"Valid keys: {', '.join(FORMATS + _OPTIONAL)}."
        )
    if len(given) != 1:
        got = ", ".join(given) if given else "none"
        raise _malformed(f"Send exactly one of {', '.join(FORMATS)}; got {got}.")
    key = given[0]
    columns, rows = _columns(key, body[key])
    if rows == 0:
        raise _malformed(f"'{key}' holds no rows; send at least one.")
    if rows > max_rows:
        raise InputError(
            f"{rows} rows in one request; at most {max_rows} are accepted (serve.max_rows). "
            "Split the request.",
            reason="too_many_rows",
            status_code=413,
            details={"rows": rows, "max_rows": max_rows},
        )
    returns = _returns(body.get("return"))
    want_explanations = explaining or "explanations" in returns
    all_classes = _explain_classes(body.get("explain"), want_explanations)
    routing_key = body.get("routing_key")
    if routing_key is not None and not isinstance(routing_key, str | int):
        raise _malformed(f"'routing_key' must be a string, got a JSON {_json_type(routing_key)}.")
    params = body.get("params")
    if params not in (None, {}):
        raise _malformed("'params' are not supported by scikit-learn models; remove them.")
    return ParsedRequest(
        columns,
        rows,
        "proba" in returns,
        None if routing_key is None else str(routing_key),
        want_explanations,
        all_classes,
        parse_context(body.get("context"), rows, columns),
    )


def csv_split(raw: bytes) -> dict[str, Any]:
    """A ``text/csv`` body (header row first) as a ``dataframe_split`` object of plain JSON values."""
    import io

    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype_backend="numpy_nullable", keep_default_na=True)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        message = " ".join(str(exc).split())
        raise _malformed(
            f"The text/csv body could not be read ({message}). Send a CSV with a header row of column "
            "names, one line per row, or send JSON."
        ) from exc
    columns = [str(c) for c in frame.columns]
    values = [[None if v is pd.NA else v for v in frame[c].astype(object).tolist()] for c in frame.columns]
    return {"columns": columns, "data": [list(row) for row in zip(*values, strict=True)]}


def _returns(value: Any) -> set[str]:
    if value is None:
        return set()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _malformed(f"'return' must be a list such as [\"proba\"], got {value!r}.")
    bad = [v for v in value if v not in _RETURNS]
    if bad:
        raise _malformed(f"'return' may hold {', '.join(_RETURNS)}; got {', '.join(bad)}.")
    return set(value)


def _explain_classes(value: Any, wanted: bool) -> bool:
    """Whether ``"explain": {"classes": "all"}`` asks for every class's attributions."""
    if value is None:
        return False
    if not wanted:
        raise _malformed('\'explain\' options need "return": ["explanations"] (or POST .../explain).')
    if not isinstance(value, dict) or set(value) - {"classes"}:
        raise _malformed(f'\'explain\' must be an object such as {{"classes": "all"}}, got {value!r}.')
    classes = value.get("classes", "predicted")
    if classes not in _EXPLAIN_CLASSES:
        raise _malformed(
            f"'explain.classes' may be {' or '.join(map(repr, _EXPLAIN_CLASSES))}; got {classes!r}."
        )
    return bool(classes == "all")


def _columns(key: str, value: Any) -> tuple[dict[str, list[Any]], int]:
    if key == "dataframe_split":
        return _from_split(value)
    if key == "inputs" and isinstance(value, dict):
        return _from_columnar(value)
    if not isinstance(value, list):
        raise _malformed(f"'{key}' must be a list of records (JSON objects), got a JSON {_json_type(value)}.")
    return _from_records(key, value)


def _from_records(key: str, records: list[Any]) -> tuple[dict[str, list[Any]], int]:
    n = len(records)
    if n == 0:
        return {}, 0
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise _malformed(
                f"'{key}' must be a list of records (JSON objects mapping column to value); row {i} of {n} "
                f"is a JSON {_json_type(rec)}. Use dataframe_split for rows given as lists."
            )
    names = list(records[0])
    columns: dict[str, list[Any]] = {name: [] for name in names}
    pairs = list(columns.items())
    for i, rec in enumerate(records):
        try:
            for name, col in pairs:
                col.append(rec[name])
        except KeyError as exc:
            raise _inconsistent(str(exc.args[0]), i, n) from None
        if len(rec) != len(names):
            extra = next(c for c in rec if c not in columns)
            raise _inconsistent(extra, 0, n)
    return columns, n


def _inconsistent(column: str, row: int, n: int) -> InputError:
    return InputError(
        f"Column {column!r} is missing in row {row} of {n} (other records have it). "
        "Send the same columns in every record; a missing value is null.",
        reason="missing_column",
        column=column,
        row=row,
    )


def _from_split(value: Any) -> tuple[dict[str, list[Any]], int]:
    if not isinstance(value, dict) or "columns" not in value or "data" not in value:
        raise _malformed(
            'dataframe_split must be an object {"columns": [names], "data": [[row], ...]} ("index" optional).'
        )
    names, data = value["columns"], value["data"]
    if not isinstance(names, list) or not all(isinstance(c, str) for c in names):
        raise _malformed("dataframe_split.columns must be a list of column names (strings).")
    if len(set(names)) != len(names):
        dup = next(c for c in names if names.count(c) > 1)
        raise _malformed(f"dataframe_split.columns names {dup!r} twice; column names must be unique.")
    if not isinstance(data, list):
        raise _malformed(f"dataframe_split.data must be a list of rows, got a JSON {_json_type(data)}.")
    n, width = len(data), len(names)
    columns: dict[str, list[Any]] = {c: [] for c in names}
    lists = list(columns.values())
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != width:
            size = f"{len(row)} values" if isinstance(row, list) else f"a JSON {_json_type(row)}"
            raise _malformed(
                f"dataframe_split.data row {i} of {n} has {size}; expected {width} (one per column)."
            )
        for col, val in zip(lists, row, strict=True):
            col.append(val)
    return columns, n


def _from_columnar(value: dict[str, Any]) -> tuple[dict[str, list[Any]], int]:
    lengths = {name: len(v) for name, v in value.items() if isinstance(v, list)}
    bad = [name for name, v in value.items() if not isinstance(v, list)]
    if bad:
        raise _malformed(
            f"inputs given as columns must map each column to a list of values; {bad[0]!r} is not a list."
        )
    if len(set(lengths.values())) > 1:
        raise _malformed(f"inputs columns have different lengths: {lengths}. Send one value per row in each.")
    n = next(iter(lengths.values()), 0)
    return {name: list(v) for name, v in value.items()}, n


# -- validation against a signature -----------------------------------------------------------

Kind = Literal["numeric", "categorical", "boolean", "datetime", "text"]


@dataclass(frozen=True)
class Column:
    """One input column of a signature, compiled for fast checks."""

    name: str
    kind: Kind
    dtype: str
    nullable: bool
    categories: frozenset[Any] | None

    @functools.cached_property
    def integer(self) -> bool:
        return self.kind == "numeric" and self.dtype.startswith(("int", "uint", "Int", "UInt"))

    @property
    def expected(self) -> str:
        if self.kind == "numeric":
            return "an integer" if self.integer else "a number"
        if self.kind == "boolean":
            return "true or false"
        if self.kind == "datetime":
            return "an ISO-8601 date-time string"
        if self.kind == "categorical":
            return "a category (string)"
        return "a string"


class Validator:
    """Checks parsed columns against one model version's signature."""

    def __init__(
        self,
        signature: Mapping[str, Any],
        *,
        unexpected_columns: Literal["reject", "drop"] = "reject",
        unknown_categories: Literal["reject", "allow"] = "reject",
    ) -> None:
        self.columns = [
            Column(
                name=str(c["name"]),
                kind=c.get("type", "numeric"),
                dtype=str(c.get("dtype", "float64")),
                nullable=bool(c.get("nullable", False)),
                categories=frozenset(c["categories"]) if c.get("categories") is not None else None,
            )
            for c in signature.get("inputs", [])
        ]
        self.names = [c.name for c in self.columns]
        self._known = frozenset(self.names)
        self.unexpected_columns = unexpected_columns
        self.unknown_categories = unknown_categories

    def validate(self, parsed: ParsedRequest) -> dict[str, list[Any]]:
        """The columns in signature order, every value checked; raises :class:`InputError`."""
        given, n = parsed.columns, parsed.rows
        extra = [c for c in given if c not in self._known]
        if extra and self.unexpected_columns == "reject":
            raise InputError(
                f"Unexpected column {extra[0]!r}: the model takes {', '.join(self.names)}. "
                "Remove it (or set serve.unexpected_columns: drop).",
                reason="unexpected_column",
                column=extra[0],
                details={"unexpected": extra},
            )
        out: dict[str, list[Any]] = {}
        for col in self.columns:
            values = given.get(col.name)
            if values is None:
                raise InputError(
                    f"Missing column {col.name!r} ({col.expected}); every row needs it. "
                    f"The model takes {', '.join(self.names)}.",
                    reason="missing_column",
                    column=col.name,
                    row=0,
                )
            self._check(col, values, n)
            out[col.name] = values
        return out

    def _check(self, col: Column, values: Sequence[Any], n: int) -> None:
        kind = col.kind
        if kind == "numeric" and not col.integer:  # the common case, checked at C speed
            types = set(map(type, values))
            if types == _FLOAT and all(map(math.isfinite, values)) and max(map(abs, values)) <= FLOAT32_MAX:
                return
            if types == _INT and min(values) >= _INT64_MIN and max(values) <= _INT64_MAX:
                return
        for i, v in enumerate(values):
            if v is None:
                if not col.nullable:
                    raise InputError(
                        f"Column {col.name!r} is null in row {i} of {n}, but it had no missing values in "
                        f"training. Send {col.expected}.",
                        reason="null_not_allowed",
                        column=col.name,
                        row=i,
                    )
                continue
            if kind == "numeric":
                ok = isinstance(v, int | float) and not isinstance(v, bool)
                if ok:
                    _check_range(col, v, i, n)
                    ok = not col.integer or isinstance(v, int) or v.is_integer()
            elif kind == "boolean":
                ok = isinstance(v, bool)
            elif kind == "datetime":
                ok = isinstance(v, str) and _is_iso_datetime(v)
            elif kind == "categorical":
                ok = isinstance(v, str | int) and not isinstance(v, bool)
                if ok and isinstance(v, int):
                    _check_range(col, v, i, n)
                if ok and col.categories is not None and v not in col.categories:
                    self._unknown_category(col, v, i, n)
            else:
                ok = isinstance(v, str)
            if ok and isinstance(v, str) and "\x00" in v:
                raise nul_refused(f"Column {col.name!r}", col.name, i)
            if not ok:
                raise InputError(
                    f"Column {col.name!r} expected {col.expected}, got {_show(v)} in row {i} of {n}. "
                    f"Send {col.expected}; values are never converted.",
                    reason="wrong_type",
                    column=col.name,
                    row=i,
                    details={"expected": col.expected, "got": _json_type(v)},
                )

    def _unknown_category(self, col: Column, value: Any, row: int, n: int) -> None:
        if self.unknown_categories == "allow":
            return
        assert col.categories is not None
        known = sorted(col.categories, key=str)
        shown = ", ".join(map(repr, known[:10])) + ("" if len(known) <= 10 else f", … ({len(known)} in all)")
        raise InputError(
            f"Column {col.name!r} has unknown category {value!r} in row {row} of {n}; known: {shown}. "
            "Send a known category (or set serve.unknown_categories: allow).",
            reason="unknown_category",
            column=col.name,
            row=row,
        )


def _check_range(col: Column, value: float, row: int, n: int) -> None:
    """Refuse a number no model can take: not finite, beyond float32, or an integer beyond int64."""
    if isinstance(value, int):
        ok = _INT64_MIN <= value <= _INT64_MAX
        limit = "a 64-bit integer (between -2**63 and 2**63-1)"
    elif col.integer:
        ok = math.isfinite(value) and _INT64_MIN <= value <= _INT64_MAX
        limit = "a 64-bit integer (between -2**63 and 2**63-1)"
    else:
        ok = math.isfinite(value) and abs(value) <= FLOAT32_MAX
        limit = f"a finite number within float32 range (±{FLOAT32_MAX:.6g})"
    if not ok:
        raise InputError(
            f"Column {col.name!r} has {_show(value)} in row {row} of {n}, outside the range a model can take: "
            f"send {limit}.",
            reason="out_of_range",
            column=col.name,
            row=row,
            details={"got": _show(value)},
        )


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str | int | float | bool) else f"a JSON {_json_type(value)}"
    return text if len(text) <= 60 else text[:57] + "..."


def _is_iso_datetime(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True
