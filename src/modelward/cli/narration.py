"""How the loop's and the rollouts' events read, in words: a one-line summary and its evidence lines.

`modelward models history`, the demo's timeline and the web console (:mod:`modelward.ui`) all narrate the
stored events with these, so a decision reads the same wherever it is shown.
"""

from __future__ import annotations

from typing import Any

from modelward.registry import Event

__all__ = ["event_lines", "gate_lines", "history_entries"]


def gate_lines(gate: dict[str, Any] | None) -> list[str]:
    """The gate report's items, one line each (PASS / FAIL judged, INFO reported)."""
    if not gate:
        return []
    lines = [f"gate: {gate.get('reason')}"]
    for item in gate.get("items", []):
        mark = "INFO" if not item.get("judged") else "PASS" if item.get("passed") else "FAIL"
        lines.append(f"{mark}  {item.get('section')}: {item.get('reason')}")
    lines += [f"note: {n}" for n in gate.get("notes", [])]
    return lines


def _signals(payload: dict[str, Any]) -> list[str]:
    return [f"{s.get('trigger')}: {s.get('reason')}" for s in payload.get("signals", [])]


def event_lines(event: Event) -> tuple[str, list[str]]:
    """A loop event as a one-line summary and its evidence lines."""
    p, kind = event.payload, event.kind
    job = f"job {p['job']}" if p.get("job") is not None else "no job"
    if kind == "loop_trigger_fired":
        return f"trigger fired ({p.get('trigger')}) -> {job}", _signals(p)
    if kind == "loop_trigger_suppressed":
        return f"trigger suppressed ({p.get('suppressed_by')}): {p.get('reason')}", _signals(p)
    if kind in ("loop_job_started", "loop_job_resumed"):
        verb = "started" if kind == "loop_job_started" else f"resumed from {p.get('previous_owner')}"
        return f"{job} {verb} by {p.get('owner')} (attempt {p.get('attempt')}, was {p.get('status')})", []
    if kind == "loop_dataset_built":
        return (
            f"{job}: training data {p.get('dataset')}: {p.get('reference_rows')} reference + "
            f"{p.get('production_rows')} production rows; {p.get('holdout_rows')} newest held out for the gate",
            [str(p.get("source", ""))],
        )
    if kind == "loop_training_started":
        return f"{job}: training on {p.get('dataset')} (time limit {p.get('time_limit_s')} s)", []
    if kind in ("loop_training_failed", "loop_training_timed_out", "loop_job_failed"):
        tail = [line for line in str(p.get("log_tail") or "").splitlines() if line.strip()][-5:]
        return f"{job}: {kind.removeprefix('loop_').replace('_', ' ')}: {p.get('error')}", tail
    if kind == "loop_challenger_registered":
        acc = p.get("metrics", {})
        figures = ", ".join(f"{k} {v:.4g}" for k, v in acc.items() if isinstance(v, int | float))
        return (
            f"{job}: challenger v{p.get('version')} registered"
            f"{' (adopted)' if p.get('adopted') else ''}; its own holdout: {figures}",
            [],
        )
    if kind == "loop_gate_decided":
        return f"{job}: gate v{p.get('challenger')} vs v{p.get('champion')}: {p.get('reason')}", gate_lines(
            p
        )[1:]
    if kind == "loop_promoted":
        return f"{job}: promoted v{p.get('to')} (champion was v{p.get('from')})", []
    if kind == "loop_rejected":
        return f"{job}: rejected: {p.get('reason') or p.get('error')}", list(p.get("failed", []))
    if kind == "loop_unweighted":
        return f"{job}: {p.get('message')}", []
    if kind == "loop_job_interrupted":
        return f"{job} interrupted (status {p.get('status')}); it resumes at the next start", []
    if kind == "loop_rollout_started":
        return (
            f"{job}: gate passed; challenger v{p.get('challenger')} handed to rollout {p.get('rollout')}",
            [],
        )
    if kind.startswith("rollout_"):
        return _rollout_line(kind, p)
    return kind, []


def _rollout_line(kind: str, p: dict[str, Any]) -> tuple[str, list[str]]:
    """A rollout event: what happened, and its evidence (guardrails, the test) one line each."""
    rollout = f"rollout {p.get('rollout')}"
    if kind == "rollout_started":
        return (
            f"{rollout} started: v{p.get('challenger')} vs champion v{p.get('champion')}, {p.get('mode')} "
            f"{p.get('steps')}",
            [str(p["reason"])] if p.get("reason") else [],
        )
    if kind == "rollout_step":
        return f"{rollout}: step to {p.get('percent'):g} %: {p.get('reason')}", []
    evidence = [
        f"{g.get('status').upper()}  {g.get('name')}: {g.get('reason')}" for g in p.get("guardrails", [])
    ]
    return f"{rollout} {kind.removeprefix('rollout_').replace('_', ' ')}: {p.get('reason')}", evidence


def history_entries(events: list[Event]) -> list[dict[str, Any]]:
    """The loop's events as JSON-ready entries (kind, ts, actor, summary, evidence, payload)."""
    out = []
    for e in events:
        if e.kind.startswith(("loop_", "rollout_")):
            summary, evidence = event_lines(e)
            out.append(
                {
                    "ts": e.ts,
                    "kind": e.kind,
                    "actor": e.actor,
                    "summary": summary,
                    "evidence": evidence,
                    "payload": e.payload,
                }
            )
    return out
