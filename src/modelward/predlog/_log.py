"""PredictionLog: the writer thread that group-commits prediction records, with spool and replay."""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from modelward.errors import DatabaseUnavailableError, DataError, ModelwardError
from modelward.predlog._feedback import OutputSpec, record_feedback
from modelward.predlog._read import read_predictions
from modelward.predlog._records import (
    FeedbackItem,
    FeedbackResult,
    LogUnavailableError,
    PredictionRecord,
    decode_line,
    encode_record,
)
from modelward.predlog._spool import Spool, claim_slot, orphan_slots, read_segment
from modelward.store import Store, is_unavailable
from modelward.store.schema import predictions

__all__ = ["PredictionLog", "is_unavailable"]

log = logging.getLogger(__name__)

_PROBE_MIN_S = 0.1  # first retry of an unreachable database; doubles up to the max
_PROBE_MAX_S = 2.0


# What a database call through the store raises: an outage as DatabaseUnavailableError (see
# is_unavailable), anything else the database refused as the SQLAlchemy error itself.
_DB_ERRORS = (sa.exc.SQLAlchemyError, DatabaseUnavailableError)


@dataclass(slots=True)
class _Entry:
    seq: int
    lines: list[bytes]
    future: Future[None] | None  # None once answered (async mode)


class PredictionLog:
    """Durable, group-committed log of predictions, and the feedback that labels them.

    Request threads call :meth:`submit`; one writer thread takes everything queued (up to
    ``max_batch`` records) and inserts it with one statement in one transaction. While the
    database is unreachable, batches are appended to a spool under ``spool_dir`` (fsynced in
    sync mode) or refused (``on_failure="reject"``); a replayer thread probes the database and
    inserts spooled records once it is back (insert-if-absent, so exactly once), deleting a
    spool segment only after its rows are committed.

    ``max_wait_ms`` is how long a batch waits for company, and only under concurrency (when
    the previous batch merged several submissions): a lone request is written at once, and
    requests arriving during a commit always join the next batch.
    """

    def __init__(
        self,
        store: Store,
        *,
        spool_dir: Path,
        durability: Literal["sync", "async"] = "sync",
        on_failure: Literal["spool", "reject"] = "spool",
        max_batch: int = 2000,
        max_wait_ms: float = 2.0,
        on_commit: Callable[[int, float], None] | None = None,
    ) -> None:
        if durability not in ("sync", "async"):
            raise ValueError(f"durability must be 'sync' or 'async', got {durability!r}")
        if on_failure not in ("spool", "reject"):
            raise ValueError(f"on_failure must be 'spool' or 'reject', got {on_failure!r}")
        if max_batch < 1 or max_wait_ms < 0:
            raise ValueError(f"need max_batch >= 1 and max_wait_ms >= 0, got {max_batch}, {max_wait_ms}")
        self.store = store
        self.spool_dir = Path(spool_dir)
        self.durability = durability
        self.on_failure = on_failure
        self.max_batch = max_batch
        self.max_wait_ms = max_wait_ms
        self.on_commit = on_commit
        self._spool: Spool = claim_slot(self.spool_dir)
        self._insert = _insert_if_absent(store)
        self._cond = threading.Condition()
        self._queue: collections.deque[_Entry] = collections.deque()
        self._pending_records = 0  # submitted, not yet durable (queued or being written)
        self._submitted_seq = 0
        self._done_seq = 0
        self._closing = False
        self._closed = False
        self._db_up = True
        self._down_reason = ""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._replay_lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._replayer: threading.Thread | None = None

    # -- public API -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread and the spool replayer (which first replays any old spool)."""
        if self._writer is not None:
            return
        self._writer = threading.Thread(target=self._write_loop, name="modelward-predlog-writer", daemon=True)
        self._replayer = threading.Thread(
            target=self._replay_loop, name="modelward-predlog-replayer", daemon=True
        )
        self._writer.start()
        self._replayer.start()
        self._wake.set()

    def submit(self, records: Sequence[PredictionRecord]) -> Future[None]:
        """Queue records; the future resolves when they are durable (sync) or at once (async)."""
        future: Future[None] = Future()
        try:
            lines = [encode_record(record) for record in records]
        except DataError as exc:
            future.set_exception(exc)
            return future
        if not lines:
            future.set_result(None)
            return future
        with self._cond:
            if self._closing:
                future.set_exception(LogUnavailableError("The prediction log is closed; records not logged."))
                return future
            if self.on_failure == "reject" and not self._db_up:
                future.set_exception(self._unavailable_error())
                return future
            self._submitted_seq += 1
            sync = self.durability == "sync"
            self._queue.append(_Entry(self._submitted_seq, lines, future if sync else None))
            self._pending_records += len(lines)
            self._cond.notify()
        if not sync:
            future.set_result(None)
        return future

    def add_feedback(
        self,
        items: Sequence[FeedbackItem],
        *,
        outputs: OutputSpec | None = None,
        now: dt.datetime | None = None,
    ) -> list[FeedbackResult]:
        """Record labels, all or nothing; with ``outputs``, each checked against the model that made
        the prediction; stamped ``now`` (default: the current time). See
        :func:`modelward.predlog._feedback.record_feedback`."""
        try:
            return record_feedback(self.store, items, land=self._land, outputs=outputs, now=now)
        except LogUnavailableError:
            raise
        except _DB_ERRORS as exc:
            if is_unavailable(exc):
                raise LogUnavailableError(
                    f"Feedback not recorded: the database is unreachable ({_reason(exc)}). Retry later."
                ) from exc
            raise

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every record submitted before this call is durable (committed or spooled)."""
        with self._cond:
            target = self._submitted_seq
            if not self._cond.wait_for(lambda: self._done_seq >= target, timeout):
                raise TimeoutError(
                    f"Prediction log flush timed out after {timeout} s with {self._pending_records} "
                    "records not yet durable" + ("" if self._writer else " (start() was never called)")
                )

    def close(self, timeout: float = 30.0) -> None:
        """Drain the queue (to the database, or the spool if it is down), then stop the threads."""
        if self._closed:
            return
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        if self._writer is None:
            self._write_loop()  # never started: drain in this thread
        else:
            self._writer.join(timeout)
            if self._writer.is_alive():
                raise TimeoutError(f"Prediction log did not drain within {timeout} s")
        self._stop.set()
        self._wake.set()
        if self._replayer is not None:
            self._replayer.join(max(0.0, deadline - time.monotonic()))
        if self._db_up and self._spool.size_bytes:
            try:
                self.replay()
            except _DB_ERRORS as exc:
                log.warning("spool kept for the next start: %s", _reason(exc))
        self._spool.close()
        self._closed = True

    @staticmethod
    def read(
        store: Store,
        model: str,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Logged predictions of ``model`` joined with their labels: :func:`read_predictions`."""
        return read_predictions(store, model, since=since, until=until, limit=limit)

    @property
    def queue_depth(self) -> int:
        """Records submitted and not yet durable."""
        return self._pending_records

    @property
    def spool_bytes(self) -> int:
        """Bytes waiting in this log's spool for the database to come back."""
        return self._spool.size_bytes

    @property
    def database_reachable(self) -> bool:
        """False from a failed write until the replayer reaches the database again."""
        return self._db_up

    # -- writer -----------------------------------------------------------------------------

    def _write_loop(self) -> None:
        concurrent = False
        while True:
            batch = self._take_batch(wait_for_more=concurrent)
            if not batch:
                return
            concurrent = len(batch) > 1
            try:
                self._write(batch)
            except Exception as exc:  # a bug: fail these futures, never hang them
                log.exception("prediction log writer failed on a batch of %d submissions", len(batch))
                _fail(batch, exc)
            n = sum(len(entry.lines) for entry in batch)
            with self._cond:
                self._done_seq = batch[-1].seq
                self._pending_records -= n
                self._cond.notify_all()

    def _take_batch(self, *, wait_for_more: bool) -> list[_Entry]:
        """Everything queued, up to ``max_batch`` records; empty when closing and drained.

        Under concurrency (the last batch merged several submissions), wait up to
        ``max_wait_ms`` for more company; a lone request is written at once.
        """
        with self._cond:
            while not self._queue:
                if self._closing:
                    return []
                self._cond.wait()
            batch: list[_Entry] = []
            count = 0
            deadline = time.monotonic() + self.max_wait_ms / 1000
            while True:
                while self._queue and (not batch or count + len(self._queue[0].lines) <= self.max_batch):
                    entry = self._queue.popleft()
                    batch.append(entry)
                    count += len(entry.lines)
                remaining = deadline - time.monotonic()
                if (
                    not wait_for_more
                    or self._closing
                    or count >= self.max_batch
                    or self._queue
                    or remaining <= 0
                ):
                    break
                self._cond.wait(remaining)
            return batch

    def _write(self, batch: list[_Entry]) -> None:
        lines = [line for entry in batch for line in entry.lines]
        if self._db_up:
            try:
                started = time.perf_counter()
                self._commit([decode_line(line) for line in lines])
                self._report_commit(len(lines), time.perf_counter() - started)
                _resolve(batch)
                return
            except _DB_ERRORS as exc:
                if not is_unavailable(exc):
                    self._write_each(batch, exc)
                    return
                self._mark_down(exc)
        if self.on_failure == "reject":
            if any(entry.future is None for entry in batch):
                log.error("database unreachable: %d acknowledged (async) records lost", len(lines))
            _fail(batch, self._unavailable_error())
            return
        try:
            self._spool.append(lines, fsync=self.durability == "sync")
        except OSError as exc:
            log.error("cannot write the spool in %s: %s", self._spool.directory, exc)
            _fail(
                batch, LogUnavailableError(f"{self._unavailable_error().message} Spool write failed: {exc}.")
            )
            return
        _resolve(batch)

    def _write_each(self, batch: list[_Entry], first: Exception) -> None:
        """A batch the database refused for its content: write submissions one by one."""
        log.warning(
            "prediction batch refused (%s); retrying its %d submissions one by one", first, len(batch)
        )
        for entry in batch:
            try:
                self._commit([decode_line(line) for line in entry.lines])
                _resolve([entry])
            except _DB_ERRORS as exc:
                error = DataError(f"Prediction records could not be stored: {_reason(exc)}.")
                error.__cause__ = exc
                if entry.future is None:
                    log.error("acknowledged (async) prediction records dropped: %s", error)
                _fail([entry], error)

    def _commit(self, rows: list[dict[str, Any]]) -> None:
        with self.store.write() as conn:
            conn.execute(self._insert, rows)

    def _report_commit(self, size: int, seconds: float) -> None:
        if self.on_commit is not None:
            try:
                self.on_commit(size, seconds)
            except Exception:
                log.exception("on_commit callback failed")

    def _mark_down(self, exc: BaseException) -> None:
        if self._db_up:
            log.warning("database unreachable, prediction log %s: %s", self._failure_verb(), _reason(exc))
        self._down_reason = _reason(exc)
        self._db_up = False
        self._wake.set()

    def _failure_verb(self) -> str:
        return f"spooling to {self._spool.directory}" if self.on_failure == "spool" else "rejecting records"

    def _unavailable_error(self) -> LogUnavailableError:
        return LogUnavailableError(
            f"Prediction not logged: the database is unreachable ({self._down_reason}) and log.on_failure "
            "is 'reject'. Restore the database, or set log.on_failure to 'spool' to keep serving."
        )

    # -- replayer ---------------------------------------------------------------------------

    def _replay_loop(self) -> None:
        backoff = _PROBE_MIN_S
        timeout = 0.0
        while not self._stop.is_set():
            self._wake.wait(timeout)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                if self._db_up and self._spool.size_bytes == 0:
                    # Healthy: only look for slots left behind by stopped processes, now and then.
                    self._replay_orphans()
                    backoff, timeout = _PROBE_MIN_S, _PROBE_MAX_S
                    continue
                with self.store.read() as conn:
                    conn.execute(sa.text("SELECT 1"))
                if not self._db_up:
                    log.info("database reachable again; prediction log resumes writing to it")
                self._db_up = True
                self.replay()
                backoff, timeout = _PROBE_MIN_S, 0.0
            except _DB_ERRORS as exc:
                if not is_unavailable(exc):
                    log.exception("spool replay failed")
                self._mark_down(exc)
                timeout, backoff = backoff, min(backoff * 2, _PROBE_MAX_S)
            except Exception:
                log.exception("spool replay failed")
                timeout = _PROBE_MAX_S

    def replay(self) -> int:
        """Insert this log's spooled records (and orphaned slots') into the database; return the count.

        Raises the database error if it is still unreachable; what was committed stays committed
        and its segments are deleted, the rest is replayed next time.
        """
        with self._replay_lock:
            count = _replay_spool(self._spool, self._commit, self.max_batch)
            if count:
                log.info("replayed %d spooled prediction records into the database", count)
            return count + self._replay_orphans()

    def _replay_orphans(self) -> int:
        count = 0
        for orphan in orphan_slots(self.spool_dir, own=self._spool):
            n = _replay_spool(orphan, self._commit, self.max_batch)
            log.info("replayed %d prediction records left in %s by a stopped process", n, orphan.directory)
            count += n
        return count

    def _land(self) -> None:
        """Make submitted predictions queryable: flush the queue, replay the spool if possible."""
        self.flush()
        if self._spool.size_bytes:
            try:
                self.replay()
                self._db_up = True
            except _DB_ERRORS as exc:
                if not is_unavailable(exc):
                    raise
                self._mark_down(exc)


def _replay_spool(spool: Spool, commit: Callable[[list[dict[str, Any]]], None], chunk: int) -> int:
    count = 0
    for segment in spool.seal():
        for lines in read_segment(segment, chunk):
            commit([decode_line(line) for line in lines])
            count += len(lines)
        spool.remove(segment)
    return count


class _JsonText(sa.types.TypeDecorator[Any]):
    """SQLite's JSON columns are text: bind orjson's encoding (what ``sa.JSON`` stores, minus spaces).

    ``None`` becomes the JSON text ``null``, as ``sa.JSON`` stores it; values read back through
    the table's ``JSON`` type are the same. Several times cheaper than the stdlib encoder.
    """

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str:
        return orjson.dumps(value).decode()


_JSON_COLUMNS = ("features", "prediction", "probabilities", "context")


def _insert_if_absent(store: Store) -> sa.Insert:
    if store.dialect == "postgresql":
        return postgresql.insert(predictions).on_conflict_do_nothing(index_elements=[predictions.c.id])
    if store.dialect == "sqlite":
        text = _JsonText()
        return (
            sqlite.insert(predictions)
            .values({c: sa.bindparam(c, type_=text) for c in _JSON_COLUMNS})
            .on_conflict_do_nothing(index_elements=[predictions.c.id])
        )
    raise ModelwardError(f"The prediction log supports SQLite and PostgreSQL, not {store.dialect!r}.")


def _resolve(batch: list[_Entry]) -> None:
    for entry in batch:
        if entry.future is not None and not entry.future.done():
            entry.future.set_result(None)


def _fail(batch: list[_Entry], exc: BaseException) -> None:
    for entry in batch:
        if entry.future is not None and not entry.future.done():
            entry.future.set_exception(exc)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, DatabaseUnavailableError):
        return exc.reason
    orig = getattr(exc, "orig", None)
    return " ".join(str(orig if orig is not None else exc).split())
