"""Micro-batching: concurrent requests for one model version become one ``predict`` call.

Requests are validated before they get here, so a batch only ever holds good rows. The
batcher collects items from its queue: everything that arrived while the previous batch was
being predicted, plus (when idle) whatever arrives within ``max_wait_s``, up to ``max_rows``
rows. One ``process`` call handles the whole batch on the prediction executor (a single
thread: concurrent scikit-learn predictions on threads only slow each other down) and
returns one result per item, in order; each caller's future gets its own.

If ``process`` raises for a batch of several items, each item is processed alone, so an item
that poisons the batch (a value the model cannot take) fails only its own caller.

The worker task starts on the first submit and ends when the queue is empty, so a batcher
that is no longer referenced (after a hot reload) finishes what it holds and disappears.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Generic, TypeVar

from modelward.errors import ModelwardError

__all__ = ["MicroBatcher"]

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Pending(Generic[T, R]):
    item: T
    rows: int
    future: asyncio.Future[R]


class MicroBatcher(Generic[T, R]):
    """Merge items submitted concurrently into calls of ``process(items) -> results``.

    >>> import asyncio
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> calls = []
    >>> def double(items):
    ...     calls.append(len(items))
    ...     return [2 * x for x in items]
    >>> async def main():
    ...     batcher = MicroBatcher(double, executor=ThreadPoolExecutor(1), max_rows=64, max_wait_s=0.01)
    ...     return await asyncio.gather(*(batcher.submit(x) for x in range(5)))
    >>> asyncio.run(main()), calls
    ([0, 2, 4, 6, 8], [5])
    """

    def __init__(
        self,
        process: Callable[[list[T]], list[R]],
        *,
        executor: Executor,
        max_rows: int,
        max_wait_s: float,
        rows: Callable[[T], int] = lambda _item: 1,
    ) -> None:
        self.process = process
        self.executor = executor
        self.max_rows = max_rows
        self.max_wait_s = max_wait_s
        self.rows = rows
        self._queue: asyncio.Queue[_Pending[T, R]] = asyncio.Queue()
        self._carry: _Pending[T, R] | None = None
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Queue ``item``; its result once the batch holding it has been processed."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(item, self.rows(item), future))
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        return await future

    @property
    def idle(self) -> bool:
        return self._task is None

    async def _run(self) -> None:
        try:
            while True:
                batch = await self._collect()
                if not batch:
                    return
                await self._execute(batch)
        finally:
            self._task = None

    def _take(self) -> _Pending[T, R] | None:
        if self._carry is not None:
            pending, self._carry = self._carry, None
            return pending
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    async def _collect(self) -> list[_Pending[T, R]]:
        first = self._take()
        if first is None:
            return []
        batch, total = [first], first.rows
        waited = self.max_wait_s <= 0
        while total < self.max_rows:
            nxt = self._take()
            if nxt is None:
                if waited:
                    break
                waited = True
                await asyncio.sleep(self.max_wait_s)
                continue
            if total + nxt.rows > self.max_rows:
                self._carry = nxt  # starts the next batch
                break
            batch.append(nxt)
            total += nxt.rows
        return batch

    async def _execute(self, batch: list[_Pending[T, R]]) -> None:
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self.executor, self.process, [p.item for p in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"process returned {len(results)} results for {len(batch)} items")
        except Exception as exc:
            if len(batch) > 1:
                # One item may have poisoned the batch: every item gets its own answer.
                log.warning(
                    "micro-batch of %d items failed (%s); processing them one by one", len(batch), exc
                )
                for p in batch:
                    await self._execute([p])
                return
            _settle(batch[0], exc)
            return
        for p, result in zip(batch, results, strict=True):
            if not p.future.done():  # the caller may have gone away
                p.future.set_result(result)


def _settle(pending: _Pending[T, R], exc: Exception) -> None:
    if not isinstance(exc, ModelwardError):
        log.error("processing one item failed", exc_info=exc)
    if not pending.future.done():
        pending.future.set_exception(exc)
