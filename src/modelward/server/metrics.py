"""Prometheus metrics of the server: base units, ``_seconds``/``_total``, bounded labels.

Label values are only ever names the server itself resolved (served model names, their
versions and aliases, the classes in a signature, a fixed list of error reasons), never
raw request input, so cardinality stays bounded.

With ``--workers N``, ``modelward serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` to a directory it
owns before any worker starts; every worker then writes its values there and ``/metrics``
(whichever worker answers) aggregates all of them. The maintenance loop runs in one thread of
the server, not in a worker: it writes its metrics to a file (:mod:`modelward.maintenance.loop_metrics`)
that ``/metrics`` appends.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from modelward.config import environment

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "multiprocess_dir"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)


def multiprocess_dir() -> str | None:
    """The directory of prometheus-client's multiprocess mode, when it is on."""
    return environment(MULTIPROC_ENV) or None


class Metrics:
    """Every metric the server exports, registered in a registry of their own."""

    def __init__(self, loop_metrics: Path | None = None) -> None:
        self.loop_metrics = loop_metrics
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = multiprocess_dir() is not None
        self.request_duration = Histogram(
            "modelward_request_duration_seconds",
            "Time from receiving a predict request to sending its answer.",
            ["model", "version", "arm"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.predictions = Counter(
            "modelward_predictions",
            "Rows predicted.",
            ["model", "version", "arm"],
            registry=registry,
        )
        self.server_errors = Counter(
            "modelward_server_errors",
            "Predict requests that failed on the server's side (the model or the log failed: a 5xx).",
            ["model"],
            registry=registry,
        )
        self.predicted_class = Counter(
            "modelward_predicted_class",
            "Rows predicted per class (classifiers only).",
            ["model", "version", "class"],
            registry=registry,
        )
        self.input_errors = Counter(
            "modelward_input_errors",
            "Requests refused because their input did not fit the model's signature, by reason.",
            ["model", "reason"],
            registry=registry,
        )
        self.feedback = Counter(
            "modelward_feedback",
            "Feedback items received, by outcome.",
            ["status"],
            registry=registry,
        )
        self.batch_size = Histogram(
            "modelward_batch_size_rows",
            "Rows per micro-batch (one predict call).",
            ["model", "version"],
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        self.batch_requests = Histogram(
            "modelward_batch_requests",
            "Requests merged into one micro-batch.",
            ["model", "version"],
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        self.log_queue_depth = Gauge(
            "modelward_log_queue_depth",
            "Prediction records waiting for the log writer.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.log_commit_duration = Histogram(
            "modelward_log_commit_duration_seconds",
            "Duration of one group commit of the prediction log.",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.log_spool_bytes = Gauge(
            "modelward_log_spool_bytes",
            "Bytes of prediction records spooled locally while the database is unreachable.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.model_info = Gauge(
            "modelward_model_info",
            "1 for each model version being served, with the alias it is served under.",
            ["model", "version", "alias"],
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.reloads = Counter(
            "modelward_reloads",
            "Registry changes picked up without a restart.",
            registry=registry,
        )

    def served(self, model: str, version: int, alias: str, on: bool) -> None:
        self.model_info.labels(model, str(version), alias).set(1 if on else 0)
        if on:  # from zero, so an error rate is 0 (not missing) until the first error
            self.server_errors.labels(model)

    def count_classes(self, model: str, version: str, predictions: Iterable[object]) -> None:
        counts: dict[str, int] = {}
        for p in predictions:
            key = str(p)
            counts[key] = counts.get(key, 0) + 1
        for key, n in counts.items():
            self.predicted_class.labels(model, version, key).inc(n)

    def exposition(self) -> bytes:
        """The text format of every metric (of every worker in multiprocess mode)."""
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            text = bytes(generate_latest(registry))
        else:
            text = bytes(generate_latest(self.registry))
        return text + self._loop_text()

    def _loop_text(self) -> bytes:
        """The loop's metrics file, when the loop runs in this server and wrote it."""
        if self.loop_metrics is None:
            return b""
        try:
            return self.loop_metrics.read_bytes()
        except FileNotFoundError:
            return b""

    def process_exited(self) -> None:
        """Drop this process's live gauges (multiprocess mode) when it shuts down."""
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
