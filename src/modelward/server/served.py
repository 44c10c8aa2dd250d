"""One model version in memory: validator, micro-batcher, prediction and logging of a batch.

A :class:`ServedModel` is built once per loaded version (see :mod:`modelward.server.cache`).
Each request's validated columns become a :class:`Job`; the micro-batcher merges concurrent
jobs into one :meth:`ServedModel.process` call on the prediction thread, which predicts (a
verified fast path when one applies, see :mod:`modelward.server.predictors`), hands the
batch's records to the prediction log, and splits the results back into one
:class:`Answer` per job.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from modelward.config import ServeSettings
from modelward.predlog import PredictionLog, PredictionRecord, hash_routing_key, new_prediction_id
from modelward.registry import ModelVersion
from modelward.server.batching import MicroBatcher
from modelward.server.metrics import Metrics
from modelward.server.predictors import FastProba, compile_fast, float_matrix
from modelward.server.validation import Column, InputError, Validator

__all__ = ["Answer", "Durable", "Job", "ServedModel"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One validated request waiting for its micro-batch."""

    columns: dict[str, list[Any]]
    rows: int
    received: float  # time.perf_counter() at arrival
    arm: str
    routing_key: str | None
    ids: list[str] | None = None  # given for a shadow copy (its champion twins' ids); else made here
    context: list[dict[str, Any]] | None = None  # per row, logged beside the inputs (never predicted on)
    logged: bool = True  # False: predicted in the batch, never logged nor counted (an /explain request)


class Durable:
    """When one micro-batch's records are durable; awaited by every request of the batch.

    One asyncio future wraps the log's future for the whole batch (one wake-up of the event
    loop per batch, not per request), and each request awaits it through ``shield`` so a
    request that goes away cannot cancel it for the others.
    """

    __slots__ = ("_waiter", "future")

    def __init__(self, future: Future[None]) -> None:
        self.future = future
        self._waiter: asyncio.Future[None] | None = None

    async def wait(self) -> None:
        if self._waiter is None:
            self._waiter = asyncio.wrap_future(self.future)
        await asyncio.shield(self._waiter)


@dataclass(frozen=True)
class Answer:
    """One request's share of a micro-batch."""

    predictions: list[Any]
    probabilities: list[list[float]] | None
    prediction_ids: list[str]
    logged: Durable | None


class ServedModel:
    """One model version in memory: estimator, validator, micro-batcher."""

    def __init__(
        self,
        version: ModelVersion,
        estimator: Any,
        settings: ServeSettings,
        *,
        executor: Executor,
        metrics: Metrics,
        predlog: PredictionLog | None,
    ) -> None:
        self.version = version
        self.estimator = estimator
        self.name = version.name
        self.number = version.version
        self.label = str(version.version)
        self.validator = Validator(
            version.signature,
            unexpected_columns=settings.unexpected_columns,
            unknown_categories=settings.unknown_categories,
        )
        self.metrics = metrics
        self.predlog = predlog
        self.classes: np.ndarray | None = None
        self.class_list: list[Any] | None = None
        self._request_metrics: dict[str, tuple[Any, Any]] = {}
        self._batch_metrics: tuple[Any, Any] | None = None
        names = self.validator.names
        # Every input a float column: the batch is one 2-D array (see predictors.float_matrix).
        self._floats = bool(names) and all(
            c.kind == "numeric" and not c.integer for c in self.validator.columns
        )
        self._fast: FastProba | None = None
        proba = getattr(estimator, "predict_proba", None)
        if version.task == "classification" and proba is not None and hasattr(estimator, "classes_"):
            self.classes = np.asarray(estimator.classes_)
            self.class_list = self.classes.tolist()
            self._argmax_is_predict = self._check_argmax()
            if self._floats:
                self._fast = compile_fast(estimator, names, version.input_example)
                if self._fast is not None:
                    log.info("%s: %s fast path (verified bit-identical)", version.ref, self._fast.kind)
        else:
            self._argmax_is_predict = False
        self.batcher: MicroBatcher[Job, Answer] = MicroBatcher(
            self.process,
            executor=executor,
            max_rows=settings.batch_max_rows,
            max_wait_s=settings.batch_max_wait_ms / 1000,
            rows=lambda job: job.rows,
        )

    @property
    def fast_path(self) -> str | None:
        """Which cheaper prediction path this model uses: ``forest``, ``linear``, ``float_matrix`` or None."""
        if self._fast is not None:
            return self._fast.kind
        return "float_matrix" if self._floats else None

    def request_metrics(self, arm: str) -> tuple[Any, Any]:
        """The ``predictions_total`` and ``request_duration_seconds`` children of ``arm`` (made once)."""
        children = self._request_metrics.get(arm)
        if children is None:
            m = self.metrics
            children = (
                m.predictions.labels(self.name, self.label, arm),
                m.request_duration.labels(self.name, self.label, arm),
            )
            self._request_metrics[arm] = children
        return children

    # -- prediction (runs on the prediction executor) --------------------------------------

    def frame(self, columns: dict[str, list[Any]]) -> pd.DataFrame:
        """The model's input frame, dtypes as in training, built once per micro-batch."""
        if self._floats:
            return pd.DataFrame(float_matrix(columns, self.validator.names), columns=self.validator.names)
        data: dict[str, Any] = {}
        for col in self.validator.columns:
            data[col.name] = _array(col, columns[col.name])
        return pd.DataFrame(data, columns=self.validator.names)

    def predict_columns(self, columns: dict[str, list[Any]]) -> tuple[list[Any], list[list[float]] | None]:
        """Predictions (and probabilities) for validated columns: a verified fast path or :meth:`predict`."""
        if self._fast is not None:
            preds, proba = self._fast.predict_columns(columns)
            return preds.tolist(), proba.tolist()
        return self.predict(self.frame(columns))

    def predict(self, x: pd.DataFrame) -> tuple[list[Any], list[list[float]] | None]:
        """Predictions, and class probabilities for classifiers (one model pass when possible)."""
        if self.classes is None:
            return np.asarray(self.estimator.predict(x)).tolist(), None
        proba = np.asarray(self.estimator.predict_proba(x), dtype=float)
        if self._argmax_is_predict:
            preds = self.classes[np.argmax(proba, axis=1)]
        else:
            preds = np.asarray(self.estimator.predict(x))
        return preds.tolist(), proba.tolist()

    def _check_argmax(self) -> bool:
        """Whether ``classes_[argmax(predict_proba)]`` reproduces ``predict`` (checked on the input example)."""
        example = self.version.input_example
        if not example:
            return False
        try:
            columns = {c.name: [row.get(c.name) for row in example] for c in self.validator.columns}
            x = self.frame(columns)
            assert self.classes is not None
            fast = self.classes[np.argmax(self.estimator.predict_proba(x), axis=1)]
            return bool(np.array_equal(fast, np.asarray(self.estimator.predict(x))))
        except Exception:  # an example that does not fit: always call predict too
            log.debug("argmax check failed for %s", self.version.ref, exc_info=True)
            return False

    def process(self, jobs: list[Job]) -> list[Answer]:
        """Predict a whole micro-batch, log its records, split the results per job."""
        if len(jobs) == 1:
            columns = jobs[0].columns
        else:
            columns = {
                name: list(chain.from_iterable(job.columns[name] for job in jobs))
                for name in self.validator.names
            }
        total = sum(job.rows for job in jobs)
        try:
            preds, proba = self.predict_columns(columns)
        except Exception as exc:
            raise self.rejected(exc, total) from exc
        if self._batch_metrics is None:
            m = self.metrics
            self._batch_metrics = (
                m.batch_size.labels(self.name, self.label),
                m.batch_requests.labels(self.name, self.label),
            )
        self._batch_metrics[0].observe(total)
        self._batch_metrics[1].observe(len(jobs))
        if self.classes is not None:
            counted = preds if all(job.logged for job in jobs) else _logged_rows(jobs, preds)
            self.metrics.count_classes(self.name, self.label, counted)
        now = time.perf_counter()
        ts = dt.datetime.now(dt.UTC)
        ids = list(
            chain.from_iterable(
                job.ids
                if job.ids is not None
                else [new_prediction_id() for _ in range(job.rows)]
                if job.logged
                else [""] * job.rows
                for job in jobs
            )
        )
        records: list[PredictionRecord] = []
        names = self.validator.names
        rows = list(zip(*(columns[n] for n in names), strict=True)) if names else [()] * total
        answers: list[Answer] = []
        start = 0
        for job in jobs:
            end = start + job.rows
            latency = (now - job.received) * 1000
            key_hash = hash_routing_key(job.routing_key) if job.routing_key is not None else None
            context = job.context
            for i in range(start, end) if job.logged else ():
                records.append(
                    PredictionRecord(
                        id=ids[i],
                        ts=ts,
                        model=self.name,
                        version=self.number,
                        arm=job.arm,
                        routing_key_hash=key_hash,
                        features=dict(zip(names, rows[i], strict=True)),
                        prediction=preds[i],
                        probabilities=proba[i] if proba is not None else None,
                        latency_ms=latency,
                        context=None if context is None else context[i - start],
                    )
                )
            answers.append(
                Answer(
                    preds[start:end], proba[start:end] if proba is not None else None, ids[start:end], None
                )
            )
            start = end
        if self.predlog is None or not records:
            return answers
        logged = Durable(self.predlog.submit(records))
        return [
            Answer(a.predictions, a.probabilities, a.prediction_ids, logged) if job.logged else a
            for a, job in zip(answers, jobs, strict=True)
        ]

    def rejected(self, exc: Exception, rows: int) -> InputError:
        """A validated input the estimator refused: this request's error (a batch is split first)."""
        text = " ".join(str(exc).split())
        text = text if len(text) <= 300 else text[:297] + "..."
        log.warning("%s refused %d row(s): %s: %s", self.version.ref, rows, type(exc).__name__, text)
        return InputError(
            f"{self.version.ref} could not predict the {rows} row(s) of this request: {type(exc).__name__}: "
            f"{text}. Check the values sent; nothing was logged.",
            reason="model_rejected",
            details={"error": type(exc).__name__},
        )


def _logged_rows(jobs: list[Job], preds: Any) -> Any:
    """The predictions of the logged jobs' rows (an /explain job's are not counted)."""
    keep = np.repeat([job.logged for job in jobs], [job.rows for job in jobs])
    return np.asarray(preds)[keep]


def _array(col: Column, values: list[Any]) -> Any:
    if col.kind == "numeric":
        if col.integer and not col.nullable:
            return np.asarray(values, dtype=col.dtype if col.dtype.islower() else "int64")
        return np.asarray(values, dtype=np.float64)
    if col.kind == "boolean" and not col.nullable:
        return np.asarray(values, dtype=bool)
    if col.kind == "datetime":
        return pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601")
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out
