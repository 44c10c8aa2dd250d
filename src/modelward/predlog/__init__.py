"""The durable prediction log, the ground-truth feedback that labels it, and windows over both.

The model server hands every prediction to a :class:`PredictionLog`; one writer thread
group-commits records from many requests in one transaction, so no request waits on its own
database round trip. In ``sync`` durability a request is answered once its record is committed
(or fsynced to the local spool while the database is unreachable); spooled records are replayed
exactly once when the database returns.

>>> import datetime as dt, tempfile
>>> from pathlib import Path
>>> from modelward.store import Store
>>> tmp = Path(tempfile.mkdtemp())
>>> store = Store.open(f"sqlite:///{tmp / 'mw.db'}")
>>> plog = PredictionLog(store, spool_dir=tmp / "spool")
>>> plog.start()
>>> pid = new_prediction_id()
>>> record = PredictionRecord(pid, dt.datetime.now(dt.UTC), "iris", 1, None, None,
...                           {"petal_length": 1.4}, "setosa", [0.9, 0.05, 0.05], 0.4)
>>> plog.submit([record]).result(timeout=10)
>>> plog.add_feedback([FeedbackItem(pid, "setosa")])  # doctest: +ELLIPSIS
[FeedbackResult(prediction_id='...', status='recorded')]
>>> PredictionLog.read(store, "iris")[["prediction", "label"]].values.tolist()
[['setosa', 'setosa']]
>>> plog.close(); store.close()

Monitoring reads the log in windows: :func:`parse_window` describes the windowing,
:func:`next_window` plans the next complete window of a model version and :func:`read_window`
reads it in bulk as a :class:`PredictionWindow` (features as a frame, outputs and labels as arrays).
"""

from __future__ import annotations

from modelward.predlog._explanations import ExplanationRecord, read_explanations, record_explanations
from modelward.predlog._ids import hash_routing_key, new_prediction_id
from modelward.predlog._log import PredictionLog
from modelward.predlog._read import (
    Cursor,
    LabelArrival,
    PredictionWindow,
    count_labeled,
    count_predictions,
    labels_arrived,
    latency_samples,
    read_predictions,
    read_window,
)
from modelward.predlog._records import (
    FeedbackItem,
    FeedbackResult,
    LogUnavailableError,
    PredictionRecord,
)
from modelward.predlog._windows import Window, WindowSpec, next_window, parse_window

__all__ = [
    "Cursor",
    "ExplanationRecord",
    "FeedbackItem",
    "FeedbackResult",
    "LabelArrival",
    "LogUnavailableError",
    "PredictionLog",
    "PredictionRecord",
    "PredictionWindow",
    "Window",
    "WindowSpec",
    "count_labeled",
    "count_predictions",
    "hash_routing_key",
    "labels_arrived",
    "latency_samples",
    "new_prediction_id",
    "next_window",
    "parse_window",
    "read_explanations",
    "read_predictions",
    "read_window",
    "record_explanations",
]
