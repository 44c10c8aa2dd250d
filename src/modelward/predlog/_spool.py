"""The local spool: append-only JSON-lines segments that hold records while the database is down.

``spool_dir`` holds one ``slot-N`` directory per live log. A log claims the first slot whose
lock file it can ``flock``, so several server workers can share one ``spool_dir``; a lock is
released by the kernel when its process dies, so a slot left behind by a crash is claimed
(and replayed) by the next log to start, or adopted by a running one.

In a slot, records are appended to the newest segment, ``seg-<n>.jsonl``. ``seal()`` closes it
so the next append starts a new segment; sealed segments are replayed into the database and
deleted only after their rows are committed. A torn last line (a crash mid-write, never
acknowledged in sync mode) is skipped on replay.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["Spool", "claim_slot", "orphan_slots"]

log = logging.getLogger(__name__)

_SEGMENT = re.compile(r"seg-(\d{8})\.jsonl")
_SEGMENT_MAX_BYTES = 64 * 1024 * 1024


class SlotBusyError(Exception):
    """Another live process holds this slot's lock."""


class Spool:
    """One locked slot of a spool directory. Thread-safe."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._lock_fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise SlotBusyError(str(directory)) from None
        self._mutex = threading.Lock()
        self._active: BinaryIO | None = None
        self._active_path: Path | None = None
        self._active_bytes = 0
        self._bytes = sum(path.stat().st_size for path in self._segments())

    @property
    def size_bytes(self) -> int:
        """Bytes held in this slot's segments."""
        return self._bytes

    def append(self, lines: list[bytes], *, fsync: bool) -> None:
        """Append encoded records; with ``fsync`` they are on disk when this returns."""
        data = b"".join(lines)
        with self._mutex:
            if self._active is None or self._active_bytes >= _SEGMENT_MAX_BYTES:
                self._open_segment(fsync=fsync)
            assert self._active is not None
            self._active.write(data)
            self._active.flush()
            if fsync:
                os.fsync(self._active.fileno())
            self._active_bytes += len(data)
            self._bytes += len(data)

    def seal(self) -> list[Path]:
        """Close the segment being appended to; return every sealed segment, oldest first."""
        with self._mutex:
            self._close_active()
            return self._segments()

    def remove(self, segment: Path) -> None:
        """Delete a segment whose records are all committed."""
        with self._mutex:
            size = segment.stat().st_size
            segment.unlink()
            self._bytes -= size

    def close(self) -> None:
        with self._mutex:
            self._close_active()
            os.close(self._lock_fd)  # releases the flock

    # -- internals -------------------------------------------------------------------------

    def _segments(self) -> list[Path]:
        return sorted(p for p in self.directory.iterdir() if _SEGMENT.fullmatch(p.name))

    def _open_segment(self, *, fsync: bool) -> None:
        self._close_active()
        numbers = [int(m.group(1)) for p in self._segments() if (m := _SEGMENT.fullmatch(p.name))]
        path = self.directory / f"seg-{max(numbers, default=0) + 1:08d}.jsonl"
        self._active = path.open("ab")
        self._active_path, self._active_bytes = path, 0
        if fsync:  # make the new file's directory entry durable too
            _fsync_dir(self.directory)

    def _close_active(self) -> None:
        if self._active is not None:
            self._active.flush()
            os.fsync(self._active.fileno())
            self._active.close()
            self._active = self._active_path = None


def read_segment(segment: Path, chunk: int) -> Iterator[list[bytes]]:
    """The complete lines of a segment, ``chunk`` at a time; a torn final line is skipped."""
    lines: list[bytes] = []
    with segment.open("rb") as fh:
        for line in fh:
            if not line.endswith(b"\n"):
                log.warning("skipping a torn final line (%d bytes) in spool segment %s", len(line), segment)
                break
            lines.append(line)
            if len(lines) >= chunk:
                yield lines
                lines = []
    if lines:
        yield lines


def claim_slot(spool_dir: Path) -> Spool:
    """Lock the first free ``slot-N`` of ``spool_dir`` (creating it when all are taken)."""
    spool_dir.mkdir(parents=True, exist_ok=True)
    n = 0
    while True:
        try:
            return Spool(spool_dir / f"slot-{n}")
        except SlotBusyError:
            n += 1


def orphan_slots(spool_dir: Path, own: Spool) -> Iterator[Spool]:
    """Slots of ``spool_dir`` with data and no live owner, each locked while the caller uses it."""
    for directory in sorted(spool_dir.glob("slot-*")):
        if directory == own.directory or not any(_SEGMENT.fullmatch(p.name) for p in directory.iterdir()):
            continue
        try:
            spool = Spool(directory)
        except SlotBusyError:
            continue
        try:
            yield spool
        finally:
            spool.close()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
