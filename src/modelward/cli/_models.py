"""`modelward models …`, `train` and `reproduce`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from modelward.cli._common import (
    DatabaseOpt,
    JsonOpt,
    WorkspaceOpt,
    console,
    fmt,
    kv_table,
    open_workspace,
    parse_params,
    print_json,
    table,
    to_jsonable,
)
from modelward.cli._help import App
from modelward.errors import ModelwardError
from modelward.refs import parse_ref
from modelward.registry import ModelVersion
from modelward.training import Lineage, LineageError, ReproduceReport

app = App(help="The model registry: versions, aliases, history.")

ModelArg = Annotated[str, typer.Argument(metavar="MODEL", help="Model name.")]
RefArg = Annotated[
    str, typer.Argument(metavar="REF", help="MODEL (the latest version), MODEL@VERSION or MODEL@ALIAS.")
]
AliasOpt = Annotated[
    str, typer.Option(metavar="ALIAS", help="Alias to move (champion, challenger, any name).")
]
ReasonOpt = Annotated[str | None, typer.Option(metavar="TEXT", help="Why; recorded in the history.")]


def show_version(mv: ModelVersion) -> None:
    console.print(
        kv_table(
            f"{mv.ref}",
            {
                "aliases": ", ".join(mv.aliases) or "-",
                "task": mv.task,
                "created": mv.created_at,
                "by": mv.created_by,
                "artifact": f"sha256:{mv.artifact[:16]}… ({mv.serializer})",
                "description": mv.description,
            },
        )
    )
    metrics = Table(title="metrics (holdout)", title_justify="left")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    for key, value in mv.metrics.items():
        metrics.add_row(key, fmt(value))
    console.print(metrics)
    console.print(lineage_table(mv))


def lineage_table(mv: ModelVersion) -> Table | str:
    """The lineage of ``mv`` as a table; a line saying so when it records no training lineage."""
    try:
        lin = Lineage.of(mv)
    except LineageError:
        return "lineage: none recorded (not registered by `modelward train`)"
    code = lin.code
    code_ref = (
        f"git {str(code.commit)[:12]}{' (dirty)' if code.dirty else ''}"
        if code.kind == "git"
        else f"source sha256:{str(code.source_sha256)[:16]}…"
    )
    split = lin.evaluation.split
    return kv_table(
        "lineage",
        {
            "dataset": f"{lin.dataset.ref} (sha256:{lin.dataset.content_hash[:16]}…)",
            "evaluation": f"{lin.evaluation.rows} rows, {split.kind} split, seed {split.seed}",
            "entrypoint": lin.entrypoint,
            "params": ", ".join(f"{k}={v}" for k, v in mv.params.items()) or "-",
            "seed": lin.seed,
            "code": code_ref,
            "python": lin.environment.python,
            "packages": ", ".join(f"{k} {v}" for k, v in lin.environment.packages.items() if v),
            "inputs": ", ".join(f"{c['name']}:{c['type']}" for c in mv.signature.get("inputs", [])),
        },
    )


@app.command("list")
def list_models(
    workspace: WorkspaceOpt = None, database_url: DatabaseOpt = None, json: JsonOpt = False
) -> None:
    """List registered models."""
    with open_workspace(workspace, database_url) as ws:
        models = ws.registry.list_models()
    if json:
        print_json(models)
        return
    console.print(
        table(
            "models",
            ("name", "task", "versions", "latest", "aliases", "description"),
            (
                (
                    m.name,
                    m.task,
                    m.versions,
                    m.latest_version,
                    ", ".join(f"{a}→{v}" for a, v in sorted(m.aliases.items())) or None,
                    m.description,
                )
                for m in models
            ),
        )
    )


@app.command("show")
def show(
    ref: RefArg,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show a model version: metrics, lineage, signature."""
    name, version = parse_ref(ref, "model name")
    with open_workspace(workspace, database_url) as ws:
        mv = ws.registry.get(name, version)
    if json:
        print_json(mv)
    else:
        show_version(mv)


@app.command("promote")
def promote(
    name: ModelArg,
    version: Annotated[
        int, typer.Argument(metavar="VERSION", help="Version number the alias will point at.")
    ],
    alias: AliasOpt = "champion",
    reason: ReasonOpt = None,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Point an alias (default: champion) at a version."""
    with open_workspace(workspace, database_url) as ws:
        change = ws.registry.promote(name, version, alias=alias, reason=reason)
    console.print(f"{name}@{alias}: {fmt(change.from_version)} → {change.to_version}")


@app.command("rollback")
def rollback(
    name: ModelArg,
    alias: AliasOpt = "champion",
    reason: ReasonOpt = None,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Return an alias to the version that held it before."""
    with open_workspace(workspace, database_url) as ws:
        change = ws.registry.rollback(name, alias=alias, reason=reason)
    console.print(f"{name}@{alias}: {fmt(change.from_version)} → {change.to_version} (rolled back)")


@app.command("history")
def history(
    name: ModelArg,
    alias: Annotated[str | None, typer.Option(metavar="ALIAS", help="Only this alias's changes.")] = None,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    json: JsonOpt = False,
) -> None:
    """Every alias change (when, from, to, who, why) and the loop's decisions with their evidence."""
    from modelward.cli.narration import history_entries

    with open_workspace(workspace, database_url) as ws:
        changes = ws.registry.history(name, alias)
        loop = [] if alias is not None else history_entries(ws.registry.events(name))
    if json:  # alias changes as before, then the loop's events, in time order
        print_json(sorted([to_jsonable(e) for e in (*changes, *loop)], key=lambda e: str(e["ts"])))
        return
    console.print(
        table(
            f"{name}: alias history",
            ("when (UTC)", "alias", "from", "to", "actor", "kind", "reason"),
            ((c.ts, c.alias, c.from_version, c.to_version, c.actor, c.kind, c.reason) for c in changes),
        )
    )
    if loop:
        console.print(f"\n{name}: the loop's decisions", style="bold")
        for entry in loop:
            console.print(f"{fmt(entry['ts'])}  {entry['summary']}", markup=False, highlight=False)
            for line in entry["evidence"]:
                console.print(f"    {line}", markup=False, highlight=False)


@app.command("tag")
def tag(
    ref: Annotated[
        str, typer.Argument(metavar="REF", help="MODEL (tags the model) or MODEL@VERSION (tags one version).")
    ],
    tags: Annotated[list[str], typer.Argument(metavar="KEY=VALUE", help="Tags to set.")],
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Set tags on a model or one version."""
    name, version = parse_ref(ref, "model name")
    if isinstance(version, str):
        raise ModelwardError("Tag a model (NAME) or a numbered version (NAME@3), not an alias.")
    values = {k: str(v) for k, v in parse_params(tags).items()}
    with open_workspace(workspace, database_url) as ws:
        ws.registry.set_tags(name, version, values)
    console.print(f"tagged {ref}: " + ", ".join(f"{k}={v}" for k, v in values.items()))


def train_command(
    model: Annotated[str, typer.Argument(metavar="MODEL", help="Model name declared in modelward.yaml.")],
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            metavar="DATASET",
            help="Dataset NAME or NAME@VERSION (default: the model's, latest version).",
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", metavar="KEY=VALUE", help="Override a training parameter; repeatable."),
    ] = None,
    description: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Description of the new version.")
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Register a new version even when it is identical to an existing one."),
    ] = False,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    json: JsonOpt = False,
) -> None:
    """Train a declared model, evaluate it on the holdout and register a new version.

    A training identical to an existing version's (same data, code, entrypoint, params and seed,
    and the same model bytes) registers nothing and names that version; --force registers anyway.
    """
    params = parse_params(param)
    with open_workspace(workspace, database_url) as ws, console.status(f"training {model}…"):
        mv = ws.train(model, data=data, params=params, description=description, force=force)
    if json:
        print_json(mv)
    elif mv.created:
        console.print(f"[green]registered {mv.ref}[/green]")
        show_version(mv)
    else:
        console.print(identical_message(mv))


def identical_message(mv: ModelVersion) -> str:
    """What `train` says when the training made a version that already exists."""
    return (
        f"identical to {mv.ref} (same data, code, entrypoint, params and seed, and the same model bytes): "
        "nothing registered. Pass --force to register a new version anyway."
    )


def reproduce_command(
    ref: Annotated[str, typer.Argument(metavar="REF", help="MODEL@VERSION or MODEL@ALIAS to retrain.")],
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    json: JsonOpt = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit with status 1 unless predictions are identical.")
    ] = False,
) -> None:
    """Retrain a version from its lineage and compare predictions with the original."""
    name, version = parse_ref(ref, "model name")
    with open_workspace(workspace, database_url) as ws, console.status(f"reproducing {ref}…"):
        report = ws.reproduce(name, version)
    if json:
        print_json(report)
    else:
        render_reproduce(report)
    if strict and not report.identical:
        raise typer.Exit(code=1)


def render_reproduce(report: ReproduceReport) -> None:
    if report.identical:
        console.print(
            f"[green]{report.ref} reproduced: predictions identical on {report.rows_compared} evaluation rows[/green]"
        )
    else:
        console.print(
            f"[yellow]{report.ref} differs: largest prediction difference {report.max_abs_difference:.6g} "
            f"on {report.rows_compared} evaluation rows[/yellow]"
        )
    if report.differences:
        table = Table(title="lineage that differs now", title_justify="left")
        for col in ("element", "recorded", "now"):
            table.add_column(col)
        for key, diff in report.differences.items():
            table.add_row(key, fmt(diff["recorded"]), fmt(diff["now"]))
        console.print(table)
    else:
        console.print("lineage: code, packages and data all match the record")
