"""Which process runs the loop: :class:`Leader` holds this process's claim on the loop's lease.

With several ``modelward serve`` / ``modelward loop`` processes on one database, every pass of every process
first tries to lead (:meth:`Leader.lead`: take the lease, or renew it); only the leader runs triggers and
jobs, inside :meth:`Leader.fenced`, where each of its writes checks the lease epoch in its own transaction.
While a pass runs, :meth:`Leader.keeping` renews the lease from a thread of its own every
``loop.lease.renew_seconds``. A leader that stalls past ``loop.lease.ttl_seconds`` is replaced; its next
write is refused (:class:`~modelward.jobs.lease.StaleLeaderError`) and it stops acting at once
(:meth:`Leader.lost`). A clean stop releases the lease, so a successor takes it at its next try.

The holder is the process (``host:pid:token``): two loops in one process lead together. A holder that was
a process of this host and no longer exists (``kill -9``, then a restart) is replaced at once, not after
the TTL. Every change of
leader is an event (``loop_leader_elected``, with the previous holder) and a log line.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from modelward.errors import DatabaseUnavailableError
from modelward.jobs.lease import LOOP_LEASE, Lease, StaleLeaderError
from modelward.loop_settings import LeaseSettings
from modelward.maintenance.steps import owner_dead
from modelward.workspace import Workspace

__all__ = ["PROCESS_HOLDER", "Leader"]

log = logging.getLogger(__name__)

PROCESS_HOLDER = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"
"""This process's name as a lease holder."""

Clock = Callable[[], dt.datetime]


class Leader:
    """This process's claim on the loop's lease (see the module docstring)."""

    def __init__(
        self,
        ws: Workspace,
        *,
        settings: LeaseSettings,
        clock: Clock,
        holder: str | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.ws, self.settings, self.clock = ws, settings, clock
        self.holder = holder or PROCESS_HOLDER
        self.progress = progress or (lambda msg: log.info("%s", msg))
        self.lease: Lease | None = None
        self.seen: Lease | None = None  # the lease as last read when another process held it

    @property
    def leading(self) -> bool:
        return self.lease is not None

    def lead(self, now: dt.datetime | None = None) -> bool:
        """Take or renew the lease; True when this process leads (and may run a pass)."""
        now = now or self.clock()
        lease = self.ws.leases.acquire(
            LOOP_LEASE, self.holder, ttl=self.settings.ttl_seconds, now=now, gone=owner_dead
        )
        if lease is None:
            self._follow(now)
            return False
        if self.lease is None or self.lease.epoch != lease.epoch:
            self.progress(
                f"this process ({self.holder}) leads the loop now (lease epoch {lease.epoch}, "
                f"ttl {self.settings.ttl_seconds:g} s)"
            )
        self.lease, self.seen = lease, None
        return True

    def _follow(self, now: dt.datetime) -> None:
        if self.lease is not None:
            self.progress(f"this process ({self.holder}) lost the loop's lease (epoch {self.lease.epoch})")
            self.lease = None
        current = self.ws.leases.current(LOOP_LEASE)
        if current is not None and (self.seen is None or self.seen.epoch != current.epoch):
            self.progress(
                f"{current.holder} leads the loop (lease epoch {current.epoch}); this process "
                f"({self.holder}) waits, trying every {self.settings.renew_seconds:g} s"
            )
        self.seen = current

    def lost(self, exc: StaleLeaderError) -> None:
        """A write was refused: another process leads; stop acting at once."""
        log.warning("%s", exc.message)
        self.progress(f"this process ({self.holder}) stopped acting: another process leads the loop")
        self.lease = None

    def status(self) -> dict[str, Any]:
        """Who leads, as this process knows it (shown by ``modelward loop --json``)."""
        lease = self.lease or self.seen
        return {
            "holder": self.holder,
            "leading": self.leading,
            "lease": None if lease is None else lease.to_dict(),
        }

    @contextmanager
    def fenced(self) -> Iterator[None]:
        """Every write of this thread inside the block is refused once the lease is no longer ours."""
        assert self.lease is not None, "lead() first"
        with self.ws.leases.fenced(self.lease):
            yield

    @contextmanager
    def keeping(self) -> Iterator[None]:
        """Renew the lease from a thread every ``renew_seconds`` while the block runs (a long pass)."""
        stop = threading.Event()
        thread = threading.Thread(target=self._keep, args=(stop,), name="modelward-lease", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def _keep(self, stop: threading.Event) -> None:
        while not stop.wait(self.settings.renew_seconds):
            lease = self.lease
            if lease is None:
                return
            try:
                renewed = self.ws.leases.renew(lease, ttl=self.settings.ttl_seconds, now=self.clock())
            except DatabaseUnavailableError as exc:
                log.warning("could not renew the loop's lease (retrying): %s", exc.message)
                continue
            if renewed is None:
                log.warning("the loop's lease (epoch %d) was taken over during a pass", lease.epoch)
                return  # the pass's next write is refused by the fence
            self.lease = renewed

    def release(self) -> None:
        """Hand the lease over now (a clean stop), so another process leads at its next try."""
        lease, self.lease = self.lease, None
        if lease is None:
            return
        try:
            if self.ws.leases.release(lease, now=self.clock()):
                self.progress(f"this process ({self.holder}) released the loop's lease (epoch {lease.epoch})")
        except DatabaseUnavailableError as exc:
            log.warning("could not release the loop's lease (it expires on its own): %s", exc.message)
