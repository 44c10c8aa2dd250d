"""`modelward drift REFERENCE CURRENT`: a drift report from two CSV/Parquet files, no workspace needed.

Exit status: 0 when the comparison ran (whatever it found); 2 with ``--fail-on-drift`` when drift was
detected (the dataset-level rule, or the domain classifier); 1 on a usage or data error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import pandas as pd
import typer
from rich.table import Table

from modelward.cli._common import console, err_console
from modelward.errors import ConfigError, DataError

if TYPE_CHECKING:
    from modelward.monitoring import Current, MonitoringReport, Reference

T = TypeVar("T")
TASK_CHOICES = ("auto", "classification", "regression")
KIND_CHOICES = ("numeric", "categorical", "boolean", "ignore")
_CLASS_LIMIT = 20  # integer columns with at most this many distinct values are classes


@contextmanager
def _stage(label: str) -> Iterator[None]:
    """Show a spinner while a stage runs, then one line with its duration (on stderr)."""
    started = time.perf_counter()
    with err_console.status(f"{label}…"):
        yield
    err_console.print(f"[dim]✓ {label} ({time.perf_counter() - started:.1f} s)[/dim]", highlight=False)


def _timed(label: str, fn: Callable[[], T]) -> T:
    with _stage(label):
        return fn()


def _parse_kinds(items: list[str] | None) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for item in items or []:
        col, sep, kind = item.rpartition("=")
        if not sep or not col or kind not in KIND_CHOICES:
            raise ConfigError(
                f"--column-kind expects COLUMN=KIND with KIND one of {', '.join(KIND_CHOICES)}; "
                f"got {item!r}. Example: --column-kind zip_code=categorical"
            )
        kinds[col] = kind
    return kinds


def _infer_task(series: pd.Series) -> str:
    """Classes for text, booleans and integer columns with few values; regression otherwise."""
    if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        return "classification"
    values = series.dropna()
    if values.empty:
        return "regression"
    integral = bool((values == values.round()).all())
    return "classification" if integral and values.nunique() <= _CLASS_LIMIT else "regression"


def _require(frame: pd.DataFrame, columns: list[str], option: str, file: Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{option} names column(s) {', '.join(map(repr, missing))} that {file.name} does not have; "
            f"its columns are: {', '.join(map(str, frame.columns))}.",
            details={"columns": missing},
        )


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def _print_summary(report: MonitoringReport) -> None:
    drift = report.drift
    table = Table(title="Feature drift (drifted first)", title_justify="left")
    table.add_column("column", overflow="fold")
    table.add_column("kind", no_wrap=True)
    table.add_column("method", no_wrap=True)
    for name in ("statistic", "adj. p", "effect"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    ordered = sorted(
        drift.features, key=lambda f: (not f.drifted, f.status == "skipped", -(f.effect_size or 0.0))
    )
    for f in ordered:
        verdict = (
            "[red]drift[/red]"
            if f.drifted
            else ("[dim]skipped[/dim]" if f.status == "skipped" else "[green]ok[/green]")
        )
        table.add_row(
            f.column,
            f.kind,
            f.method or "—",
            _fmt(f.statistic),
            _fmt(f.p_value_adjusted),
            _fmt(f.effect_size),
            verdict,
        )
    console.print(table)
    verdict = (
        "[bold red]DRIFT[/bold red]" if drift.dataset_drift else "[bold green]no dataset drift[/bold green]"
    )
    console.print(f"dataset: {verdict} — {drift.dataset_reason}", highlight=False, soft_wrap=True)
    mv = report.multivariate
    if mv is not None:
        flag = "[red]drift[/red]" if mv.drifted else "[green]ok[/green]"
        top = ", ".join(mv.top_features(3)) if mv.drifted else ""
        console.print(
            f"multivariate: {flag} — AUC {mv.auc:.3f}, p = {mv.p_value:.3g}"
            + (f"; separating: {top}" if top else ""),
            highlight=False,
            soft_wrap=True,
        )
    for label, out in (("prediction drift", report.prediction_drift), ("label drift", report.label_drift)):
        if out is not None:
            flag = "[red]drift[/red]" if out.drifted else "[green]ok[/green]"
            console.print(f"{label}: {flag} ({out.task}) — {out.reason}", highlight=False, soft_wrap=True)
    if drift.quality:
        console.print(f"data quality: {len(drift.quality)} finding(s)")
        for q in drift.quality[:10]:
            colour = "red" if q.severity == "error" else "yellow"
            console.print(f"  [{colour}]{q.severity}[/{colour}] ", end="")
            console.print(q.message, markup=False, highlight=False, soft_wrap=True)
        if len(drift.quality) > 10:
            console.print(f"  … and {len(drift.quality) - 10} more (see --json / --html)")


def drift_command(
    reference: Annotated[Path, typer.Argument(help="Reference data (CSV/TSV, optionally .gz, or Parquet).")],
    current: Annotated[Path, typer.Argument(help="Current data to compare with the reference.")],
    html: Annotated[
        Path | None, typer.Option("--html", help="Write a self-contained HTML report here.")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the full report as JSON here ('-' for stdout).")
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            help="Test for every column: auto (KS / chi-square / z-test by kind), or a registered "
            "method: ks, wasserstein, psi, jensenshannon, cramervonmises, anderson, chi2, "
            "new_category, ztest."
        ),
    ] = "auto",
    alpha: Annotated[float, typer.Option(help="Significance level after correction.")] = 0.05,
    correction: Annotated[
        str, typer.Option(help="Multiple-testing correction: bh, bonferroni or none.")
    ] = "bh",
    min_effect: Annotated[
        float | None, typer.Option(help="Smallest effect size an alarm also needs (default per kind: 0.05).")
    ] = None,
    drift_share: Annotated[
        float, typer.Option(help="Dataset drift when at least this share of features drift.")
    ] = 0.5,
    important: Annotated[
        list[str] | None, typer.Option("--important", help="Dataset drift when any of these columns drifts.")
    ] = None,
    column_kind: Annotated[
        list[str] | None,
        typer.Option(
            "--column-kind", help="COLUMN=KIND (numeric, categorical, boolean, ignore); repeatable."
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None, typer.Option("--ignore", help="Column to leave out; repeatable.")
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="Label column: tested for label drift, not as a feature.")
    ] = None,
    prediction: Annotated[
        list[str] | None,
        typer.Option(
            "--prediction",
            help="Model-output column (repeat for one score column per class): tested "
            "for prediction drift, not as a feature.",
        ),
    ] = None,
    task: Annotated[
        str, typer.Option(help="For --target/--prediction: auto, classification or regression.")
    ] = "auto",
    multivariate: Annotated[
        bool, typer.Option("--multivariate/--no-multivariate", help="Also run the domain-classifier test.")
    ] = True,
    max_rows: Annotated[
        int, typer.Option("--multivariate-rows", help="Rows per side the domain classifier samples.", min=10)
    ] = 20_000,
    seed: Annotated[int, typer.Option(help="Seed of the domain classifier's sampling and folds.")] = 0,
    title: Annotated[str | None, typer.Option(help="Title of the HTML report.")] = None,
    fail_on_drift: Annotated[
        bool, typer.Option("--fail-on-drift", help="Exit with status 2 when drift is detected.")
    ] = False,
) -> None:
    """Compare two data files: per-feature drift, data quality, multivariate drift, prediction/label drift.

    Works on files alone (no workspace). Prints a summary table; --html and --json write full reports.

    Exit status: 0, or 2 with --fail-on-drift when the dataset rule or the domain classifier detects drift.
    """
    from modelward.monitoring import AnalysisSettings, analyse

    if task not in TASK_CHOICES:
        raise ConfigError(f"--task must be one of {', '.join(TASK_CHOICES)}, got {task!r}.")
    kinds = _parse_kinds(column_kind)
    started = time.perf_counter()
    ref, cur = _read(
        reference,
        current,
        {
            "--ignore": ignore or [],
            "--column-kind": list(kinds),
            "--target": [target] if target else [],
            "--prediction": prediction or [],
            "--important": important or [],
        },
    )
    labeled = target is not None and target in cur.columns
    schema = _schema(ref, kinds, ignore, target, prediction)
    baseline = _timed(
        "profiling the reference", lambda: _fit_reference(ref, schema, target, labeled, prediction, task)
    )
    settings = AnalysisSettings(
        method=method,
        alpha=alpha,
        correction=correction,
        min_effect=min_effect,
        drift_share=drift_share,
        important_features=tuple(important or ()),
        multivariate_rows=max_rows if multivariate else 0,
        seed=seed,
    )
    window = _current(
        cur, [c for c in [target, *(prediction or [])] if c], prediction, target if labeled else None
    )
    found = analyse(baseline, window, settings, progress=_Stages())
    if target and not labeled:
        err_console.print(
            f"note: {current.name} has no {target!r} column (labels not yet known); label drift skipped.",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    report = found.monitoring_report(
        {
            "reference": f"{reference} ({len(ref):,} rows x {len(ref.columns)} columns)",
            "current": f"{current} ({len(cur):,} rows x {len(cur.columns)} columns)",
            "seconds": round(time.perf_counter() - started, 2),
        }
    )
    assert report is not None  # read_table refuses a file without rows
    _write_reports(report, html, json_out, title or f"Drift: {current.name} vs {reference.name}")
    if fail_on_drift and report.drift_detected:
        raise typer.Exit(code=2)


def _read(reference: Path, current: Path, columns: dict[str, list[str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both files, after checking that the reference has every column an option names (and the current
    file the --prediction columns)."""
    from modelward.datasets import read_table

    ref = _timed(f"reading {reference.name}", lambda: read_table(reference))
    cur = _timed(f"reading {current.name}", lambda: read_table(current))
    for option, cols in columns.items():
        _require(ref, cols, option, reference)
    if columns["--prediction"]:
        _require(cur, columns["--prediction"], "--prediction", current)
    return ref, cur


class _Stages:
    """Shows each analysis stage as it runs (spinner, then its duration) and the notes, on stderr."""

    def stage(self, label: str) -> AbstractContextManager[object]:
        return _stage(label)

    def note(self, message: str) -> None:
        err_console.print(f"note: {message}", markup=False, highlight=False, soft_wrap=True)


def _schema(
    ref: pd.DataFrame,
    kinds: dict[str, str],
    ignore: list[str] | None,
    target: str | None,
    prediction: list[str] | None,
) -> dict[str, str]:
    """Column kinds of the features: --column-kind, --ignore, and dates and other types left out (with a note)."""
    from modelward.monitoring import dtype_family

    outputs = [c for c in [target, *(prediction or [])] if c]
    schema = {**kinds, **dict.fromkeys(ignore or [], "ignore")}
    features = [c for c in ref.columns if c not in outputs]
    untestable = [c for c in features if c not in schema and dtype_family(ref[c]) in ("datetime", "other")]
    if untestable:
        schema.update(dict.fromkeys(untestable, "ignore"))
        err_console.print(
            f"note: left out {', '.join(map(repr, untestable))} (dates and other types have no drift "
            "test; convert them to numbers or strings to include them).",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    return schema


def _fit_reference(
    ref: pd.DataFrame,
    schema: dict[str, str],
    target: str | None,
    labeled: bool,
    prediction: list[str] | None,
    task: str,
) -> Reference:
    """The reference file's features profiled, its --prediction and --target columns as output references
    (the target only when the current file has labels too)."""
    from modelward.monitoring import OutputReference, Profile, Reference

    outputs = [c for c in [target, *(prediction or [])] if c]
    ref_x = ref[[c for c in ref.columns if c not in outputs]]
    predictions = labels = None
    if prediction:
        p_task = (
            "probabilities"
            if len(prediction) > 1
            else (task if task != "auto" else _infer_task(ref[prediction[0]]))
        )
        predictions = OutputReference.fit("prediction", ref[prediction], p_task)
    if target and labeled:
        labels = OutputReference.fit(
            "label", ref[target], task if task != "auto" else _infer_task(ref[target])
        )
    return Reference(Profile.fit(ref_x, schema), outputs=predictions, labels=labels, rows=ref_x)


def _current(
    cur: pd.DataFrame, outputs: list[str], prediction: list[str] | None, target: str | None
) -> Current:
    from modelward.monitoring import Current

    features = cur[[c for c in cur.columns if c not in outputs]]
    return Current(
        features, outputs=cur[prediction] if prediction else None, labels=cur[target] if target else None
    )


def _write_reports(report: MonitoringReport, html: Path | None, json_out: Path | None, title: str) -> None:
    """--html and --json, then the summary table (unless the JSON goes to stdout)."""
    if html is not None:
        from modelward.monitoring import render_html

        page = _timed("rendering the HTML report", lambda: render_html(report, title=title))
        _write(html, page)
    if json_out is not None:
        text = report.to_json(indent=2)
        if str(json_out) == "-":
            typer.echo(text)
        else:
            _write(json_out, text)
    if str(json_out) != "-":
        _print_summary(report)
        for label, path in (("HTML report", html), ("JSON report", json_out)):
            if path is not None:
                console.print(f"{label}: {path}", highlight=False)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DataError(f"Cannot write {path}: {exc.strerror or exc}. Choose a writable path.") from exc
