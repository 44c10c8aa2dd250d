"""`modelward retrain`, `modelward gate`, `modelward loop`, and how the loop's events read in `models history`."""

from __future__ import annotations

import datetime as dt
import signal
from typing import Annotated, Any

import typer

from modelward.cli._common import (
    DatabaseOpt,
    JsonOpt,
    WorkspaceOpt,
    console,
    err_console,
    open_workspace,
    print_json,
)
from modelward.errors import ConflictError, ModelwardError
from modelward.jobs import RetrainJob
from modelward.registry import Event

ModelArg = Annotated[str, typer.Argument(metavar="MODEL", help="Model name declared in modelward.yaml.")]


def _say(message: str) -> None:
    err_console.print(message, markup=False, highlight=False)


def retrain_command(
    model: ModelArg,
    force: Annotated[
        bool, typer.Option("--force", help="Start even within the cooldown (never beside an active job).")
    ] = False,
    reason: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Why; recorded with the decision.")
    ] = None,
    queue: Annotated[
        bool,
        typer.Option(
            "--queue", help="Only open the job; the running loop (modelward serve or modelward loop) runs it."
        ),
    ] = False,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    json: JsonOpt = False,
) -> None:
    """Retrain MODEL now: build the training data, train a challenger, gate it, roll it out if it passes.

    The same job the loop runs on a trigger (a manual trigger: the cooldown applies unless --force; one job
    per model at a time). Exit status 1 when no job started, or when it failed or timed out.
    """
    from modelward.maintenance import Loop, request_retrain

    with open_workspace(workspace, database_url) as ws:
        loop = Loop(ws, models=[model], monitor=False, progress=_say)
        loop.check()
        asked = request_retrain(
            ws,
            model,
            actor=ws.settings.actor_name,
            reason=reason,
            force=force,
            owner=None if queue else loop.owner,
        )
        if asked.job is None:
            active = f" (job {asked.active.id}, {asked.active.status})" if asked.active is not None else ""
            raise ConflictError(f"No retrain job started for {model}: {asked.decision.reason}{active}.")
        job = asked.job if queue else loop.runner.run(asked.job)
        if json:
            print_json({"job": job.summary(), "gate": job.gate})
        else:
            render_job(job, queued=queue)
    if job.status in ("failed", "timed_out"):
        raise typer.Exit(code=1)


def render_job(job: RetrainJob, *, queued: bool = False) -> None:
    if queued:
        console.print(f"job {job.id} of {job.model} queued: the running loop picks it up at its next pass")
        return
    colour = {"promoted": "green", "rolling_out": "cyan", "rejected": "yellow"}.get(job.status, "red")
    console.print(
        f"job {job.id} of {job.model}: [{colour}]{job.status}[/{colour}]"
        + (f", challenger v{job.challenger_version}" if job.challenger_version else "")
        + (f" (champion was v{job.champion_version})" if job.champion_version else "")
    )
    if job.error:
        console.print(f"  {job.error}", markup=False)
    for line in gate_lines(job.gate):
        console.print(f"  {line}", markup=False)


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


def gate_command(
    model: ModelArg,
    version: Annotated[
        int, typer.Argument(metavar="VERSION", help="Challenger version compared with the champion.")
    ],
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit with status 2 when the gate rejects.")
    ] = False,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    json: JsonOpt = False,
) -> None:
    """Compare MODEL's champion with VERSION as the loop's gate would, and print every item and number.

    The recent rows are those VERSION's retrain job held out, else the labeled rows logged after VERSION was
    registered; the champion's original test set is compared too. Nothing is promoted.
    """
    from modelward.maintenance.gate import gate_rows, load_behavioral, run_gate

    with open_workspace(workspace, database_url) as ws:
        policy = ws.model_spec(model).loop
        champion = ws.registry.get(model, "champion")
        challenger = ws.registry.get(model, version)
        if champion.version == challenger.version:
            raise ModelwardError(
                f"{challenger.ref} is the champion; give another version to compare with it."
            )
        recent, source = gate_rows(ws, champion, challenger, now=dt.datetime.now(dt.UTC))
        with console.status(f"gating {challenger.ref} against {champion.ref}…"):
            report = run_gate(
                ws,
                champion,
                challenger,
                recent=recent,
                gate=policy.gate,
                suite=load_behavioral(ws, policy.gate),
            )
    if json:
        print_json({**report.to_dict(), "recent_rows_from": source})
    else:
        console.print(
            f"{model}: champion v{champion.version} vs v{challenger.version}; recent rows: {source}",
            markup=False,
        )
        colour = "green" if report.promote else "yellow"
        console.print(f"[{colour}]{report.decision}[/{colour}]: {report.reason}")
        for line in report.lines():
            console.print(f"  {line}", markup=False)
    if strict and not report.promote:
        raise typer.Exit(code=2)


def loop_command(
    once: Annotated[bool, typer.Option("--once", help="Run one pass and exit.")] = False,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", metavar="MODEL", help="Watch only this model; repeatable."),
    ] = None,
    interval: Annotated[
        float | None,
        typer.Option(
            metavar="SECONDS", min=0.1, help="Pause between passes (default: loop.interval_seconds)."
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    json: JsonOpt = False,
) -> None:
    """Run the maintenance loop alone: monitor, triggers, retraining, gate, promotion (Ctrl-C stops).

    `modelward serve` runs the same loop in the background unless loop.serve is false or --no-loop is given.
    """
    from modelward.maintenance import Loop, PassResult

    with open_workspace(workspace, database_url) as ws:
        loop = Loop(ws, models=model or None, progress=_say)
        loop.check()

        def show(done: PassResult) -> None:
            if json:
                print_json(
                    {
                        "windows": done.windows,
                        "decisions": done.decisions,
                        "jobs": [j.summary() for j in done.jobs],
                        "rollouts": [r.summary() for r in done.rollouts],
                        "errors": done.errors,
                        "leader": done.leader,
                    }
                )
                return
            if not done.leading:
                _say(_follower_line(done.leader))
            for name, n in done.windows.items():
                if n:
                    _say(f"{name}: {n} window{'s' if n != 1 else ''} monitored")
            for job in done.jobs:
                render_job(job)
            for rollout in done.rollouts:
                verdict = (rollout.evaluation or {}).get("verdict") or {}
                _say(f"{rollout.model}: rollout {rollout.id} {rollout.status}: {verdict.get('reason', '')}")

        if once:
            show(loop.run_once())
            return
        previous = signal.signal(signal.SIGTERM, lambda *_: loop.stop.set())
        _say(f"loop running over {', '.join(loop.models()) or 'no model'} (Ctrl-C stops)")
        try:
            loop.run_forever(interval, on_pass=show)
        except KeyboardInterrupt:
            loop.stop.set()
        finally:
            signal.signal(signal.SIGTERM, previous)


def _follower_line(leader: dict[str, Any]) -> str:
    lease = leader.get("lease")
    if lease is None:
        return "this process does not lead the loop: nothing done"
    return (
        f"this process does not lead the loop: {lease['holder']} does (lease epoch {lease['epoch']}, "
        f"until {lease['expires_at']}); nothing done"
    )


# -- models history ---------------------------------------------------------------------------------


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
