"""The demo's traffic: a labeled stream replayed against a running server, with the labels arriving late.

:class:`Replay` runs in a thread until it is stopped. It sends the stream's small batches at a steady pace
(``rate`` rows a second, like a live service), each batch a ``POST /v1/models/{model}/predict``, and sends every row's
true label as ``POST /v1/feedback`` only once ``delay`` more rows have been predicted: the ground truth of a
loan decision is known later, never at once. It records what the server answered (the version that served
each batch and how many answers were right), which is what the demo's chart draws.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pandas as pd

from modelward.errors import ModelwardError

__all__ = ["Batch", "Replay"]


@dataclass(frozen=True)
class Batch:
    """One predict request: when it was sent (seconds since the replay began), its rows, who answered."""

    t: float
    first_row: int
    rows: int
    version: int
    correct: int


class Replay:
    """Replays ``stream`` (frames of features and ``target``; it may be endless) against the server at
    ``base_url`` (see the module docstring). ``start()`` begins; ``stop()`` ends it; :attr:`error` holds what
    stopped it early."""

    def __init__(
        self,
        base_url: str,
        model: str,
        stream: Iterator[pd.DataFrame],
        *,
        target: str,
        rate: float,
        delay: int,
    ) -> None:
        self.model, self.target = model, target
        self.stream = stream
        self.rate, self.delay = rate, delay
        self.batches: list[Batch] = []
        self.labeled = 0
        self.made = 0  # rows taken from the stream (sent, or about to be)
        self.error: BaseException | None = None
        self.started = 0.0
        self.began: dt.datetime | None = None  # wall clock of the start
        self._pending: deque[tuple[int, str, Any]] = deque()  # (row, prediction id, label)
        self._stop = threading.Event()
        self._http = httpx.Client(base_url=base_url, timeout=60)
        self._thread = threading.Thread(target=self._run, name="modelward-demo-replay", daemon=True)

    @property
    def sent(self) -> int:
        """Rows predicted so far."""
        last = self.batches[-1] if self.batches else None
        return 0 if last is None else last.first_row + last.rows

    @property
    def finished(self) -> bool:
        return not self._thread.is_alive() and self.started > 0

    def sent_at(self, batch: Batch) -> dt.datetime:
        """The wall-clock time ``batch`` was sent."""
        assert self.began is not None
        return self.began + dt.timedelta(seconds=batch.t)

    def batch_of(self, row: int) -> Batch | None:
        """The batch that carried ``row`` (None if not sent yet)."""
        return next((b for b in self.batches if b.first_row <= row < b.first_row + b.rows), None)

    def start(self) -> Replay:
        self.started = time.monotonic()
        self.began = dt.datetime.now(dt.UTC)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(60)
        self._http.close()

    def _run(self) -> None:
        try:
            for part in self.stream:
                self.made += len(part)
                first = self.sent
                due = self.started + first / self.rate
                if self._stop.wait(max(0.0, due - time.monotonic())):
                    return
                self._predict(first, part)
                self._feedback(upto=first + len(part) - self.delay)
        except BaseException as exc:  # handed to the demo, which reports it
            self.error = exc

    def _predict(self, first: int, part: pd.DataFrame) -> None:
        rows = part.drop(columns=[self.target]).to_dict(orient="records")
        answer = self._http.post(f"/v1/models/{self.model}/predict", json={"instances": rows})
        if answer.status_code != 200:
            raise ModelwardError(
                f"The server answered {answer.status_code} to a predict request: {answer.text}"
            )
        body = answer.json()
        labels = part[self.target].tolist()
        correct = sum(int(p == y) for p, y in zip(body["predictions"], labels, strict=True))
        for offset, (pid, label) in enumerate(zip(body["prediction_ids"], labels, strict=True)):
            self._pending.append((first + offset, pid, label))
        self.batches.append(
            Batch(time.monotonic() - self.started, first, len(rows), int(body["version"]), correct)
        )

    def _feedback(self, *, upto: int) -> None:
        """Send the labels of the rows before ``upto`` (the rows ``delay`` rows old)."""
        ready = []
        while self._pending and self._pending[0][0] < upto:
            _row, pid, label = self._pending.popleft()
            ready.append({"prediction_id": pid, "label": label})
        if not ready:
            return
        answer = self._http.post("/v1/feedback", json=ready)
        if answer.status_code != 200:
            raise ModelwardError(f"The server answered {answer.status_code} to feedback: {answer.text}")
        self.labeled += len(ready)
