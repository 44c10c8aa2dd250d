"""`modelward rollout start|status|abort`: roll a version out by hand, see how a rollout stands, stop it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from modelward.cli._common import DatabaseOpt, JsonOpt, WorkspaceOpt, console, open_workspace, print_json
from modelward.cli._help import App
from modelward.errors import ConfigError
from modelward.rollouts import Rollout

app = App(help="Roll a challenger out (shadow, canary, A/B) and follow the loop's decisions.")

ModelArg = Annotated[str, typer.Argument(metavar="MODEL", help="Model name declared in modelward.yaml.")]
ReasonOpt = Annotated[str | None, typer.Option(metavar="TEXT", help="Why; recorded with the event.")]


def _steps(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise ConfigError(
            f"--steps takes percentages separated by commas, e.g. 5,25,50,100; got {text!r}."
        ) from exc


@app.command("start")
def start_command(
    model: ModelArg,
    version: Annotated[int, typer.Argument(metavar="VERSION", help="The challenger version to roll out.")],
    mode: Annotated[
        str | None,
        typer.Option(
            metavar="MODE", help="canary, shadow, ab or immediate (default: the model's loop.rollout.mode)."
        ),
    ] = None,
    steps: Annotated[
        str | None,
        typer.Option(
            metavar="P1,P2,…", help="Canary steps in percent, e.g. 5,25,50,100 (default: loop.rollout.steps)."
        ),
    ] = None,
    reason: ReasonOpt = None,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    json: JsonOpt = False,
) -> None:
    """Roll MODEL@VERSION out against the champion; the running loop judges it and promotes or rolls back.

    The settings are the model's loop.rollout, with --mode and --steps applied on top. Running servers pick
    the rollout up within serve.reload_poll_seconds. immediate promotes at once.
    """
    from modelward.loop_settings import RolloutSettings
    from modelward.maintenance.rollout import describe, start_rollout

    with open_workspace(workspace, database_url) as ws:
        base = ws.model_spec(model).loop.rollout.model_dump()
        overrides = {k: v for k, v in (("mode", mode), ("steps", _steps(steps))) if v is not None}
        settings = _settings(RolloutSettings, {**base, **overrides})
        rollout = start_rollout(
            ws,
            model,
            version,
            settings=settings,
            actor=ws.settings.actor_name,
            now=dt.datetime.now(dt.UTC),
            reason=reason,
        )
        if rollout is None:
            champion = ws.registry.get(model, "champion")
            if json:
                print_json({"rollout": None, "promoted": champion.version})
            else:
                console.print(f"{model}: v{champion.version} promoted at once (mode immediate)")
            return
    if json:
        print_json({"rollout": rollout.summary()})
    else:
        console.print(f"started {describe(rollout)}", markup=False)


def _settings(cls: Any, values: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"--{where}: {first['msg']} (got {first.get('input')!r}).", details={"option": where}
        ) from exc


@app.command("status")
def status_command(
    model: Annotated[str | None, typer.Argument(metavar="[MODEL]", help="Only this model.")] = None,
    limit: Annotated[int, typer.Option(metavar="N", min=1, help="Finished rollouts shown too.")] = 5,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show active rollouts (or MODEL's) and the latest finished ones: split, step, last evaluation."""
    with open_workspace(workspace, database_url) as ws:
        rollouts = ws.rollouts.latest(model, limit=limit)
        active = [r for r in (ws.rollouts.all_active() if model is None else []) if r not in rollouts]
        shown = sorted({r.id: r for r in [*active, *rollouts]}.values(), key=lambda r: -r.id)
    if json:
        print_json({"rollouts": [r.summary() for r in shown]})
        return
    if not shown:
        console.print("no rollouts" + (f" of {model}" if model else ""))
    for rollout in shown:
        _render(rollout)


def _render(rollout: Rollout) -> None:
    from modelward.maintenance.rollout import describe

    colour = {"running": "cyan", "held": "yellow", "promoted": "green"}.get(rollout.status, "red")
    console.print(f"[{colour}]{rollout.status}[/{colour}] ", end="")
    console.print(describe(rollout), markup=False)
    verdict = (rollout.evaluation or {}).get("verdict")
    if rollout.reason and not rollout.active:
        console.print(f"  {rollout.reason}", markup=False)
    elif verdict:
        console.print(f"  last pass: {verdict['action']}: {verdict['reason']}", markup=False)


@app.command("abort")
def abort_command(
    model: ModelArg,
    reason: ReasonOpt = None,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    json: JsonOpt = False,
) -> None:
    """Stop MODEL's active rollout now: the champion keeps all traffic (servers follow within seconds)."""
    from modelward.maintenance.rollout import abort_rollout

    with open_workspace(workspace, database_url) as ws:
        rollout = abort_rollout(
            ws, model, actor=ws.settings.actor_name, reason=reason, now=dt.datetime.now(dt.UTC)
        )
    if json:
        print_json({"rollout": rollout.summary()})
    else:
        _render(rollout)
