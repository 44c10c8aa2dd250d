"""Reading a data file into a validated frame: CSV/TSV (optionally gzipped) or Parquet.

Decisions worth knowing:

* **The field separator** is the extension's (``,`` for ``.csv``, tab for ``.tsv``) unless that
  reads the header as a single column while the first rows are consistently separated by
  another of ``,`` ``;`` tab ``|`` (``csv.Sniffer``): a semicolon-separated ``.csv`` is read as
  such. A single-column header that holds one of those characters without such a consistent
  separator is an error, never one silently merged column.
* **CSV parsing is faithful**: pandas' exact float parsing, no thousands separators, dates
  stay strings (the schema still calls ISO-date columns ``datetime``). A column that is
  mostly numbers (at least 90% of its non-missing values) but holds some non-numbers is an
  error rather than silently becoming text; the same goes for mostly-ISO-date columns.
* **Every refusal names the file** (and the column, row or line where relevant) and says how
  to fix it.
"""

from __future__ import annotations

import csv
import gzip
import logging
import os
from pathlib import Path
from typing import IO, Any, NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from modelward.datasets._values import ISO_DATETIME, NUMBER, is_number, matches, plain
from modelward.errors import DataError

__all__ = ["MIXED_THRESHOLD", "read_table"]

log = logging.getLogger(__name__)

_CSV_SUFFIXES = {".csv": ",", ".csv.gz": ",", ".tsv": "\t", ".tsv.gz": "\t"}
_PARQUET_SUFFIXES = (".parquet", ".pq")
_SUPPORTED = ", ".join([*_CSV_SUFFIXES, *_PARQUET_SUFFIXES])
_SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "'|'"}
_SNIFF_CHARS = 64 * 1024  # of text read to detect the separator

MIXED_THRESHOLD = 0.9
"""A CSV column is "mixed" when at least this share of its non-missing values parse as
numbers (or ISO dates) but not all of them do."""


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
        log.info(
            "%s is %s-separated, not %s-separated", file.name, _SEPARATORS[sniffed], _SEPARATORS[default]
        )
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
        numbers = values.map(is_number).to_numpy(dtype=bool)
        strings = values.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
        if not (numbers.any() and strings.any()):
            continue
        if numbers.sum() >= strings.sum():
            expected, offending = "numbers", strings
        else:
            expected, offending = "text", numbers
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
        numeric = matches(values, NUMBER)
        if numeric.mean() >= MIXED_THRESHOLD and not numeric.all():
            _raise_mixed(frame, name, str(column), "numbers", values, ~numeric)
        dates = matches(values, ISO_DATETIME)
        if dates.mean() >= MIXED_THRESHOLD and not dates.all():
            _raise_mixed(frame, name, str(column), "ISO dates (YYYY-MM-DD[THH:MM:SS])", values, ~dates)


def _raise_mixed(
    frame: pd.DataFrame, name: str, column: str, expected: str, values: pd.Series, offending: Any
) -> NoReturn:
    bad = values[offending]
    position = frame.index.get_loc(bad.index[0])
    row = int(position) + 1 if isinstance(position, int | np.integer) else 0
    value = plain(bad.iloc[0])
    more = f" ({len(bad) - 1} more row{'s' if len(bad) > 2 else ''} like it)" if len(bad) > 1 else ""
    raise DataError(
        f"Column '{column}' expected {expected}, got {value!r} in row {row} of {len(frame)}{more} "
        f"in file '{name}'. Correct the value, or leave the cell empty to mark it missing.",
        details={"file": name, "column": column, "row": row, "value": str(value), "expected": expected},
    )


def _is_string_dtype(series: pd.Series) -> bool:
    if isinstance(series.dtype, pd.StringDtype):
        return True
    if not pd.api.types.is_object_dtype(series.dtype):
        return False
    values = series.dropna()
    return bool(len(values)) and bool(values.map(lambda v: isinstance(v, str)).all())
