"""Windows over the prediction log: by time or by row count, tumbling or sliding, per model version.

Time windows are aligned to the Unix epoch (a ``1h`` window starts on the hour): window ``k`` is
``[k * step, k * step + size)``. It is complete once ``lateness`` has passed after its end.
Count windows are runs of ``size`` consecutive predictions of one version in (ts, id) order; the
next one starts ``step`` rows after the previous start. Both are planned per model version, so a
window that spans a version change is split: each version's rows form windows of their own.

:func:`next_window` plans the next complete window after the last one processed; :func:`read_window`
with ``window=`` reads exactly its rows.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from modelward.errors import ConfigError
from modelward.predlog._read import Cursor
from modelward.store import Store
from modelward.store.schema import UtcDateTime, predictions

__all__ = ["Window", "WindowSpec", "next_window", "parse_window"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_KEY = re.compile(r"^(time|count):(\d+)/(\d+)$")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class WindowSpec:
    """How the log is cut into windows; ``key`` is its stored form (``count:5000/1000``).

    Attributes:
        kind: ``"time"`` (windows of ``size`` seconds) or ``"count"`` (windows of ``size`` rows).
        size: the window's length, in seconds or rows.
        step: how far the next window starts after this one (in the same unit); ``step ==
            size`` gives tumbling windows, a smaller step sliding ones.
    """

    kind: Literal["time", "count"]
    size: int
    step: int

    @property
    def key(self) -> str:
        """Stored with every run: ``time:3600/3600``, ``count:5000/1000``."""
        return f"{self.kind}:{self.size}/{self.step}"

    @classmethod
    def from_key(cls, key: str) -> WindowSpec:
        """The spec a stored :attr:`key` names.

        >>> WindowSpec.from_key("count:5000/1000")
        WindowSpec(kind='count', size=5000, step=1000)
        """
        match = _KEY.match(key)
        if match is None:
            raise ConfigError(f"Window key {key!r} is not of the form time:SIZE/STEP or count:SIZE/STEP.")
        kind: Literal["time", "count"] = "time" if match.group(1) == "time" else "count"
        return cls(kind, int(match.group(2)), int(match.group(3)))

    @property
    def sliding(self) -> bool:
        return self.step != self.size

    def describe(self) -> str:
        unit = _human_seconds if self.kind == "time" else (lambda n: f"{n} rows")
        what = f"{unit(self.size)} windows"
        return f"{what}, sliding every {unit(self.step)}" if self.sliding else f"tumbling {what}"


@dataclass(frozen=True)
class Window:
    """One window of one model version. Time windows: ``[start_ts, end_ts)``. Count windows: the rows
    from cursor ``(start_ts, start_id)`` through ``(end_ts, end_id)`` inclusive.

    Attributes:
        spec: how the log was cut.
        version: the model version whose predictions the window holds.
        start_ts, end_ts: where the window starts and ends (see above).
        start_id, end_id: the prediction ids completing the cursors of a count window (empty for
            time windows).
    """

    spec: WindowSpec
    version: int
    start_ts: dt.datetime
    end_ts: dt.datetime
    start_id: str = ""
    end_id: str = ""

    @property
    def start(self) -> Cursor:
        return (self.start_ts, self.start_id)

    @property
    def through(self) -> Cursor:
        return (self.end_ts, self.end_id)

    def contains(self, version: int, ts: dt.datetime, prediction_id: str) -> bool:
        """Whether the prediction ``prediction_id`` of ``version`` logged at ``ts`` is one of the window's rows."""
        if version != self.version:
            return False
        if self.spec.kind == "time":
            return self.start_ts <= ts < self.end_ts
        return self.start <= (ts, prediction_id) <= self.through


def _human_seconds(seconds: int) -> str:
    for unit, factor in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % factor == 0:
            return f"{seconds // factor}{unit}"
    return f"{seconds}s"


def _parse_one(text: str | int, what: str) -> tuple[Literal["time", "count"], int]:
    raw = str(text).strip().lower()
    if raw.isdigit():
        rows = int(raw)
        if rows < 1:
            raise ConfigError(f"{what} must be at least 1 row, got {text!r}.")
        return "count", rows
    match = _DURATION.match(raw)
    if not match:
        raise ConfigError(
            f"{what} must be a duration like 30s, 15m, 1h or 1d, or a row count like 5000; got {text!r}."
        )
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 1 or seconds != math.floor(seconds):
        raise ConfigError(f"{what} must be a whole number of seconds, at least 1s; got {text!r}.")
    return "time", int(seconds)


def parse_window(window: str | int, slide: str | int | None = None) -> WindowSpec:
    """``parse_window("1h")``, ``parse_window("5000", "1000")``, ``parse_window("1h", "15m")``.

    >>> parse_window("1h").key, parse_window(5000, 1000).key
    ('time:3600/3600', 'count:5000/1000')
    >>> parse_window("1h").describe()
    'tumbling 1h windows'
    """
    kind, size = _parse_one(window, "--window")
    if slide is None:
        return WindowSpec(kind, size, size)
    slide_kind, step = _parse_one(slide, "--slide")
    if slide_kind != kind:
        raise ConfigError(
            f"--slide must use the unit of --window: the window {window!r} is a "
            f"{'duration' if kind == 'time' else 'row count'}, the slide {slide!r} is not."
        )
    if step > size:
        raise ConfigError(
            f"--slide ({slide!r}) must not be longer than --window ({window!r}); windows would leave gaps."
        )
    return WindowSpec(kind, size, step)


def next_window(
    store: Store,
    model: str,
    version: int,
    spec: WindowSpec,
    last: Window | None,
    *,
    now: dt.datetime,
    lateness: float,
) -> Window | None:
    """The earliest complete window of ``model@version`` after ``last`` (the last one processed; None:
    from the beginning of the log), or None while there is none.

    A time window is complete once ``lateness`` seconds have passed after its end, and windows without
    rows are skipped; a count window is complete once it holds ``spec.size`` rows.
    """
    if spec.kind == "time":
        return _next_time_window(
            store, model, version, spec, None if last is None else last.start_ts, now, lateness
        )
    return _next_count_window(store, model, version, spec, last)


def _to_seconds(ts: dt.datetime) -> float:
    return (ts - _EPOCH).total_seconds()


def _from_seconds(seconds: float) -> dt.datetime:
    return _EPOCH + dt.timedelta(seconds=seconds)


def _first_ts(store: Store, model: str, version: int, since: dt.datetime | None) -> dt.datetime | None:
    query = sa.select(sa.func.min(predictions.c.ts)).where(
        predictions.c.model == model, predictions.c.version == version
    )
    if since is not None:
        query = query.where(predictions.c.ts >= since)
    with store.read() as conn:
        value = conn.execute(query).scalar()
    if value is None:
        return None
    # min() bypasses the column type on SQLite; parse what the driver returns.
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _next_time_window(
    store: Store,
    model: str,
    version: int,
    spec: WindowSpec,
    last_start: dt.datetime | None,
    now: dt.datetime,
    lateness: float,
) -> Window | None:
    floor = None if last_start is None else _to_seconds(last_start) + spec.step
    first = _first_ts(store, model, version, None if floor is None else _from_seconds(floor))
    if first is None:
        return None
    t = _to_seconds(first)
    k = math.floor((t - spec.size) / spec.step) + 1  # smallest k with k*step + size > t
    start = float(k * spec.step)
    if floor is not None:
        start = max(start, floor)
    end = start + spec.size
    if end > _to_seconds(now) - lateness:
        return None
    return Window(spec, version, _from_seconds(start), _from_seconds(end))


def _next_count_window(
    store: Store, model: str, version: int, spec: WindowSpec, last: Window | None
) -> Window | None:
    """Tumbling: the ``size`` rows after the last window's final row. Sliding: the ``size`` rows from
    ``step`` rows after the last window's first row. None while fewer rows than that exist."""
    p = predictions.c
    query: sa.Select[Any] = sa.select(p.ts, p.id).where(p.model == model, p.version == version)
    offset = 0
    if last is not None and not spec.sliding:
        query = query.where(sa.tuple_(p.ts, p.id) > _cursor(last.through))
    elif last is not None:
        query = query.where(sa.tuple_(p.ts, p.id) >= _cursor(last.start))
        offset = spec.step
    query = query.order_by(p.ts, p.id)
    with store.read() as conn:
        final = conn.execute(query.offset(offset + spec.size - 1).limit(1)).first()
        if final is None:
            return None
        first = conn.execute(query.offset(offset).limit(1)).one()
    return Window(spec, version, first.ts, final.ts, first.id, final.id)


def _cursor(cursor: Cursor) -> Any:
    return sa.tuple_(sa.literal(cursor[0], UtcDateTime()), cursor[1])
