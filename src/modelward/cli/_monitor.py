"""`modelward monitor MODEL`: windows of the prediction log against the model's reference."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from modelward.cli._common import DatabaseOpt, WorkspaceOpt, configure_logging, console, fmt
from modelward.errors import ConfigError
from modelward.workspace import Workspace

_JSON_KEEP = 1000  # windows kept in --json by a long-running loop


def _interval(m: dict[str, Any] | None) -> str:
    if not m or m.get("value") is None:
        return "-"
    lo, hi = m.get("lower"), m.get("upper")
    bounds = f" [{fmt(lo)}, {fmt(hi)}]" if lo is not None and hi is not None else ""
    return f"{fmt(m['value'])}{bounds}"


def render_window(summary: dict[str, Any]) -> None:
    """One processed window: verdict, drifted features, quality findings, estimated vs realized."""
    w = summary["window"]
    verdict = "[red]DATASET DRIFT[/red]" if summary["dataset_drift"] else "[green]no dataset drift[/green]"
    share = summary.get("drifted_share")
    console.rule(f"{summary['model']}@{summary['version']}  {w['start'][:19]} → {w['end'][:19]}", align="left")
    console.print(f"{summary['n_rows']} predictions ({summary['n_labeled']} labeled) · {verdict}"
                  + (f" · {share:.0%} of features drifted" if share is not None else "")
                  + f" · {summary['timings'].get('total', 0):.2f} s")
    drift = summary.get("_features") or []
    if drift:
        table = Table(title="drifted features", title_justify="left")
        for col in ("feature", "method", "effect size", "p (adjusted)"):
            table.add_column(col, justify="left" if col in ("feature", "method") else "right")
        for f in drift:
            table.add_row(f["column"], str(f["method"]), f"{fmt(f['effect_size'])} {f.get('effect_measure') or ''}",
                          fmt(f.get("p_value_adjusted")))
        console.print(table)
    for q in summary.get("quality") or []:
        colour = "red" if q.get("severity") == "error" else "yellow"
        console.print(f"  [{colour}]{q.get('severity')}[/{colour}] {q.get('check')}: {q.get('message')}",
                      markup=True, highlight=False)
    mv = summary.get("multivariate")
    if mv:
        state = "[red]drift[/red]" if mv["drifted"] else "no drift"
        top = f"; separating features: {', '.join(mv['top_features'])}" if mv["drifted"] and mv["top_features"] else ""
        console.print(f"  multivariate (domain classifier): {state}, AUC {fmt(mv['auc'])}, p {fmt(mv['p_value'])}{top}")
    if summary.get("prediction_drift"):
        console.print(f"  [yellow]prediction drift[/yellow] in {', '.join(summary['prediction_drift'])}")
    metrics = sorted(set(summary.get("estimated") or {}) | set(summary.get("realized") or {}))
    if metrics:
        table = Table(title="performance: estimated (no labels) vs realized (labeled rows)", title_justify="left")
        for col in ("metric", "estimated", "realized", "labeled rows"):
            table.add_column(col, justify="left" if col == "metric" else "right")
        for name in metrics:
            real = (summary.get("realized") or {}).get(name)
            table.add_row(name, _interval((summary.get("estimated") or {}).get(name)), _interval(real),
                          fmt(real.get("n")) if real else "-")
        console.print(table)
    for note in summary.get("notes") or []:
        console.print(f"  note: {note}", markup=False)


def _summaries(done: Any) -> list[dict[str, Any]]:
    out = []
    for w in done.windows:
        s = w.summary()
        drift = w.analysis.drift
        s["_features"] = [] if drift is None else [f.to_dict() for f in drift.features if f.drifted]
        out.append(s)
    return out


def _show(ws: Workspace, model: str, last: int, metric: str | None) -> None:
    from modelward.maintenance import history, list_runs

    runs = list(reversed(list_runs(ws.store, model, limit=last)))
    if not runs:
        console.print(f"No monitored windows of {model} yet. Run `modelward monitor {model} --once`.")
        return
    series = history(ws.store, model, since=runs[0].end_ts)
    series = series[series["run_id"].isin([r.id for r in runs])]
    perf = series[series["kind"].isin(["realized", "estimated"])]
    names = sorted(set(perf["name"]))
    if metric is None:
        metric = next((m for m in ("accuracy", "mae") if m in names), names[0] if names else None)
    elif metric not in names:
        raise ConfigError(f"No stored metric {metric!r} for {model}; stored: {', '.join(names) or 'none'}.")
    drifted = series[(series["kind"] == "drift") & (series["name"] == "drifted") & (series["value"] == 1)]
    title = f"{model}: last {len(runs)} windows" + (f"; {metric} estimated (no labels) / realized" if metric else "")
    table = Table(title=title, title_justify="left")
    for col in ("version", "window (UTC)", "rows", "labeled", "drift", "drifted features"):
        table.add_column(col, justify="right" if col in ("version", "rows", "labeled") else "left",
                         no_wrap=col == "window (UTC)")
    if metric is not None:
        table.add_column("estimated", justify="right")
        table.add_column("realized", justify="right")
    for run in runs:
        features = ", ".join(drifted[drifted["run_id"] == run.id]["feature"].astype(str)) or "-"
        end = run.end_ts.strftime("%H:%M:%S" if run.end_ts.date() == run.start_ts.date() else "%Y-%m-%d %H:%M:%S")
        cells = [str(run.version), f"{fmt(run.start_ts)} → {end}", str(run.n_rows), str(run.n_labeled),
                 "[red]yes[/red]" if run.dataset_drift else "no", features]
        if metric is not None:
            sel = perf[(perf["run_id"] == run.id) & (perf["name"] == metric)].set_index("kind")["value"]
            cells += [fmt(sel["estimated"]) if "estimated" in sel else "-",
                      fmt(sel["realized"]) if "realized" in sel else "-"]
        table.add_row(*cells)
    console.print(table)


def monitor_command(
    model: Annotated[str, typer.Argument(help="Model whose logged predictions to monitor.")],
    window: Annotated[
        str | None, typer.Option(help="Window: a duration (30s, 15m, 1h, 1d) or a row count (5000). "
                                 "Default: monitor.window (1h).")
    ] = None,
    slide: Annotated[
        str | None, typer.Option(help="Step between window starts (sliding windows); default: tumbling.")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Process the complete windows not processed yet, then exit.")]
    = False,
    interval: Annotated[
        float | None, typer.Option(help="Seconds between passes when looping (default: monitor.interval_seconds).")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve the Prometheus gauges on this port (/metrics).", min=0, max=65535)
    ] = None,
    metrics_addr: Annotated[str, typer.Option(help="Interface of the metrics server.")] = "127.0.0.1",
    textfile: Annotated[
        Path | None, typer.Option(help="Also write the gauges to this file (Prometheus textfile format).")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the processed windows (summaries) to this JSON file.")
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the latest processed window as a self-contained HTML report.")
    ] = None,
    show: Annotated[bool, typer.Option("--show", help="Print the stored time series and exit.")] = False,
    last: Annotated[int, typer.Option(help="Windows shown by --show.", min=1)] = 20,
    metric: Annotated[
        str | None, typer.Option(help="Metric shown by --show (default: accuracy or mae).")
    ] = None,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Monitor MODEL's logged predictions window by window: drift, data quality, performance.

    Stores every window's results as a time series and exports Prometheus gauges.
    """
    from modelward.maintenance import Monitor, MonitorGauges

    flags = {"window": window, "slide": slide, "interval_seconds": interval,
             "textfile": None if textfile is None else str(textfile)}
    overrides: dict[str, Any] = {"database_url": database_url}
    monitor_flags = {k: v for k, v in flags.items() if v is not None}
    if monitor_flags:
        overrides["monitor"] = monitor_flags
    with Workspace.open(workspace or Path.cwd(), **{k: v for k, v in overrides.items() if v is not None}) as ws:
        configure_logging(ws.settings.log_level)
        if show:
            _show(ws, model, last, metric)
            return
        settings = ws.settings.monitor
        gauges = MonitorGauges(top_k=settings.top_k_features)
        status = console.status("starting…")
        monitor = Monitor(ws, model, gauges=gauges, progress=lambda msg: status.update(msg))
        if metrics_port is not None:
            port = gauges.serve(metrics_port, metrics_addr)
            console.print(f"Prometheus gauges at http://{metrics_addr}:{port}/metrics")
        console.print(f"monitoring {model}: {monitor.spec.describe()}"
                      + ("" if once else f", every {settings.interval_seconds:g} s (Ctrl-C stops)"))
        written: list[dict[str, Any]] = []

        def on_pass(done: Any) -> None:
            status.stop()
            summaries = _summaries(done)
            for s in summaries:
                render_window(s)
            for r in done.relabeled:
                console.print(f"labels arrived for {model}@{r.run.version} window {fmt(r.run.start_ts)}: "
                              f"realized metrics recomputed on {r.n_labeled} labeled rows")
            if settings.textfile:
                gauges.write_textfile(settings.textfile)
            if html is not None and done.windows:
                page = done.windows[-1].html(ws.registry.get(model, done.windows[-1].version).task)
                if page is not None:
                    html.write_text(page, encoding="utf-8")
                    console.print(f"HTML report of the latest window: {html}")
            if json_out is not None:
                written.extend({k: v for k, v in s.items() if k != "_features"} for s in summaries)
                del written[:-_JSON_KEEP]  # a long-running loop keeps the latest windows only
                payload = {"model": model, "windows": written,
                           "relabeled": [{"run_id": r.run.id, "n_labeled": r.n_labeled, "realized": r.realized,
                                          "estimated": r.estimated} for r in done.relabeled]}
                json_out.write_text(json.dumps(payload, indent=2, allow_nan=False), encoding="utf-8")

        if once:
            status.start()
            try:
                done = monitor.run_once()
            finally:
                status.stop()
            on_pass(done)
            if not done.windows and not done.relabeled:
                console.print("no complete window to process yet")
            return
        if interval is not None and interval <= 0:
            raise ConfigError(f"--interval must be positive, got {interval}.")
        stop = threading.Event()

        def on_loop_pass(done: Any) -> None:
            on_pass(done)
            status.start()

        try:
            status.start()
            monitor.run_forever(stop=stop, on_pass=on_loop_pass)
        except KeyboardInterrupt:
            stop.set()
        finally:
            status.stop()
