"""The loop's lease (``ws.leases``): one leader among replicas, and the epoch that fences a stale one.

Several ``modelward serve`` / ``modelward loop`` processes may share one database; only the holder of the
lease row (table ``loop_leases``, one row per lease name) runs the loop. A process **acquires** the lease
when it has no row yet, or takes an expired one by a conditional UPDATE that increments its ``epoch``; the
holder **renews** it (conditional on holder and epoch) before it expires; **release** lets it expire now so
a successor needs not wait for the TTL. A row, not an advisory lock: advisory locks do not survive
PgBouncer's transaction pooling (the session that took one is not the one that checks it), and SQLite has
none. Times come from the caller's clock: the processes' clocks must agree to well within the TTL.

The epoch is a **fencing token**: :meth:`LeaseStore.fenced` makes every write transaction of the holder's
thread first check, in the same transaction, that its (holder, epoch) is still the current one (``FOR
SHARE`` on PostgreSQL, so a takeover waits for the write to commit; SQLite serialises writers). A leader
that stalled past its TTL and was replaced gets :class:`StaleLeaderError` and its write changes nothing.

>>> import datetime as dt, tempfile
>>> from modelward import Workspace
>>> t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
>>> with tempfile.TemporaryDirectory() as tmp:
...     ws = Workspace.init(tmp)
...     a = ws.leases.acquire("loop", "a", ttl=30, now=t0)
...     print(a.epoch, ws.leases.acquire("loop", "b", ttl=30, now=t0))
...     b = ws.leases.acquire("loop", "b", ttl=30, now=t0 + dt.timedelta(seconds=31))
...     print(b.holder, b.epoch)
...     ws.close()
1 None
b 2
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelward.errors import ConflictError
from modelward.store import Store, is_unique_violation
from modelward.store.audit import record_event
from modelward.store.schema import loop_leases

__all__ = ["LOOP_LEASE", "Lease", "LeaseStore", "StaleLeaderError", "held"]

LOOP_LEASE = "loop"
"""The name of the maintenance loop's lease."""

_HELD: ContextVar[Lease | None] = ContextVar("modelward_held_lease", default=None)


def held() -> Lease | None:
    """The lease this context's writes are fenced by (inside :meth:`LeaseStore.fenced`), else None: what a
    subprocess the leader starts (the training child) must fence its own writes with."""
    return _HELD.get()


class StaleLeaderError(ConflictError):
    """This process no longer holds the lease it acted under: another one leads now. Its write was
    refused and changed nothing; it must stop acting as the leader."""

    code = "stale_leader"


@dataclass(frozen=True)
class Lease:
    """A lease row as read or written: who holds it, under which epoch, until when."""

    name: str
    holder: str
    epoch: int
    acquired_at: dt.datetime
    renewed_at: dt.datetime
    expires_at: dt.datetime

    def expired(self, now: dt.datetime) -> bool:
        return self.expires_at <= now

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lease:
        """The lease :meth:`to_dict` wrote (handed to a subprocess as JSON)."""
        times = {k: dt.datetime.fromisoformat(data[k]) for k in ("acquired_at", "renewed_at", "expires_at")}
        return cls(name=str(data["name"]), holder=str(data["holder"]), epoch=int(data["epoch"]), **times)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "holder": self.holder,
            "epoch": self.epoch,
            "acquired_at": self.acquired_at.isoformat(),
            "renewed_at": self.renewed_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }


def _lease(row: Any) -> Lease:
    return Lease(
        name=row.name,
        holder=row.holder,
        epoch=int(row.epoch),
        acquired_at=row.acquired_at,
        renewed_at=row.renewed_at,
        expires_at=row.expires_at,
    )


class LeaseStore:
    """The ``loop_leases`` table (``ws.leases``): see the module docstring."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def current(self, name: str = LOOP_LEASE) -> Lease | None:
        """The lease row as it is now (None when nobody ever held it)."""
        with self.store.read() as conn:
            row = conn.execute(sa.select(loop_leases).where(loop_leases.c.name == name)).first()
        return None if row is None else _lease(row)

    def acquire(
        self,
        name: str,
        holder: str,
        *,
        ttl: float,
        now: dt.datetime,
        gone: Callable[[str], bool] | None = None,
    ) -> Lease | None:
        """Lead: the lease held by ``holder`` until ``now + ttl`` — renewed when it already held it, taken
        (epoch + 1) when it is free or expired. None while another holder's lease runs, unless ``gone``
        says that holder no longer exists (a process of this host that died): then it is taken at once."""
        for _race in range(3):
            seen = self.current(name)
            early = False
            if seen is not None and seen.holder == holder:
                renewed = self.renew(seen, ttl=ttl, now=now)
                if renewed is not None:
                    return renewed
            elif seen is not None and not seen.expired(now):
                if gone is None or not gone(seen.holder):
                    return None
                early = True
            taken = self._take(name, holder, seen, ttl=ttl, now=now, early=early)
            if taken is not None:
                return taken
        return None  # lost every race: another process just took it

    def _take(
        self, name: str, holder: str, seen: Lease | None, *, ttl: float, now: dt.datetime, early: bool
    ) -> Lease | None:
        """Insert the first row, or take ``seen`` (expired, or ``early``: its holder is gone) if it is
        still as read; None on a lost race."""
        expires = now + dt.timedelta(seconds=ttl)
        values = {"holder": holder, "acquired_at": now, "renewed_at": now, "expires_at": expires}
        lease = Lease(name, holder, 1 if seen is None else seen.epoch + 1, now, now, expires)
        c = loop_leases.c
        try:
            with self.store.write() as conn:
                if seen is None:
                    conn.execute(loop_leases.insert().values(name=name, epoch=1, **values))
                else:
                    query = loop_leases.update().where(
                        c.name == name, c.holder == seen.holder, c.epoch == seen.epoch
                    )
                    if not early:
                        query = query.where(c.expires_at <= now)
                    taken = conn.execute(query.values(epoch=c.epoch + 1, **values)).rowcount
                    if taken != 1:
                        return None
                self._event(
                    conn, "loop_leader_elected", lease, now, {**_previous(seen), "holder_gone": early}
                )
        except sa.exc.IntegrityError as exc:
            if is_unique_violation(exc):
                return None  # another process inserted the first row meanwhile
            raise
        return lease

    def renew(self, lease: Lease, *, ttl: float, now: dt.datetime) -> Lease | None:
        """Extend ``lease`` to ``now + ttl`` if it is still current (same holder and epoch); None when it
        was taken over."""
        c = loop_leases.c
        expires = now + dt.timedelta(seconds=ttl)
        with self.store.write() as conn:
            done = conn.execute(
                loop_leases.update()
                .where(c.name == lease.name, c.holder == lease.holder, c.epoch == lease.epoch)
                .values(renewed_at=now, expires_at=expires)
            ).rowcount
        if done != 1:
            return None
        return Lease(lease.name, lease.holder, lease.epoch, lease.acquired_at, now, expires)

    def release(self, lease: Lease, *, now: dt.datetime) -> bool:
        """Let ``lease`` expire now (the holder stops), so another process takes it at its next try.
        False when it was no longer current."""
        c = loop_leases.c
        with self.store.write() as conn:
            done = conn.execute(
                loop_leases.update()
                .where(c.name == lease.name, c.holder == lease.holder, c.epoch == lease.epoch)
                .values(expires_at=now)
            ).rowcount
            if done == 1:
                self._event(conn, "loop_leader_released", lease, now, {})
        return done == 1

    # -- fencing ----------------------------------------------------------------------------------

    def check(self, conn: Connection, lease: Lease) -> None:
        """Raise :class:`StaleLeaderError` unless ``lease`` (holder and epoch) is current, locking the row
        against a takeover until ``conn``'s transaction ends."""
        c = loop_leases.c
        row = conn.execute(
            sa.select(c.holder, c.epoch).where(c.name == lease.name).with_for_update(read=True)
        ).first()
        if row is not None and row.holder == lease.holder and int(row.epoch) == lease.epoch:
            return
        now_held = "nobody" if row is None else f"{row.holder} (epoch {row.epoch})"
        raise StaleLeaderError(
            f"{lease.holder} no longer leads (lease {lease.name!r}): it acted under epoch {lease.epoch}, "
            f"and the lease is now held by {now_held}. Its write was refused and changed nothing; it stops "
            "acting until it leads again.",
            details={
                "lease": lease.name,
                "holder": lease.holder,
                "epoch": lease.epoch,
                "current_holder": None if row is None else row.holder,
                "current_epoch": None if row is None else int(row.epoch),
            },
        )

    @contextmanager
    def fenced(self, lease: Lease) -> Iterator[None]:
        """Inside the block, every write of this thread to the store is refused with
        :class:`StaleLeaderError` (and changes nothing) once ``lease`` is no longer current."""
        token = _HELD.set(lease)
        try:
            with self.store.fenced(lambda conn: self.check(conn, lease)):
                yield
        finally:
            _HELD.reset(token)

    def _event(
        self, conn: Connection, kind: str, lease: Lease, now: dt.datetime, extra: dict[str, Any]
    ) -> None:
        record_event(
            conn,
            kind=kind,
            subject_type="lease",
            subject=lease.name,
            actor=lease.holder,
            payload={**lease.to_dict(), **extra},
            ts=now,
        )


def _previous(seen: Lease | None) -> dict[str, Any]:
    if seen is None:
        return {"previous_holder": None, "previous_epoch": None}
    return {
        "previous_holder": seen.holder,
        "previous_epoch": seen.epoch,
        "previous_expires_at": seen.expires_at.isoformat(),
    }
