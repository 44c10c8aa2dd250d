"""`modelward backtest`: replay labeled history under three policies (never, scheduled, the loop) side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from modelward.cli._common import DatabaseOpt, WorkspaceOpt, console, err_console, open_workspace, table

ModelArg = Annotated[str, typer.Argument(metavar="MODEL", help="Model name declared in modelward.yaml.")]


def backtest_command(
    model: ModelArg,
    data: Annotated[
        Path,
        typer.Option(
            "--data",
            metavar="FILE",
            help="Labeled, time-ordered rows to replay (CSV/TSV, optionally .gz, or Parquet).",
        ),
    ],
    label_delay: Annotated[
        int, typer.Option("--label-delay", metavar="ROWS", help="A row's label arrives this many rows later.")
    ] = 500,
    every: Annotated[
        int,
        typer.Option("--every", metavar="ROWS", help="The scheduled policy retrains every this many rows."),
    ] = 2000,
    time_column: Annotated[
        str | None,
        typer.Option(
            "--time-column",
            metavar="COL",
            help="Arrival time of each row (rows are sorted by it); default: rate.",
        ),
    ] = None,
    rate: Annotated[
        float,
        typer.Option(
            "--rate",
            metavar="ROWS_PER_S",
            help="Without a time column, row i arrives at t0 + i / rate seconds.",
        ),
    ] = 1.0,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Seed of NumPy's global generator.")] = 0,
    policies: Annotated[
        str,
        typer.Option(
            "--policies",
            metavar="LIST",
            help="Comma-separated policies to replay, among never,scheduled,loop.",
        ),
    ] = "never,scheduled,loop",
    rollout: Annotated[
        str | None,
        typer.Option(
            "--rollout",
            metavar="MODE",
            help="The loop's rollout mode in this replay (canary, shadow, ab, immediate); "
            "default: the model's loop.rollout.mode.",
        ),
    ] = None,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            metavar="N",
            min=1,
            help="Policies replayed at once, each in a process of its own (same results).",
        ),
    ] = 1,
    attribution: Annotated[
        bool,
        typer.Option(
            "--attribution",
            help="Compute every window's attribution drift as the live monitor does (off by default: it "
            "explains a few hundred rows per simulated window, seconds each for a deep forest).",
        ),
    ] = False,
    json_out: Annotated[
        Path | None,
        typer.Option("--json", metavar="OUT", help="Write the results as JSON here ('-': stdout)."),
    ] = None,
    html_out: Annotated[
        Path | None,
        typer.Option("--html", metavar="OUT", help="Write a self-contained HTML page: curves and events."),
    ] = None,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Replay FILE from MODEL's champion under three policies: never (frozen), scheduled (retrain every --every
    rows, no gate) and loop (the model's loop policy: the live triggers, retraining, gate and rollout, on a
    simulated clock). The workspace is only read: each policy runs on a scratch copy."""
    from modelward.datasets import read_table
    from modelward.maintenance.backtest import backtest, render_html, rollout_note

    chosen = [p.strip() for p in policies.split(",") if p.strip()]
    frame = read_table(data)
    with open_workspace(workspace, database_url) as ws, _progress() as bar:
        note = rollout_note(ws, model, rollout) if "loop" in chosen else None
        if note is not None:
            err_console.print(f"note: {note}", markup=False)
        tasks = {p: bar.add_task(p, total=len(frame)) for p in chosen}
        result = backtest(
            ws,
            model,
            frame,
            label_delay=label_delay,
            every=every,
            time_column=time_column,
            rate=rate,
            seed=seed,
            policies=chosen,
            rollout=rollout,
            jobs=jobs,
            attribution=attribution,
            progress=lambda policy, done, _n: bar.update(tasks[policy], completed=done),
        )
    doc = result.to_dict()
    if json_out is not None:
        text = json.dumps(doc, indent=2)
        if str(json_out) == "-":
            print(text)
        else:
            json_out.write_text(text + "\n", encoding="utf-8")
            err_console.print(f"wrote {json_out}")
    if html_out is not None:
        html_out.write_text(render_html(result), encoding="utf-8")
        err_console.print(f"wrote {html_out}")
    if json_out is None or str(json_out) != "-":
        metric = f"prequential {result.metric}"
        rows = [
            (
                name,
                f"{p.value:.4f}",
                p.retrains,
                p.promotions,
                p.rollbacks,
                p.worse_promotions,
                p.rollout_rows,
            )
            for name, p in result.policies.items()
        ]
        console.print(
            table(
                f"backtest of {model} from v{result.champion}: {result.rows} rows, labels {label_delay} rows late",
                ["policy", metric, "retrains", "promoted", "rollbacks", "worse", "rollout rows"],
                rows,
            )
        )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:>9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
