"""Pure functions over tabular data: read and validate a file, infer a schema, summarise,
hash, snapshot and diff.

Nothing here touches the database or the artifact store; :mod:`modelward.datasets` wires
these functions into versioned datasets.

Decisions worth knowing:

* **Column kinds** (:func:`infer_schema`) are ``numeric``, ``categorical``, ``boolean``,
  ``datetime`` and ``text``. An integer column holding only 0 and 1 is ``numeric``, not
  ``boolean``: the kind feeds the input signature, whose allowed categories a server
  enforces, and a count that happened to be 0/1 in the training data must not refuse a 2
  later. Columns of bool dtype, and string columns holding only ``true``/``false`` (any
  case), are ``boolean``.
* **The field separator** is the extension's (``,`` for ``.csv``, tab for ``.tsv``) unless that
  reads the header as a single column while the first rows are consistently separated by
  another of ``,`` ``;`` tab ``|`` (``csv.Sniffer``): a semicolon-separated ``.csv`` is read as
  such. A single-column header that holds one of those characters without such a consistent
  separator is an error, never one silently merged column.
* **CSV parsing is faithful**: pandas' exact float parsing, no thousands separators, dates
  stay strings (the schema still calls ISO-date columns ``datetime``). A column that is
  mostly numbers (at least 90% of its non-missing values) but holds some non-numbers is an
  error rather than silently becoming text; the same goes for mostly-ISO-date columns.
* **Statistics** use ``count`` for the number of non-missing values (pandas' convention);
  ``std`` is the sample standard deviation (ddof=1); percentiles use linear interpolation.

>>> frame = pd.DataFrame({"age": [31, 45, 27], "plan": ["basic", "pro", "basic"]})
>>> infer_schema(frame)
{'age': 'numeric', 'plan': 'categorical'}
>>> summarize(frame, infer_schema(frame))["plan"]["top"]
[['basic', 2], ['pro', 1]]
>>> content_hash(frame) == content_hash(from_parquet_bytes(to_parquet_bytes(frame)))
True
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from modelward.errors import DataError

__all__ = [
    "content_hash",
    "diff_frames",
    "from_parquet_bytes",
    "infer_schema",
    "read_table",
    "summarize",
    "to_parquet_bytes",
]

log = logging.getLogger(__name__)

KINDS = ("numeric", "categorical", "boolean", "datetime", "text")

_CSV_SUFFIXES = {".csv": ",", ".csv.gz": ",", ".tsv": "\t", ".tsv.gz": "\t"}
_PARQUET_SUFFIXES = (".parquet", ".pq")
_SUPPORTED = ", ".join([*_CSV_SUFFIXES, *_PARQUET_SUFFIXES])
_SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "'|'"}
_SNIFF_CHARS = 64 * 1024  # of text read to detect the separator

MIXED_THRESHOLD = 0.9
"""A CSV column is "mixed" when at least this share of its non-missing values parse as
numbers (or ISO dates) but not all of them do."""

CATEGORICAL_MAX_DISTINCT = 50
CATEGORICAL_MAX_SHARE = 0.05
"""A string column is categorical when it has at most ``CATEGORICAL_MAX_DISTINCT`` distinct
values, or when its distinct values are at most this share of its non-missing values."""

TOP_CATEGORIES = 20
MAX_LISTED_CATEGORIES = 1000

# Whole-value patterns, run by pyarrow's RE2 (vectorised). An ISO 8601 date or date-time:
_ISO_DATETIME = (
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
# A number as pandas' CSV parser reads one:
_NUMBER = r"\s*[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)\s*"
_HASH_VERSION = b"modelward-frame-hash-v1"


# --------------------------------------------------------------------------- reading


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV/TSV (optionally gzipped) or Parquet file into a validated frame.

    Raises :class:`~modelward.errors.DataError` naming the file (and the column, row or
    line where relevant) when the file is missing, empty, unparseable, has blank or
    duplicate column names, or holds a column of mixed types.
    """
    file = Path(path)
    name = file.name
    if not file.exists():
        raise DataError(
            f"File '{file}' does not exist. Check the path (relative paths are resolved from {Path.cwd()}).",
            details={"file": str(file)},
        )
    if file.is_dir():
        raise DataError(
            f"'{file}' is a directory, not a data file. Pass a single {_SUPPORTED} file.",
            details={"file": str(file)},
        )
    suffix = _suffix(file)
    if suffix is None:
        raise DataError(
            f"File '{name}' has an unsupported extension. Supported: {_SUPPORTED}. "
            "Rename the file or convert it to CSV or Parquet.",
            details={"file": str(file)},
        )
    if file.stat().st_size == 0:
        raise DataError(
            f"File '{name}' is empty (0 bytes). Add a header row and at least one data row.",
            details={"file": str(file)},
        )
    if suffix in _PARQUET_SUFFIXES:
        frame = _read_parquet(file)
        _check_object_columns(frame, name)
    else:
        frame = _read_csv(file, _separator(file, _CSV_SUFFIXES[suffix]))
        _check_object_columns(frame, name)
        _check_mixed_strings(frame, name)
    return frame


def _suffix(file: Path) -> str | None:
    lower = file.name.lower()
    for suffix in (*_CSV_SUFFIXES, *_PARQUET_SUFFIXES):
        if lower.endswith(suffix) and len(lower) > len(suffix):
            return suffix
    return None


def _check_header(names: list[str], name: str) -> None:
    seen: dict[str, int] = {}
    for position, column in enumerate(names, start=1):
        if not column.strip():
            raise DataError(
                f"File '{name}' has a blank column name (column {position} of {len(names)}). "
                "Give every column a name in the header row.",
                details={"file": name, "column_position": position},
            )
        if column in seen:
            raise DataError(
                f"File '{name}' has duplicate column name '{column}' (columns {seen[column]} and "
                f"{position}). Rename one of them so every column name is unique.",
                details={"file": name, "column": column, "positions": [seen[column], position]},
            )
        seen[column] = position


def _open_text(file: Path) -> IO[str]:
    if file.name.lower().endswith(".gz"):
        return gzip.open(file, "rt", encoding="utf-8-sig", newline="")
    return open(file, encoding="utf-8-sig", newline="")


def _separator(file: Path, default: str) -> str:
    """The field separator of a CSV/TSV file: ``default`` (the extension's) unless the header has a
    single column under it and the first rows are consistently separated by another candidate."""
    try:
        with _open_text(file) as handle:
            sample = handle.read(_SNIFF_CHARS)
            if handle.read(1):  # cut to whole lines
                sample = sample[: sample.rfind("\n") + 1] or sample
    except (UnicodeDecodeError, OSError, EOFError):
        return default  # _scan_csv reports these with the file's name
    header_line = next((line for line in sample.splitlines() if line.strip()), "")
    try:
        header = next(csv.reader([header_line], delimiter=default))
    except (csv.Error, StopIteration):
        return default
    if len(header) != 1:
        return default
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(_SEPARATORS)).delimiter
    except csv.Error:  # no candidate separates the rows consistently
        sniffed = default
    if sniffed != default and len(next(csv.reader([header_line], delimiter=sniffed))) > 1:
        log.info("%s is %s-separated, not %s-separated", file.name, _SEPARATORS[sniffed], _SEPARATORS[default])
        return sniffed
    held = [name for sep, name in _SEPARATORS.items() if sep != default and sep in header_line]
    if held:
        names = list(_SEPARATORS.values())
        raise DataError(
            f"File '{file.name}' reads as a single column named {header[0]!r}, whose name holds a "
            f"{' and a '.join(held)}: it is not {_SEPARATORS[default]}-separated, and its first rows are not "
            f"consistently separated by a {', '.join(names[:-1])} or {names[-1]} either. Save it as comma-separated "
            "CSV (or tab-separated .tsv) with the same number of fields on every line.",
            details={"file": file.name, "header": header_line[:200]},
        )
    return default


def _scan_csv(file: Path, sep: str) -> tuple[list[str], int]:
    """Header and number of data rows; raise on ragged rows, bad encoding or bad quoting."""
    name = file.name
    header: list[str] | None = None
    rows = line = 0
    try:
        with _open_text(file) as handle:
            reader = csv.reader(handle, delimiter=sep, strict=True)
            for record in reader:
                line = reader.line_num
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue  # blank line: pandas skips it too
                if header is None:
                    header = record
                    _check_header(header, name)
                    continue
                rows += 1
                if len(record) != len(header):
                    raise DataError(
                        f"File '{name}' cannot be parsed: line {line} has {len(record)} "
                        f"fields but the header has {len(header)}. Fix that row, or quote values "
                        f"that contain the separator {sep!r}.",
                        details={"file": name, "line": line, "fields": len(record)},
                    )
    except UnicodeDecodeError as exc:
        raise DataError(
            f"File '{name}' is not UTF-8 text ({exc.reason} at byte {exc.start}). Re-save it as UTF-8.",
            details={"file": name},
        ) from exc
    except (OSError, EOFError) as exc:  # e.g. gzip.BadGzipFile, truncated archive
        raise DataError(f"File '{name}' cannot be read: {exc}.", details={"file": name}) from exc
    except csv.Error as exc:
        raise DataError(
            f"File '{name}' cannot be parsed as CSV: the row starting at line {line + 1} is malformed "
            f"({exc}). Check its quoting: a quoted value must end with a quote followed by {sep!r} "
            "or the end of the line.",
            details={"file": name, "line": line + 1},
        ) from exc
    if header is None:
        raise DataError(
            f"File '{name}' is empty (no header row). Add a header row and at least one data row.",
            details={"file": name},
        )
    if rows == 0:
        raise DataError(
            f"File '{name}' has a header but no data rows. Add at least one row of data.",
            details={"file": name, "columns": header},
        )
    return header, rows


def _read_csv(file: Path, sep: str) -> pd.DataFrame:
    header, rows = _scan_csv(file, sep)
    try:
        frame = pd.read_csv(
            file,
            sep=sep,
            encoding="utf-8-sig",
            index_col=False,
            low_memory=False,
            compression="infer",
        )
    except (ValueError, pd.errors.ParserError) as exc:  # the scan should have caught these
        raise DataError(
            f"File '{file.name}' cannot be parsed as CSV: {exc}. Check its quoting and separators.",
            details={"file": file.name},
        ) from exc
    if list(frame.columns) != header or len(frame) != rows:  # pragma: no cover - defensive
        raise DataError(
            f"File '{file.name}' was read inconsistently ({len(frame)} rows, expected {rows}). "
            "Check its quoting and line endings.",
            details={"file": file.name},
        )
    return frame


def _read_parquet(file: Path) -> pd.DataFrame:
    name = file.name
    try:
        _check_header([str(n) for n in pq.read_schema(file).names], name)
        table = pq.read_table(file)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"File '{name}' cannot be read as Parquet: {exc}. Check that it is a complete Parquet file.",
            details={"file": name},
        ) from exc
    if table.num_rows == 0:
        raise DataError(
            f"File '{name}' has columns but no rows. Add at least one row of data.",
            details={"file": name, "columns": table.column_names},
        )
    frame: pd.DataFrame = table.to_pandas()
    if isinstance(frame.index, pd.RangeIndex) and frame.index.name is None:
        return frame.reset_index(drop=True)
    return frame.reset_index()  # a named or non-range index holds data: keep it as columns


def _check_object_columns(frame: pd.DataFrame, name: str) -> None:
    """An object column must not hold both strings and numbers."""
    for column in frame.columns:
        series = frame[column]
        if not pd.api.types.is_object_dtype(series.dtype):
            continue
        values = series.dropna()
        is_number = values.map(_is_number).to_numpy(dtype=bool)
        is_string = values.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
        if not (is_number.any() and is_string.any()):
            continue
        if is_number.sum() >= is_string.sum():
            expected, offending = "numbers", is_string
        else:
            expected, offending = "text", is_number
        _raise_mixed(frame, name, str(column), expected, values, offending)


def _check_mixed_strings(frame: pd.DataFrame, name: str) -> None:
    """A CSV string column that is mostly numbers (or ISO dates) has a bad value."""
    for column in frame.columns:
        series = frame[column]
        if not _is_string_dtype(series):
            continue
        values = series.dropna().astype(str)
        if values.empty:
            continue
        numeric = _matches(values, _NUMBER)
        if numeric.mean() >= MIXED_THRESHOLD and not numeric.all():
            _raise_mixed(frame, name, str(column), "numbers", values, ~numeric)
        dates = _matches(values, _ISO_DATETIME)
        if dates.mean() >= MIXED_THRESHOLD and not dates.all():
            _raise_mixed(frame, name, str(column), "ISO dates (YYYY-MM-DD[THH:MM:SS])", values, ~dates)


def _matches(values: pd.Series, pattern: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Which of ``values`` (strings, no missing) match ``pattern`` as a whole."""
    array = pa.array(values.astype(str), type=pa.large_string())
    matched = pc.match_substring_regex(array, f"^(?:{pattern})$")
    return np.asarray(matched.to_numpy(zero_copy_only=False), dtype=bool)


def _raise_mixed(
    frame: pd.DataFrame, name: str, column: str, expected: str, values: pd.Series, offending: Any
) -> NoReturn:
    bad = values[offending]
    position = frame.index.get_loc(bad.index[0])
    row = int(position) + 1 if isinstance(position, int | np.integer) else 0
    value = _plain(bad.iloc[0])
    more = f" ({len(bad) - 1} more row{'s' if len(bad) > 2 else ''} like it)" if len(bad) > 1 else ""
    raise DataError(
        f"Column '{column}' expected {expected}, got {value!r} in row {row} of {len(frame)}{more} "
        f"in file '{name}'. Correct the value, or leave the cell empty to mark it missing.",
        details={"file": name, "column": column, "row": row, "value": str(value), "expected": expected},
    )


# --------------------------------------------------------------------------- schema


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def _is_string_dtype(series: pd.Series) -> bool:
    if isinstance(series.dtype, pd.StringDtype):
        return True
    if not pd.api.types.is_object_dtype(series.dtype):
        return False
    values = series.dropna()
    return bool(len(values)) and bool(values.map(lambda v: isinstance(v, str)).all())


def infer_schema(df: pd.DataFrame) -> dict[str, str]:
    """Map every column to ``numeric``, ``categorical``, ``boolean``, ``datetime`` or ``text``.

    >>> infer_schema(pd.DataFrame({"flag": [True, False], "n": [0, 1], "day": ["2024-01-01", "2024-01-02"]}))
    {'flag': 'boolean', 'n': 'numeric', 'day': 'datetime'}
    """
    return {str(column): _kind(df[column]) for column in df.columns}


def _kind(series: pd.Series) -> str:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return "numeric"
    values = series.dropna()
    if values.empty:
        return "text"  # all missing: no categories to allow, nothing to measure
    if pd.api.types.is_object_dtype(dtype):
        if all(isinstance(v, bool | np.bool_) for v in values):
            return "boolean"
        if all(_is_number(v) for v in values):
            return "numeric"
        if not all(isinstance(v, str) for v in values):
            return "text"  # arbitrary Python objects
    strings = values.astype(str)
    if strings.str.lower().isin(["true", "false"]).all():
        return "boolean"
    if _matches(strings, _ISO_DATETIME).all() and _parse_datetimes(strings) is not None:
        return "datetime"
    distinct = int(strings.nunique())
    if distinct <= CATEGORICAL_MAX_DISTINCT or distinct <= CATEGORICAL_MAX_SHARE * len(strings):
        return "categorical"
    return "text"


def _parse_datetimes(values: pd.Series) -> pd.Series | None:
    """ISO strings as timestamps (UTC when offsets are mixed); ``None`` if any fails to parse."""
    for utc in (False, True):
        try:
            parsed = pd.to_datetime(values, format="ISO8601", utc=utc)
        except (ValueError, TypeError, OverflowError):
            continue
        return parsed if parsed.notna().all() else None
    return None


# --------------------------------------------------------------------------- statistics


def summarize(df: pd.DataFrame, schema: dict[str, str]) -> dict[str, dict[str, Any]]:
    """JSON-serialisable statistics for every column, by the column's kind.

    Every column has ``count`` (non-missing values), ``missing`` and ``missing_rate``.
    numeric: ``mean std min p25 p50 p75 max n_unique`` (non-finite results are ``None``);
    categorical/boolean: ``n_unique``, ``top`` (``[value, count]`` pairs, at most 20, most
    frequent first) and ``categories`` (sorted, or ``None`` beyond 1000); datetime:
    ``min``/``max`` as ISO strings and ``n_unique``; text: ``n_unique`` and ``mean_length``.
    """
    out: dict[str, dict[str, Any]] = {}
    for column in df.columns:
        key = str(column)
        kind = schema.get(key)
        if kind not in KINDS:
            raise DataError(
                f"Column '{key}' has no valid kind in the schema (got {kind!r}; expected one of "
                f"{', '.join(KINDS)}). Pass the schema from infer_schema(frame).",
                details={"column": key, "kind": kind},
            )
        series = df[column]
        values = series.dropna()
        rows = len(series)
        stats: dict[str, Any] = {
            "count": len(values),
            "missing": rows - len(values),
            "missing_rate": (rows - len(values)) / rows if rows else 0.0,
        }
        if kind == "numeric":
            stats.update(_numeric_stats(values))
        elif kind in ("categorical", "boolean"):
            stats.update(_categorical_stats(values))
        elif kind == "datetime":
            stats.update(_datetime_stats(values))
        else:
            strings = values.astype(str)
            stats["n_unique"] = int(strings.nunique())
            stats["mean_length"] = _float(strings.str.len().mean()) if len(strings) else None
        out[key] = stats
    return out


def _float(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _numeric_stats(values: pd.Series) -> dict[str, Any]:
    if pd.api.types.is_timedelta64_dtype(values.dtype):
        values = values.dt.total_seconds()
    array = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    array = array[~np.isnan(array)]
    if array.size == 0:
        return dict.fromkeys(("mean", "std", "min", "p25", "p50", "p75", "max"), None) | {"n_unique": 0}
    with np.errstate(all="ignore"):
        p25, p50, p75 = np.percentile(array, [25, 50, 75])
        return {
            "mean": _float(np.mean(array)),
            "std": _float(np.std(array, ddof=1)) if array.size > 1 else None,
            "min": _float(array.min()),
            "p25": _float(p25),
            "p50": _float(p50),
            "p75": _float(p75),
            "max": _float(array.max()),
            "n_unique": len(np.unique(array)),
        }


def _plain(value: Any) -> Any:
    """A JSON-friendly Python scalar."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, pd.Timestamp | np.datetime64):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _sort_key(value: Any) -> tuple[str, Any]:
    if isinstance(value, bool | int | float):
        return ("0", float(value))
    return ("1", str(value))


def _categorical_stats(values: pd.Series) -> dict[str, Any]:
    counts = values.astype(object).value_counts(sort=False)
    pairs = [(_plain(v), int(c)) for v, c in counts.items()]
    by_count = sorted(pairs, key=lambda p: (-p[1], _sort_key(p[0])))
    categories = sorted((v for v, _ in pairs), key=_sort_key)
    return {
        "n_unique": len(pairs),
        "top": [[v, c] for v, c in by_count[:TOP_CATEGORIES]],
        "categories": categories if len(categories) <= MAX_LISTED_CATEGORIES else None,
    }


def _datetime_stats(values: pd.Series) -> dict[str, Any]:
    parsed = (
        values if pd.api.types.is_datetime64_any_dtype(values.dtype) else _parse_datetimes(values.astype(str))
    )
    if parsed is None or parsed.empty:
        return {"min": None, "max": None, "n_unique": int(values.nunique())}
    return {
        "min": pd.Timestamp(parsed.min()).isoformat(),
        "max": pd.Timestamp(parsed.max()).isoformat(),
        "n_unique": int(parsed.nunique()),
    }


# --------------------------------------------------------------------------- hashing and snapshots


def content_hash(df: pd.DataFrame) -> str:
    """SHA-256 of the frame's column names, order, dtypes and values (not its index).

    Identical content hashes identically in every process and whether it was read from CSV
    or Parquet; changing any value, column name, dtype or the column order changes it.
    """
    digest = hashlib.sha256(_HASH_VERSION)
    digest.update(len(df).to_bytes(8, "little"))
    for column in df.columns:
        for part in (str(column), str(df[column].dtype)):
            encoded = part.encode("utf-8")
            digest.update(len(encoded).to_bytes(8, "little"))
            digest.update(encoded)
        digest.update(_column_hashes(df[column]).tobytes())
    return digest.hexdigest()


def _column_hashes(series: pd.Series) -> np.ndarray[Any, np.dtype[np.uint64]]:
    if isinstance(series.dtype, np.dtype) and series.dtype.kind == "f":  # one bit pattern for every NaN
        array = series.to_numpy(copy=True)
        array[np.isnan(array)] = np.nan
        series = pd.Series(array, dtype=series.dtype)
    hashed = pd.util.hash_pandas_object(series.reset_index(drop=True), index=False)
    return hashed.to_numpy(dtype=np.uint64).astype("<u8")


def to_parquet_bytes(df: pd.DataFrame) -> bytes:
    """A Parquet snapshot of ``df`` without its index; same frame, same bytes."""
    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowException, ValueError) as exc:
        raise DataError(
            f"The frame cannot be stored as Parquet: {exc}. Give each column a single type.",
        ) from exc
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def from_parquet_bytes(data: bytes) -> pd.DataFrame:
    """The frame stored by :func:`to_parquet_bytes` (dtypes and values preserved)."""
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"The dataset snapshot cannot be read as Parquet: {exc}.") from exc
    frame: pd.DataFrame = table.to_pandas()
    return frame


# --------------------------------------------------------------------------- diff


def diff_frames(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Compare two ``{"schema", "stats", "rows"}`` descriptions of a dataset.

    Returns row counts with their change, added and removed columns, kind changes, and per
    column (present in both) every statistic whose value differs.

    >>> one = {"schema": {"x": "numeric"}, "stats": {"x": {"mean": 1.0}}, "rows": 3}
    >>> two = {"schema": {"x": "numeric", "y": "text"}, "stats": {"x": {"mean": 2.0}}, "rows": 5}
    >>> diff_frames(one, two)["columns"]
    {'x': {'mean': {'a': 1.0, 'b': 2.0}}}
    """
    schema_a: dict[str, str] = dict(a.get("schema") or {})
    schema_b: dict[str, str] = dict(b.get("schema") or {})
    stats_a: dict[str, dict[str, Any]] = dict(a.get("stats") or {})
    stats_b: dict[str, dict[str, Any]] = dict(b.get("stats") or {})
    rows_a, rows_b = int(a["rows"]), int(b["rows"])
    common = [c for c in schema_a if c in schema_b]
    columns: dict[str, dict[str, dict[str, Any]]] = {}
    for column in common:
        sa_, sb_ = stats_a.get(column, {}), stats_b.get(column, {})
        changed = {
            stat: {"a": sa_.get(stat), "b": sb_.get(stat)}
            for stat in _ordered_union(sa_, sb_)
            if not _same(sa_.get(stat), sb_.get(stat))
        }
        if changed:
            columns[column] = changed
    return {
        "rows": {"a": rows_a, "b": rows_b, "change": rows_b - rows_a},
        "added_columns": [c for c in schema_b if c not in schema_a],
        "removed_columns": [c for c in schema_a if c not in schema_b],
        "type_changes": {
            c: {"a": schema_a[c], "b": schema_b[c]} for c in common if schema_a[c] != schema_b[c]
        },
        "columns": columns,
    }


def _ordered_union(first: dict[str, Any], second: dict[str, Any]) -> Iterator[str]:
    yield from first
    yield from (k for k in second if k not in first)


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, list | tuple) and isinstance(y, list | tuple):
        return len(x) == len(y) and all(_same(i, j) for i, j in zip(x, y, strict=True))
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True
    if _is_number(x) and _is_number(y):
        return bool(x == y)
    return type(x) is type(y) and bool(x == y)
