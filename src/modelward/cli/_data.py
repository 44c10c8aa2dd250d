"""`modelward data …`: dataset versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from modelward.cli._common import (
    DatabaseOpt,
    JsonOpt,
    WorkspaceOpt,
    console,
    fmt,
    kv_table,
    open_workspace,
    print_json,
    table,
)
from modelward.cli._help import App
from modelward.datasets import DatasetVersion
from modelward.errors import ModelwardError
from modelward.refs import parse_ref
from modelward.workspace import Workspace

app = App(help="Datasets: immutable, content-addressed versions.")


def _get(ws: Workspace, ref: str) -> DatasetVersion:
    name, version = parse_ref(ref, "dataset name")
    if isinstance(version, str):
        raise ModelwardError(f"Datasets have numbered versions, not aliases: {ref!r}. Use NAME@VERSION.")
    return ws.datasets.get(name, version)


@app.command("add")
def add(
    path: Annotated[
        Path, typer.Argument(metavar="FILE", help="CSV/TSV (optionally .gz) or Parquet file to snapshot.")
    ],
    name: Annotated[str, typer.Option("--name", "-n", metavar="NAME", help="Dataset name.")],
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    json: JsonOpt = False,
) -> None:
    """Snapshot a CSV or Parquet file as a new dataset version (identical content: the existing one)."""
    with open_workspace(workspace, database_url) as ws, console.status(f"adding {path}…"):
        dv = ws.datasets.add(path, name)
    if json:
        print_json(dv)
    elif dv.created:
        console.print(
            f"[green]added {dv.ref}[/green]: {dv.rows} rows, {len(dv.schema)} columns, "
            f"sha256:{dv.content_hash[:16]}…"
        )
    else:
        console.print(f"unchanged: {path} has the same content as {dv.ref} (sha256:{dv.content_hash[:16]}…)")


@app.command("list")
def list_datasets(
    workspace: WorkspaceOpt = None, database_url: DatabaseOpt = None, json: JsonOpt = False
) -> None:
    """List datasets with their latest version."""
    with open_workspace(workspace, database_url) as ws:
        items = ws.datasets.list_datasets()
    if json:
        print_json(items)
        return
    console.print(
        table(
            "datasets",
            ("name", "latest", "rows", "columns", "created (UTC)", "source"),
            ((d.name, d.version, d.rows, len(d.schema), d.created_at, d.source) for d in items),
        )
    )


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(metavar="DATASET", help="NAME (the latest version) or NAME@VERSION.")],
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show a dataset version: schema and per-column statistics."""
    with open_workspace(workspace, database_url) as ws:
        dv = _get(ws, ref)
    if json:
        print_json(dv)
        return
    console.print(
        kv_table(
            dv.ref,
            {
                "rows": dv.rows,
                "content": f"sha256:{dv.content_hash}",
                "source": dv.source,
                "parent": f"{dv.name}@{dv.parent_version}" if dv.parent_version else None,
                "created": dv.created_at,
                "by": dv.created_by,
            },
        )
    )
    console.print(
        table(
            "columns",
            ("column", "type", "missing", "summary"),
            (
                (col, kind, dv.stats.get(col, {}).get("missing"), _summary(kind, dv.stats.get(col, {})))
                for col, kind in dv.schema.items()
            ),
        )
    )


def _summary(kind: str, st: dict[str, Any]) -> str:
    if kind == "numeric":
        return f"mean {fmt(st.get('mean'))}, std {fmt(st.get('std'))}, min {fmt(st.get('min'))}, max {fmt(st.get('max'))}"
    if kind in ("categorical", "boolean"):
        top = st.get("top") or []
        shown = ", ".join(f"{t[0]}:{t[1]}" if isinstance(t, list | tuple) else str(t) for t in list(top)[:5])
        return f"{fmt(st.get('n_unique'))} values; top {shown}"
    if kind == "datetime":
        return f"{fmt(st.get('min'))} … {fmt(st.get('max'))}"
    return f"{fmt(st.get('n_unique'))} distinct"


@app.command("diff")
def diff(
    a: Annotated[str, typer.Argument(metavar="A", help="The version compared from: NAME@VERSION.")],
    b: Annotated[str, typer.Argument(metavar="B", help="The version compared to: NAME@VERSION.")],
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
    json: JsonOpt = False,
) -> None:
    """Compare two dataset versions: schema, row counts, per-column statistics."""
    with open_workspace(workspace, database_url) as ws:
        va, vb = _get(ws, a), _get(ws, b)
        result = ws.datasets.diff(va, vb)
    if json:
        print_json(result)
        return
    rows = result["rows"]
    console.print(f"rows: {rows['a']} → {rows['b']} ({rows['change']:+d})")
    for label, key in (("added columns", "added_columns"), ("removed columns", "removed_columns")):
        if result[key]:
            console.print(f"{label}: {', '.join(result[key])}")
    for col, change in result["type_changes"].items():
        console.print(f"type of {col}: {change['a']} → {change['b']}")
    changed = table(
        "changed statistics",
        ("column", "statistic", va.ref, vb.ref),
        (
            (col, stat, pair.get("a"), pair.get("b"))
            for col, stats in result["columns"].items()
            for stat, pair in stats.items()
        ),
    )
    if changed.row_count:
        console.print(changed)
    else:
        console.print("no per-column statistic changed")


@app.command("demo")
def demo(
    path: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="Where to write: .csv or .parquet (with the 'approved' label), or .json (a predict request "
            'body {"instances": [...]}, features only).',
        ),
    ],
    rows: Annotated[int, typer.Option(metavar="N", min=1, help="Number of rows.")] = 5_000,
    seed: Annotated[int, typer.Option(metavar="N", help="Seed: the same seed gives the same rows.")] = 42,
    concept: Annotated[
        int,
        typer.Option(
            metavar="N",
            min=0,
            max=9,
            help="Which of river's ten approval rules labels the rows: change it to simulate concept drift.",
        ),
    ] = 2,
) -> None:
    """Write demo loan data (river's Agrawal generator, made locally: nothing is downloaded).

    Columns salary, commission, age, elevel, car, zipcode, hvalue, hyears and loan, and the 0/1
    label approved. The data the quickstart and the README's tour train on.
    """
    from modelward.demo import TARGET, agrawal_frame, write_frame

    frame = agrawal_frame(rows, seed=seed, function=concept)
    if path.suffix.lower() == ".json":
        frame = frame.drop(columns=[TARGET])
    write_frame(frame, path)
    console.print(f"wrote {len(frame)} rows to {path}")
