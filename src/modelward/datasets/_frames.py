"""Pure functions over tabular data: read and validate a file, infer a schema, summarise,
hash, snapshot and diff.

Nothing here touches the database or the artifact store; :mod:`modelward.datasets` wires
these functions into versioned datasets. Each job lives in a module of its own:

* :mod:`~modelward.datasets._read`: reading CSV/TSV/Parquet files (separator detection,
  faithful parsing, mixed-type columns refused);
* :mod:`~modelward.datasets._schema`: column kinds (``numeric``, ``categorical``,
  ``boolean``, ``datetime``, ``text``);
* :mod:`~modelward.datasets._stats`: per-column statistics;
* :mod:`~modelward.datasets._snapshot`: content hashes and Parquet snapshots;
* :mod:`~modelward.datasets._diff`: what changed between two versions;
* :mod:`~modelward.datasets._values`: what counts as a number, an ISO date or a plain scalar.

This module gathers them under one name.

>>> frame = pd.DataFrame({"age": [31, 45, 27], "plan": ["basic", "pro", "basic"]})
>>> infer_schema(frame)
{'age': 'numeric', 'plan': 'categorical'}
>>> summarize(frame, infer_schema(frame))["plan"]["top"]
[['basic', 2], ['pro', 1]]
>>> content_hash(frame) == content_hash(from_parquet_bytes(to_parquet_bytes(frame)))
True
"""

from __future__ import annotations

import pandas as pd  # noqa: F401  (the examples above use it)

from modelward.datasets._diff import diff_frames
from modelward.datasets._read import _check_object_columns as _check_object_columns
from modelward.datasets._read import read_table
from modelward.datasets._schema import infer_schema
from modelward.datasets._snapshot import content_hash, from_parquet_bytes, to_parquet_bytes
from modelward.datasets._stats import summarize

__all__ = [
    "content_hash",
    "diff_frames",
    "from_parquet_bytes",
    "infer_schema",
    "read_table",
    "summarize",
    "to_parquet_bytes",
]
