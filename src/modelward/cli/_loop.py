"""`modelward retrain`, `modelward gate`, `modelward loop` (their events read as modelward.cli.narration says)."""

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
from modelward.cli.narration import gate_lines
from modelward.errors import ConflictError, ModelwardError
from modelward.jobs import RetrainJob

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
