"""The maintenance loop: jobs that read the store and act on it (monitoring over the prediction log).

>>> from modelward.maintenance import parse_window
>>> parse_window("1h").describe()
'tumbling 1h windows'
"""

from __future__ import annotations

from modelward.maintenance._exporter import MonitorGauges, WindowGauges
from modelward.maintenance._reference import Reference, get_reference
from modelward.maintenance._results import history, list_runs
from modelward.maintenance._windows import Window, WindowSpec, parse_window
from modelward.maintenance.monitor import Monitor, MonitorPass, RelabelResult, WindowResult

__all__ = [
    "Monitor",
    "MonitorGauges",
    "MonitorPass",
    "Reference",
    "RelabelResult",
    "Window",
    "WindowGauges",
    "WindowResult",
    "WindowSpec",
    "get_reference",
    "history",
    "list_runs",
    "parse_window",
]
