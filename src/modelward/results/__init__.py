"""Stored monitoring results: monitored windows, their time series, and each model version's reference.

:class:`MonitoringResults` (``ws.monitoring_results``) is the one place that reads and writes the
``monitoring_runs``, ``monitoring_metrics`` and ``monitoring_references`` tables; it takes and returns
typed objects (:class:`MonitoringRun`, :class:`~modelward.monitoring.WindowReport`,
:class:`StoredReference`).

>>> import tempfile
>>> from modelward import Workspace
>>> with tempfile.TemporaryDirectory() as tmp:
...     ws = Workspace.init(tmp)
...     print(ws.monitoring_results.runs("credit"), len(ws.monitoring_results.history("credit")))
...     ws.close()
[] 0
"""

from __future__ import annotations

from modelward.results._references import ReferenceSource, StoredReference
from modelward.results._results import HISTORY_COLUMNS, MonitoringResults, MonitoringRun

__all__ = ["HISTORY_COLUMNS", "MonitoringResults", "MonitoringRun", "ReferenceSource", "StoredReference"]
