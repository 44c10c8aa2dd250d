"""The maintenance loop: jobs that read the core owners and act on them. Today: :class:`Monitor`, which
checks windows of the prediction log against each model version's reference (see
:mod:`modelward.maintenance.monitor`)."""

from __future__ import annotations

from modelward.maintenance._exporter import MonitorGauges, WindowGauges
from modelward.maintenance._reference import TrainingData, build_reference, get_reference, training_data
from modelward.maintenance.monitor import Monitor, MonitorPass, RelabelResult, WindowResult

__all__ = [
    "Monitor",
    "MonitorGauges",
    "MonitorPass",
    "RelabelResult",
    "TrainingData",
    "WindowGauges",
    "WindowResult",
    "build_reference",
    "get_reference",
    "training_data",
]
