"""`modelward monitor MODEL`: windows of the prediction log against the model's reference."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.status import Status
from rich.table import Table

from modelward.cli._common import DatabaseOpt, WorkspaceOpt, configure_logging, console, fmt
from modelward.errors import ConfigError
from modelward.workspace import Workspace

if TYPE_CHECKING:
    from modelward.maintenance import Monitor, MonitorGauges, MonitorPass, WindowResult
    from modelward.monitoring import MetricEstimate, WindowReport

_JSON_KEEP = 1000  # windows kept in --json by a long-running loop


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def _interval(m: MetricEstimate | None) -> str:
    if m is None or _num(m.value) is None:
        return "-"
    lo, hi = _num(m.lower), _num(m.upper)
    bounds = f" [{fmt(lo)}, {fmt(hi)}]" if lo is not None and hi is not None else ""
    return f"{fmt(m.value)}{bounds}"


def _drift_lines(report: WindowReport) -> None:
    drifted = [] if report.drift is None else [f for f in report.drift.features if f.drifted]
    if drifted:
        table = Table(title="drifted features", title_justify="left")
        for col in ("feature", "method", "effect size", "p (adjusted)"):
            table.add_column(col, justify="left" if col in ("feature", "method") else "right")
        for f in drifted:
            table.add_row(
                f.column,
                str(f.method),
                f"{fmt(_num(f.effect_size))} {f.effect_measure or ''}",
                fmt(_num(f.p_value_adjusted)),
            )
        console.print(table)
    for q in [] if report.drift is None else report.drift.quality:
        colour = "red" if q.severity == "error" else "yellow"
        console.print(
            f"  [{colour}]{q.severity}[/{colour}] {q.check}: {q.message}", markup=True, highlight=False
        )
    mv = report.multivariate
    if mv is not None:
        state = "[red]drift[/red]" if mv.drifted else "no drift"
        top = mv.top_features(5)
        separating = f"; separating features: {', '.join(top)}" if mv.drifted and top else ""
        console.print(
            f"  multivariate (domain classifier): {state}, AUC {fmt(mv.auc)}, p {fmt(mv.p_value)}{separating}"
        )
    outputs = [] if report.prediction_drift is None else report.prediction_drift.report.drifted_features
    if outputs:
        console.print(f"  [yellow]prediction drift[/yellow] in {', '.join(outputs)}")


def _performance_lines(report: WindowReport) -> None:
    metrics = sorted(set(report.estimated) | set(report.realized))
    if metrics:
        table = Table(
            title="performance: estimated (no labels) vs realized (labeled rows)", title_justify="left"
        )
        for col in ("metric", "estimated", "realized", "labeled rows"):
            table.add_column(col, justify="left" if col == "metric" else "right")
        for name in metrics:
            real = report.realized.get(name)
            table.add_row(
                name, _interval(report.estimated.get(name)), _interval(real), fmt(real.n) if real else "-"
            )
        console.print(table)
    for note in report.notes:
        console.print(f"  note: {note}", markup=False)


def render_window(result: WindowResult) -> None:
    """One processed window: verdict, drifted features, quality findings, estimated vs realized."""
    report, w = result.report, result.window
    verdict = "[red]DATASET DRIFT[/red]" if report.dataset_drift else "[green]no dataset drift[/green]"
    share = report.drifted_share
    console.rule(
        f"{result.model}@{result.version}  {w.start_ts.isoformat()[:19]} → {w.end_ts.isoformat()[:19]}",
        align="left",
    )
    console.print(
        f"{report.n_rows} predictions ({report.n_labeled} labeled) · {verdict}"
        + (f" · {share:.0%} of features drifted" if share is not None else "")
        + f" · {round(result.timings.get('total', 0), 4):.2f} s"
    )
    _drift_lines(report)
    _performance_lines(report)


def _show(ws: Workspace, model: str, last: int, metric: str | None) -> None:
    results = ws.monitoring_results
    runs = list(reversed(results.runs(model, limit=last)))
    if not runs:
        console.print(f"No monitored windows of {model} yet. Run `modelward monitor {model} --once`.")
        return
    series = results.history(model, since=runs[0].end_ts)
    series = series[series["run_id"].isin([r.id for r in runs])]
    perf = series[series["kind"].isin(["realized", "estimated"])]
    names = sorted(set(perf["name"]))
    if metric is None:
        metric = next((m for m in ("accuracy", "mae") if m in names), names[0] if names else None)
    elif metric not in names:
        raise ConfigError(f"No stored metric {metric!r} for {model}; stored: {', '.join(names) or 'none'}.")
    drifted = series[(series["kind"] == "drift") & (series["name"] == "drifted") & (series["value"] == 1)]
    title = f"{model}: last {len(runs)} windows" + (
        f"; {metric} estimated (no labels) / realized" if metric else ""
    )
    table = Table(title=title, title_justify="left")
    for col in ("version", "window (UTC)", "rows", "labeled", "drift", "drifted features"):
        table.add_column(
            col,
            justify="right" if col in ("version", "rows", "labeled") else "left",
            no_wrap=col == "window (UTC)",
        )
    if metric is not None:
        table.add_column("estimated", justify="right")
        table.add_column("realized", justify="right")
    for run in runs:
        features = ", ".join(drifted[drifted["run_id"] == run.id]["feature"].astype(str)) or "-"
        end = run.end_ts.strftime(
            "%H:%M:%S" if run.end_ts.date() == run.start_ts.date() else "%Y-%m-%d %H:%M:%S"
        )
        cells = [
            str(run.version),
            f"{fmt(run.start_ts)} → {end}",
            str(run.n_rows),
            str(run.n_labeled),
            "[red]yes[/red]" if run.dataset_drift else "no",
            features,
        ]
        if metric is not None:
            sel = perf[(perf["run_id"] == run.id) & (perf["name"] == metric)].set_index("kind")["value"]
            cells += [
                fmt(sel["estimated"]) if "estimated" in sel else "-",
                fmt(sel["realized"]) if "realized" in sel else "-",
            ]
        table.add_row(*cells)
    console.print(table)


class _PassOutput:
    """What the command prints and writes after each pass: windows, refreshed labels, textfile, HTML, JSON."""

    def __init__(
        self,
        model: str,
        gauges: MonitorGauges,
        textfile: str | None,
        html: Path | None,
        json_out: Path | None,
    ) -> None:
        self.model, self.gauges, self.textfile, self.html, self.json_out = (
            model,
            gauges,
            textfile,
            html,
            json_out,
        )
        self.written: list[dict[str, Any]] = []

    def __call__(self, done: MonitorPass) -> None:
        for w in done.windows:
            render_window(w)
        for r in done.relabeled:
            console.print(
                f"labels arrived for {self.model}@{r.run.version} window {fmt(r.run.start_ts)}: "
                f"realized metrics recomputed on {r.n_labeled} labeled rows"
            )
        if self.textfile:
            self.gauges.write_textfile(self.textfile)
        if self.html is not None and done.windows:
            page = done.windows[-1].html()
            if page is not None:
                self.html.write_text(page, encoding="utf-8")
                console.print(f"HTML report of the latest window: {self.html}")
        if self.json_out is not None:
            self.written.extend(w.summary() for w in done.windows)
            del self.written[:-_JSON_KEEP]  # a long-running loop keeps the latest windows only
            relabeled = [
                {
                    "run_id": r.run.id,
                    "n_labeled": r.n_labeled,
                    "realized": {k: m.to_dict() for k, m in r.realized.items()},
                    "estimated": {k: m.to_dict() for k, m in r.estimated.items()},
                }
                for r in done.relabeled
            ]
            payload = {"model": self.model, "windows": self.written, "relabeled": relabeled}
            self.json_out.write_text(json.dumps(payload, indent=2, allow_nan=False), encoding="utf-8")


def _run(monitor: Monitor, output: _PassOutput, once: bool, status: Status) -> None:
    """One pass (``--once``) or the loop until Ctrl-C, with a spinner between passes."""
    if once:
        status.start()
        try:
            done = monitor.run_once()
        finally:
            status.stop()
        output(done)
        if not done.windows and not done.relabeled:
            console.print("no complete window to process yet")
        return
    stop = threading.Event()

    def on_pass(done: MonitorPass) -> None:
        status.stop()
        output(done)
        status.start()

    try:
        status.start()
        monitor.run_forever(stop=stop, on_pass=on_pass)
    except KeyboardInterrupt:
        stop.set()
    finally:
        status.stop()


def monitor_command(
    model: Annotated[str, typer.Argument(help="Model whose logged predictions to monitor.")],
    window: Annotated[
        str | None,
        typer.Option(
            help="Window: a duration (30s, 15m, 1h, 1d) or a row count (5000). Default: monitor.window (1h)."
        ),
    ] = None,
    slide: Annotated[
        str | None, typer.Option(help="Step between window starts (sliding windows); default: tumbling.")
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Process the complete windows not processed yet, then exit.")
    ] = False,
    interval: Annotated[
        float | None,
        typer.Option(help="Seconds between passes when looping (default: monitor.interval_seconds)."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve the Prometheus gauges on this port (/metrics).", min=0, max=65535),
    ] = None,
    metrics_addr: Annotated[str, typer.Option(help="Interface of the metrics server.")] = "127.0.0.1",
    textfile: Annotated[
        Path | None, typer.Option(help="Also write the gauges to this file (Prometheus textfile format).")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the processed windows (summaries) to this JSON file.")
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Write the latest processed window as a self-contained HTML report."),
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

    flags = {
        "window": window,
        "slide": slide,
        "interval_seconds": interval,
        "textfile": None if textfile is None else str(textfile),
    }
    overrides: dict[str, Any] = {"database_url": database_url}
    monitor_flags = {k: v for k, v in flags.items() if v is not None}
    if monitor_flags:
        overrides["monitor"] = monitor_flags
    with Workspace.open(
        workspace or Path.cwd(), **{k: v for k, v in overrides.items() if v is not None}
    ) as ws:
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
        console.print(
            f"monitoring {model}: {monitor.spec.describe()}"
            + ("" if once else f", every {settings.interval_seconds:g} s (Ctrl-C stops)")
        )
        if not once and interval is not None and interval <= 0:
            raise ConfigError(f"--interval must be positive, got {interval}.")
        _run(monitor, _PassOutput(model, gauges, settings.textfile, html, json_out), once, status)
