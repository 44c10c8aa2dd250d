"""`modelward explain MODEL[@REF]`: which input columns a model version relies on, and how."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from modelward.cli._common import DatabaseOpt, WorkspaceOpt, console, open_workspace
from modelward.cli._models import importance_table
from modelward.errors import ModelwardError
from modelward.explain import Explanation, GlobalImportance, explain_dataset
from modelward.refs import parse_ref
from modelward.registry import ModelVersion
from modelward.workspace import Workspace

__all__ = ["explain_command"]


def explain_command(
    ref: Annotated[
        str,
        typer.Argument(
            metavar="MODEL[@REF]", help="MODEL (its latest version), MODEL@VERSION or MODEL@ALIAS."
        ),
    ],
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            metavar="FILE",
            help="Rows to explain (CSV or Parquet with the model's input columns; with the label column, "
            "permutation importance too). Default: the version's holdout.",
        ),
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", metavar="OUT", help="Write a self-contained HTML report here.")
    ] = None,
    json_out: Annotated[
        Path | None,
        typer.Option("--json", metavar="OUT", help="Write the importance and SHAP values as JSON here."),
    ] = None,
    rows: Annotated[int, typer.Option(help="Most rows explained (drawn with --seed).", min=1)] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the row sample and the permutations.")] = 0,
    budget: Annotated[
        float,
        typer.Option(help="Seconds SHAP may take beyond the first 100 rows (deep forests are slow).", min=0),
    ] = 5.0,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Explain a model version: global importance (mean |SHAP|, permutation), a beeswarm and dependence plots.

    Exact TreeSHAP for tree ensembles, exact linear SHAP for linear models, sampled Shapley values
    otherwise; a pipeline's one-hot columns are summed back to its input columns. See docs/explain.md.
    """
    name, version = parse_ref(ref, "model name")
    with open_workspace(workspace, database_url) as ws:
        mv = ws.registry.get(name, version)
        model = ws.load_model(mv)
        x, y, source = _rows(ws, mv, data)
    features = [c["name"] for c in mv.signature.get("inputs", [])]
    missing = [f for f in features if f not in x.columns]
    if missing:
        raise ModelwardError(
            f"{source} lacks input column(s) {', '.join(missing)} of {mv.ref}. Give --data a file with every "
            f"input column: {', '.join(features)}."
        )
    importance, explanation, explained = explain_dataset(
        model, features, x, y, task=mv.task, max_rows=rows, seed=seed, shap_budget_s=budget
    )
    label, k = _shown_output(explanation)
    if html is not None:
        from modelward.cli._explain_html import render

        _write(html, render(mv.ref, source, importance, explanation, explained, k, label))
    if json_out is not None:
        _write(
            json_out, json.dumps(_json(mv, source, importance, explanation, explained, k, label), indent=2)
        )
    console.print(f"{mv.ref} explained on {source}", highlight=False)
    console.print(importance_table(_with(mv, importance), top=len(features)))
    for what, path in (("HTML report", html), ("JSON", json_out)):
        if path is not None:
            console.print(f"{what}: {path}", highlight=False)


def _rows(ws: Workspace, mv: ModelVersion, data: Path | None) -> tuple[pd.DataFrame, Any, str]:
    """The rows to explain, their labels (or None) and where they came from."""
    target = mv.signature.get("output", {}).get("name")
    if data is not None:
        from modelward.datasets import read_table

        frame = read_table(data)
        labels = frame[target].to_numpy() if target in frame.columns else None
        return frame, labels, str(data)
    from modelward.training import LineageError, rebuild

    try:
        prepared = rebuild(ws, mv).prepared
        return prepared.test, prepared.test[prepared.target].to_numpy(), f"the holdout of {mv.ref}"
    except LineageError:
        pass
    stored = ws.monitoring_results.reference(mv.name, mv.version)
    if stored is not None:
        return stored.holdout.features, stored.holdout.y, f"the reference holdout of {mv.ref}"
    if not mv.input_example:
        raise ModelwardError(
            f"{mv.ref} has no holdout, reference or input example; give rows with --data FILE."
        )
    return pd.DataFrame(mv.input_example), None, f"the input example of {mv.ref}"


def _shown_output(explanation: Explanation) -> tuple[Any, int]:
    """The class the plots show (the positive, i.e. last, class) and its output index."""
    if explanation.labels is None:
        return None, 0
    return explanation.labels[-1], len(explanation.labels) - 1


def _with(mv: ModelVersion, importance: GlobalImportance) -> ModelVersion:
    from dataclasses import replace

    return replace(mv, importance=importance.to_dict())


def _json(
    mv: ModelVersion,
    source: str,
    importance: GlobalImportance,
    explanation: Explanation,
    explained: pd.DataFrame,
    k: int,
    label: Any,
) -> dict[str, Any]:
    return {
        "model": mv.name,
        "version": mv.version,
        "data": source,
        "importance": importance.to_dict(),
        "explanation": {
            **explanation.describe(),
            "class": label,
            "base_value": float(explanation.base_values[k]),
            "values": np.round(explanation.values[:, :, k], 10).tolist(),
        },
        "rows": json.loads(explained.to_json(orient="records", date_format="iso")),
    }


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ModelwardError(f"Cannot write {path}: {exc.strerror or exc}. Choose a writable path.") from exc
