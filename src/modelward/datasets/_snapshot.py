"""Content hashes and Parquet snapshots of frames.

Identical content hashes identically in every process and whether it was read from CSV or
Parquet; a snapshot round-trips dtypes and values.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from modelward.errors import DataError

__all__ = ["content_hash", "from_parquet_bytes", "to_parquet_bytes"]

_HASH_VERSION = b"modelward-frame-hash-v1"


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
