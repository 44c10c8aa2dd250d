"""How the console shows one thing: a time, a number, a page of a table, a rollout and its test, an event
with its evidence, a version with its lineage, a job. Plain dicts and strings for the templates; no query."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from modelward.cli.narration import event_lines, gate_lines
from modelward.jobs import RetrainJob
from modelward.registry import Event
from modelward.rollouts import Rollout

__all__ = ["Page", "describe_event", "page_number"]


@dataclass(frozen=True)
class Page:
    """Where a paginated table is: page ``number`` (1-based) of ``pages``."""

    number: int
    size: int
    total: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_number(value: int | None) -> int:
    return max(1, int(value or 1))


def when(ts: dt.datetime | None) -> str:
    return "" if ts is None else ts.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def short(ts: dt.datetime) -> str:
    return ts.astimezone(dt.UTC).strftime("%m-%d %H:%M")


def num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "-" if not math.isfinite(value) else f"{value:.{digits}g}"
    return str(value)


def finite(value: Any) -> float | None:
    """``value`` as a finite float; ``None`` when missing, not a number, NaN or infinite."""
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _test_state(rollout: Rollout) -> dict[str, Any]:
    """The rollout's sequential test and guardrails, from its last evaluation."""
    evaluation = rollout.evaluation or {}
    test = evaluation.get("test") or {}
    return {
        "decision": test.get("decision") or "no evaluation yet",
        "estimate": test.get("estimate"),
        "lower": test.get("lower"),
        "upper": test.get("upper"),
        "p_value": test.get("p_value"),
        "n_champion": test.get("n_champion"),
        "n_challenger": test.get("n_challenger"),
        "verdict": (evaluation.get("verdict") or {}).get("reason"),
        "guardrails": [
            {"name": g.get("name"), "status": g.get("status"), "reason": g.get("reason")}
            for g in evaluation.get("guardrails", [])
        ],
        "at": evaluation.get("at"),
    }


def rollout_view(rollout: Rollout | None) -> dict[str, Any] | None:
    if rollout is None:
        return None
    return {
        **rollout.summary(),
        "active": rollout.active,
        "percent": rollout.share * 100,
        "started": when(rollout.started_at),
        "finished": when(rollout.finished_at),
        "test": _test_state(rollout),
    }


def job_view(job: RetrainJob | None) -> dict[str, Any] | None:
    if job is None:
        return None
    return {"id": job.id, "status": job.status, "active": job.active, "trigger": job.summary().get("trigger")}


def describe_event(event: Event) -> tuple[str, list[str]]:
    """An event as a summary and its evidence lines (the loop's words, as ``models history`` says them)."""
    p = event.payload
    if event.kind.startswith(("loop_", "rollout_")):
        return event_lines(event)
    if event.kind == "version_registered":
        metrics = p.get("metrics") or {}
        figures = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, int | float))
        return f"v{p.get('version')} registered", [f"its own holdout: {figures}"] if figures else []
    if event.kind in ("alias_set", "alias_rollback", "alias_removed"):
        was = "nothing" if p.get("from") is None else f"v{p.get('from')}"
        now = "nothing" if p.get("to") is None else f"v{p.get('to')}"
        verb = {"alias_set": "set", "alias_rollback": "rolled back", "alias_removed": "removed"}[event.kind]
        return f"{p.get('alias')} {verb}: {was} -> {now}", [f"reason: {p.get('reason') or 'none given'}"]
    return event.kind.replace("_", " "), []


def event_view(event: Event) -> dict[str, Any]:
    summary, evidence = describe_event(event)
    extra = gate_lines(event.payload)[1:] if event.kind == "loop_gate_decided" and not evidence else []
    return {
        "id": event.id,
        "ts": when(event.ts),
        "kind": event.kind,
        "actor": event.actor,
        "summary": summary,
        "evidence": [*evidence, *extra],
        "group": event.kind.split("_", 1)[0],
    }


def version_view(v: Any) -> dict[str, Any]:
    lineage = v.lineage or {}
    dataset = lineage.get("dataset") or {}
    code = lineage.get("code") or {}
    return {
        "version": v.version,
        "aliases": v.aliases,
        "created": when(v.created_at),
        "created_by": v.created_by,
        "metrics": {k: num(val) for k, val in sorted(v.metrics.items())},
        "params": {k: num(val) for k, val in sorted(v.params.items())},
        "dataset": dataset,
        "code": code,
        "entrypoint": lineage.get("entrypoint"),
        "features": lineage.get("features") or [],
        "evaluation": lineage.get("evaluation") or lineage.get("split"),
    }
