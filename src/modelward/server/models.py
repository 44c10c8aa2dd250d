"""Loaded models, the in-memory alias table, and hot reload.

The request path never touches the database: ``(name, ref) → ServedModel`` is a dict
lookup. A miss (a version or alias not asked for before) is resolved once, off the event
loop, and remembered, including "no such model" answers. A background task polls one cheap
change counter (the highest event id: every registry change appends an event) every
``serve.reload_poll_seconds``; when it moves, every served reference is resolved again, new
versions are loaded *before* the swap, and the table is replaced in one assignment. Requests
already holding the old :class:`ServedModel` finish on it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from modelward._refs import parse_ref
from modelward.config import ServeSettings
from modelward.errors import DatabaseUnavailableError, ModelwardError, NotFoundError
from modelward.predlog import PredictionLog, PredictionRecord, hash_routing_key, new_prediction_id
from modelward.registry import ModelVersion
from modelward.server.batching import MicroBatcher
from modelward.server.metrics import Metrics
from modelward.server.predictors import FastProba, compile_fast, float_matrix
from modelward.server.validation import Column, InputError, Validator
from modelward.store.schema import events
from modelward.workspace import Workspace

__all__ = ["Answer", "Job", "ModelCache", "ModelUnavailableError", "ServedModel"]

log = logging.getLogger(__name__)

DEFAULT_ALIAS = "champion"
Ref = int | str


@dataclass(frozen=True)
class Job:
    """One validated request waiting for its micro-batch."""

    columns: dict[str, list[Any]]
    rows: int
    received: float  # time.perf_counter() at arrival
    arm: str
    routing_key: str | None


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


class ModelUnavailableError(ModelwardError):
    """A model the server should serve could not be loaded (tampered artifact, missing type, …)."""

    code = "model_unavailable"
    status_code = 503


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
        self._floats = bool(names) and all(c.kind == "numeric" and not c.integer for c in self.validator.columns)
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
            columns = {name: list(chain.from_iterable(job.columns[name] for job in jobs)) for name in self.validator.names}
        total = sum(job.rows for job in jobs)
        try:
            preds, proba = self.predict_columns(columns)
        except Exception as exc:
            raise self._rejected(exc, total) from exc
        if self._batch_metrics is None:
            m = self.metrics
            self._batch_metrics = (m.batch_size.labels(self.name, self.label), m.batch_requests.labels(self.name, self.label))
        self._batch_metrics[0].observe(total)
        self._batch_metrics[1].observe(len(jobs))
        if self.classes is not None:
            self.metrics.count_classes(self.name, self.label, preds)
        now = time.perf_counter()
        ts = dt.datetime.now(dt.UTC)
        ids = [new_prediction_id() for _ in range(total)]
        records: list[PredictionRecord] = []
        names = self.validator.names
        rows = list(zip(*(columns[n] for n in names), strict=True)) if names else [()] * total
        answers: list[Answer] = []
        start = 0
        for job in jobs:
            end = start + job.rows
            latency = (now - job.received) * 1000
            key_hash = hash_routing_key(job.routing_key) if job.routing_key is not None else None
            for i in range(start, end):
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
                    )
                )
            answers.append(
                Answer(
                    preds[start:end], proba[start:end] if proba is not None else None, ids[start:end], None
                )
            )
            start = end
        if self.predlog is None:
            return answers
        logged = Durable(self.predlog.submit(records))
        return [Answer(a.predictions, a.probabilities, a.prediction_ids, logged) for a in answers]


    def _rejected(self, exc: Exception, rows: int) -> InputError:
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


# -- the table of served models ----------------------------------------------------------------


class ModelCache:
    """``(name, ref) → ServedModel``, kept current by :meth:`poll`."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        executor: Executor,
        metrics: Metrics,
        predlog: PredictionLog | None,
        loader: Callable[[ModelVersion], Any] | None = None,
    ) -> None:
        self.ws = workspace
        self.settings = workspace.settings.serve
        self.executor = executor
        self.metrics = metrics
        self.predlog = predlog
        self.loader = loader or workspace.load_model
        self.table: dict[tuple[str, Ref], ServedModel] = {}
        self.misses: dict[tuple[str, Ref], ModelwardError] = {}
        self.mark: int | None = None
        self.ready = False
        # References that should be served but whose version failed to load: why, by key.
        self.failed: dict[tuple[str, Ref], ModelUnavailableError] = {}
        self._lock = asyncio.Lock()

    # -- lookups --------------------------------------------------------------------------

    async def get(self, model: str) -> ServedModel:
        """The model answering ``NAME``, ``NAME@ALIAS`` or ``NAME@VERSION`` (default alias: champion)."""
        name, ref = parse_ref(model, "model name")
        key = (name, DEFAULT_ALIAS if ref is None else ref)
        served = self.table.get(key)
        if served is not None:
            return served
        miss = self.misses.get(key)
        if miss is not None:
            raise miss
        async with self._lock:
            if key not in self.table and key not in self.misses:
                await self._resolve_into(key)
        if key in self.misses:
            raise self.misses[key]
        return self.table[key]

    def served(self) -> list[tuple[str, Ref, ServedModel]]:
        return [(name, ref, s) for (name, ref), s in sorted(self.table.items(), key=lambda kv: str(kv[0]))]

    # -- loading ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the champion of every model (the initial table)."""
        async with self._lock:
            self.mark = await asyncio.to_thread(self.change_mark)
            await self._rebuild()
        self.ready = True

    async def _resolve_into(self, key: tuple[str, Ref]) -> None:
        try:
            version = await asyncio.to_thread(self.ws.registry.get, *key)
            served = await self._load(key, version, {})
        except DatabaseUnavailableError:
            raise  # an outage is not remembered: the next request tries again
        except ModelwardError as exc:
            self.misses[key] = exc  # remembered until the next reload: never a load per request
            return
        self.table = {**self.table, key: served}
        self._announce(key, None, served)

    def unavailable(self) -> dict[str, ModelUnavailableError]:
        """References that should be served and have no loaded version (load failed), by ``NAME@REF``."""
        return {f"{name}@{ref}": exc for (name, ref), exc in self.failed.items() if (name, ref) not in self.table}

    def degraded(self) -> dict[str, ModelUnavailableError]:
        """References whose new version failed to load while an older one keeps serving."""
        return {f"{name}@{ref}": exc for (name, ref), exc in self.failed.items() if (name, ref) in self.table}

    async def _load(
        self, key: tuple[str, Ref], version: ModelVersion, pool: dict[tuple[str, int], ServedModel]
    ) -> ServedModel:
        """:meth:`_served`, with a failure to load turned into a :class:`ModelUnavailableError`."""
        try:
            return await self._served(version, pool)
        except Exception as exc:  # a model that fails to load must not take the others down
            reason = exc.message if isinstance(exc, ModelwardError) else f"{type(exc).__name__}: {exc}"
            log.error("could not load %s (for %s@%s): %s", version.ref, key[0], key[1], reason, exc_info=exc)
            raise ModelUnavailableError(
                f"{key[0]}@{key[1]} is {version.ref}, which could not be loaded: {reason} Fix the artifact, "
                f"or point the alias elsewhere (modelward models rollback {key[0]}).",
                details={"model": key[0], "ref": str(key[1]), "version": version.version, "reason": reason},
            ) from exc

    async def _served(self, version: ModelVersion, pool: dict[tuple[str, int], ServedModel]) -> ServedModel:
        existing = pool.get((version.name, version.version))
        if existing is None:
            existing = next(
                (s for s in self.table.values() if (s.name, s.number) == (version.name, version.version)),
                None,
            )
        if existing is not None:
            return existing
        estimator = await asyncio.to_thread(self.loader, version)
        served = await asyncio.to_thread(
            ServedModel,
            version,
            estimator,
            self.settings,
            executor=self.executor,
            metrics=self.metrics,
            predlog=self.predlog,
        )
        log.info("loaded %s", version.ref)
        return served

    async def _rebuild(self) -> None:
        """Resolve every served reference plus every model's champion again; swap in one step."""
        infos = await asyncio.to_thread(self.ws.registry.list_models)
        keys: set[tuple[str, Ref]] = set(self.table)
        keys |= {(info.name, DEFAULT_ALIAS) for info in infos if DEFAULT_ALIAS in info.aliases}
        new: dict[tuple[str, Ref], ServedModel] = {}
        pool: dict[tuple[str, int], ServedModel] = {}
        failed: dict[tuple[str, Ref], ModelUnavailableError] = {}
        for key in sorted(keys, key=str):
            try:
                version = await asyncio.to_thread(self.ws.registry.get, *key)
            except NotFoundError:
                continue  # alias removed: no longer served
            except DatabaseUnavailableError:
                raise  # abandon this reload (the poll retries it), never half-apply it
            except ModelwardError:
                log.exception("could not resolve %s@%s; keeping the current version", *key)
                if key in self.table:
                    new[key] = self.table[key]
                continue
            try:
                served = await self._load(key, version, pool)
            except ModelUnavailableError as exc:
                failed[key] = exc
                if key in self.table:
                    log.warning("%s@%s keeps serving %s", key[0], key[1], self.table[key].version.ref)
                    new[key] = self.table[key]
                continue
            pool[(served.name, served.number)] = served
            new[key] = served
        old, self.table = self.table, new
        self.failed = failed
        self.misses = {key: exc for key, exc in failed.items() if key not in new}
        for key in set(old) | set(new):
            if old.get(key) is not new.get(key):
                self._announce(key, old.get(key), new.get(key))

    def _announce(self, key: tuple[str, Ref], old: ServedModel | None, new: ServedModel | None) -> None:
        alias = str(key[1]) if isinstance(key[1], str) else f"v{key[1]}"
        if old is not None:
            self.metrics.served(old.name, old.number, alias, False)
        if new is not None:
            self.metrics.served(new.name, new.number, alias, True)
            if old is not None:
                log.info("%s@%s: now version %d (was %d)", key[0], alias, new.number, old.number)

    # -- hot reload -------------------------------------------------------------------------

    def change_mark(self) -> int:
        """The registry's change counter: the id of the newest event (every change appends one)."""
        with self.ws.store.read() as conn:
            return int(conn.execute(sa.select(sa.func.max(events.c.id))).scalar() or 0)

    async def refresh(self, *, force: bool = False) -> bool:
        """Reload if the registry changed since the last look; whether it did."""
        mark = await asyncio.to_thread(self.change_mark)
        if mark == self.mark and not force:
            return False
        async with self._lock:
            await self._rebuild()
            self.mark = mark
        self.metrics.reloads.inc()
        return True

    async def poll(self) -> None:
        """Run :meth:`refresh` every ``reload_poll_seconds`` until cancelled."""
        failing = False
        while True:
            await asyncio.sleep(self.settings.reload_poll_seconds)
            try:
                await self.refresh()
            except Exception as exc:  # the database may be down; keep serving what is loaded
                if not failing:  # once per outage, not every poll: an outage must not flood the log
                    log.warning("registry poll failed (%s); serving the loaded models until it is back", exc)
                failing = True
            else:
                if failing:
                    log.info("registry reachable again; hot reload resumes")
                failing = False
            if self.predlog is not None:
                self.metrics.log_queue_depth.set(self.predlog.queue_depth)
                self.metrics.log_spool_bytes.set(self.predlog.spool_bytes)
