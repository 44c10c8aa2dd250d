"""The demo's timeline: what happened, when, and the evidence — read from the registry's events.

Every decision in the timeline is an event the product stored (``ws.registry.events``: the loop's triggers,
jobs, gate reports, promotions; registrations and alias changes), narrated with the same words as
``modelward models history`` (:func:`modelward.cli._loop.event_lines`). The demo adds its own marks only
for what it did itself (started the traffic, switched the concept at a known row, saw the first answer of a
new version). :class:`Timeline` keeps the entries, prints each once (time-stamped), and turns into the JSON
the HTML page is drawn from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from modelward.cli.narration import event_lines
from modelward.registry import Event

__all__ = ["Entry", "Timeline", "entry_of"]

#: Events the timeline leaves out: bookkeeping with no decision in it.
_QUIET = {"loop_job_started", "model_created", "tags_set", "description_set"}
#: Chart marks by event kind.
_MARKS = {
    "loop_trigger_fired": "trigger",
    "loop_rejected": "rejected",
    "loop_promoted": "promoted",
    "rollout_started": "canary",
    "rollout_promoted": "promoted",
    "rollout_rolled_back": "rolled_back",
    "loop_training_failed": "failed",
    "loop_training_timed_out": "failed",
    "loop_job_failed": "failed",
}


@dataclass(frozen=True)
class Entry:
    """One line of the timeline: ``t`` seconds after the demo began, what happened, and its evidence."""

    t: float
    ts: str
    kind: str
    title: str
    evidence: list[str] = field(default_factory=list)
    source: str = "event"
    mark: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


def _registered(p: dict[str, Any]) -> str:
    metrics = p.get("metrics", {})
    figures = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if k in ("accuracy", "f1", "roc_auc"))
    return f"v{p.get('version')} registered (its own holdout: {figures or 'no metrics'})"


def _alias(event: Event) -> str:
    p = event.payload
    was = "nothing" if p.get("from") is None else f"v{p.get('from')}"
    return (
        f"{p.get('alias')}: {was} -> v{p.get('to')} by {event.actor} ({p.get('reason') or 'no reason given'})"
    )


def entry_of(event: Event, t0: dt.datetime) -> Entry | None:
    """The timeline entry of a stored event (None for bookkeeping the timeline leaves out)."""
    if event.kind in _QUIET:
        return None
    if event.kind.startswith(("loop_", "rollout_")):
        title, evidence = event_lines(event)
    elif event.kind == "version_registered":
        title, evidence = _registered(event.payload), []
    elif event.kind in ("alias_set", "alias_rollback"):
        title, evidence = _alias(event), []
    else:
        title, evidence = event.kind.replace("_", " "), []
    mark = _MARKS.get(event.kind)
    if event.kind == "alias_set" and event.payload.get("alias") == "champion":
        mark = "champion"
    return Entry(
        t=(event.ts - t0).total_seconds(),
        ts=event.ts.isoformat(),
        kind=event.kind,
        title=title,
        evidence=evidence,
        mark=mark,
        payload=event.payload,
    )


class Timeline:
    """The entries so far, in time order; :meth:`add` prints each new one through ``say``."""

    def __init__(self, t0: dt.datetime, say: Callable[[Entry], None]) -> None:
        self.t0 = t0
        self.entries: list[Entry] = []
        self._say = say
        self._seen: set[int] = set()

    def now(self) -> float:
        return (dt.datetime.now(dt.UTC) - self.t0).total_seconds()

    def mark(
        self,
        kind: str,
        title: str,
        evidence: list[str] | None = None,
        *,
        mark: str | None = None,
        at: dt.datetime | None = None,
    ) -> Entry:
        """An entry for something the demo itself did or saw (``at``: when, if not now)."""
        at = at or dt.datetime.now(dt.UTC)
        entry = Entry(
            t=(at - self.t0).total_seconds(),
            ts=at.isoformat(),
            kind=kind,
            title=title,
            evidence=list(evidence or []),
            source="demo",
            mark=mark,
        )
        self._add(entry)
        return entry

    def absorb(self, events: list[Event]) -> list[Entry]:
        """Add the events not seen yet; returns their entries."""
        added = []
        for event in events:
            if event.id in self._seen:
                continue
            self._seen.add(event.id)
            entry = entry_of(event, self.t0)
            if entry is not None:
                self._add(entry)
                added.append(entry)
        return added

    def _add(self, entry: Entry) -> None:
        self.entries.append(entry)
        self._say(entry)

    def of_kind(self, kind: str) -> list[Entry]:
        return [e for e in self.entries if e.kind == kind]

    def to_list(self) -> list[dict[str, Any]]:
        return [asdict(e) for e in sorted(self.entries, key=lambda e: e.t)]
