"""The ``modelward`` command: a thin layer over :class:`modelward.Workspace`.

A :class:`~modelward.errors.ModelwardError` becomes a clean message and exit status 1;
anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from modelward import __version__
from modelward.cli import _backtest, _data, _demo, _drift, _loop, _models, _monitor, _rollout, _serve, _ui
from modelward.cli._common import DatabaseOpt, console, err_console, fmt
from modelward.cli._help import App
from modelward.errors import ModelwardError
from modelward.workspace import Workspace

app = App(
    name="modelward",
    help="Keeps machine-learning models healthy after they ship.",
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("demo")(_demo.demo_command)
app.add_typer(_data.app, name="data")
app.add_typer(_models.app, name="models")
app.add_typer(_rollout.app, name="rollout")
app.command("train")(_models.train_command)
app.command("reproduce")(_models.reproduce_command)
app.command("serve")(_serve.serve_command)
app.command("monitor")(_monitor.monitor_command)
app.command("drift")(_drift.drift_command)
app.command("retrain")(_loop.retrain_command)
app.command("gate")(_loop.gate_command)
app.command("loop")(_loop.loop_command)
app.command("backtest")(_backtest.backtest_command)
app.command("ui")(_ui.ui_command)


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"modelward {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """modelward: version, register, serve, monitor and retrain models."""


@app.command("init")
def init(
    directory: Annotated[
        Path,
        typer.Argument(metavar="DIR", help="Workspace directory, created if needed (default: this one)."),
    ] = Path("."),
    database_url: DatabaseOpt = None,
) -> None:
    """Create a workspace: modelward.yaml and .modelward/ (database + artifact store)."""
    with Workspace.init(directory, database_url=database_url) as ws:
        console.print(f"[green]workspace ready[/green] at {ws.root}")
        console.print(f"  settings:  {ws.root / 'modelward.yaml'}")
        console.print(f"  database:  {ws.store.engine.url.render_as_string(hide_password=True)}")
        console.print(f"  artifacts: {ws.artifacts.location}")


@app.command("quickstart")
def quickstart(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="Directory for the demo workspace.")
    ] = Path("demo-workspace"),
    rows: Annotated[int, typer.Option(metavar="N", min=1, help="Rows of demo data to generate.")] = 10_000,
    database_url: DatabaseOpt = None,
) -> None:
    """The main job end to end on the demo data: workspace, dataset, train, register, promote, show."""
    from modelward.demo import DEMO_CONFIG, agrawal_frame

    started = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "modelward.yaml").exists():
        (directory / "modelward.yaml").write_text(DEMO_CONFIG, encoding="utf-8")
    with Workspace.init(directory, database_url=database_url) as ws:
        console.rule("1. workspace")
        console.print(f"{ws.root}  (database: {ws.store.dialect}, artifacts: {ws.artifacts.location})")

        console.rule("2. dataset")
        csv = ws.root / "data" / "agrawal.csv"
        csv.parent.mkdir(exist_ok=True)
        with console.status(f"generating {rows} rows of Agrawal loan data…"):
            agrawal_frame(rows, seed=42).to_csv(csv, index=False)
        dv = ws.datasets.add(csv, "agrawal")
        state = "added" if dv.created else "already present as"
        console.print(f"{state} {dv.ref}: {dv.rows} rows, columns {', '.join(dv.schema)}")

        console.rule("3. train and register")
        with console.status("training credit (RandomForest)…"):
            mv = ws.train("credit", data=dv.ref)
        if mv.created:
            console.print(f"registered [bold]{mv.ref}[/bold]")
        else:
            console.print(
                f"identical to [bold]{mv.ref}[/bold] (same data, code, params, seed and model bytes): "
                "nothing registered"
            )

        console.rule("4. promote")
        champion = ws.registry.list_aliases("credit").get("champion")
        if mv.created or champion is None:
            change = ws.registry.promote(mv.name, mv.version, alias="champion", reason="quickstart")
            console.print(f"credit@champion: {fmt(change.from_version)} → {change.to_version}")
        else:
            console.print(f"credit@champion stays {champion}: nothing new to promote")

        console.rule("5. the champion and its lineage")
        _models.show_version(ws.registry.get("credit", "champion"))
    console.print(f"\nquickstart finished in {time.perf_counter() - started:.1f} s. Try:")
    console.print(f"  modelward -h;  modelward models history credit -w {directory}")


def main() -> None:
    """Console-script entry point."""
    try:
        app(prog_name="modelward")  # also under `python -m modelward`
    except ModelwardError as exc:
        err_console.print("[red]error:[/red] ", end="")
        err_console.print(exc.message, markup=False, soft_wrap=True)
        raise SystemExit(1) from None
