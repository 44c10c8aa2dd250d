"""The maintenance loop: jobs that read the core owners and act on them. :class:`Monitor` checks windows of
the prediction log against each model version's reference (:mod:`modelward.maintenance.monitor`);
:class:`Loop` runs the monitor, the triggers (:mod:`~modelward.maintenance.policies`), retraining
(:mod:`~modelward.maintenance.retrain`, :mod:`~modelward.maintenance.trainer`) and the gate
(:mod:`~modelward.maintenance.gate`) as one loop (:mod:`~modelward.maintenance.loop`)."""

from __future__ import annotations

from modelward.maintenance._exporter import MonitorGauges, WindowGauges
from modelward.maintenance._reference import TrainingData, build_reference, get_reference, training_data
from modelward.maintenance.gate import GateReport, run_gate
from modelward.maintenance.loop import BackgroundLoop, Loop, PassResult, Requested, request_retrain
from modelward.maintenance.monitor import Monitor, MonitorPass, RelabelResult, WindowResult
from modelward.maintenance.trainer import InProcessTrainer, SubprocessTrainer

__all__ = [
    "BackgroundLoop",
    "GateReport",
    "InProcessTrainer",
    "Loop",
    "Monitor",
    "MonitorGauges",
    "MonitorPass",
    "PassResult",
    "RelabelResult",
    "Requested",
    "SubprocessTrainer",
    "TrainingData",
    "WindowGauges",
    "WindowResult",
    "build_reference",
    "get_reference",
    "request_retrain",
    "run_gate",
    "training_data",
]
