"""Fitting: cut a dataset version into train and evaluation rows, call the entrypoint, evaluate,
describe what was trained (signature, lineage)."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import math
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelward.config import ModelSpec, SplitSpec
from modelward.datasets import DatasetVersion
from modelward.errors import TrainingError
from modelward.training._evaluate import evaluate, predict_proba
from modelward.training._lineage import (
    CodeReference,
    DatasetLineage,
    Environment,
    EvaluationLineage,
    Lineage,
)

__all__ = [
    "MIN_HOLDOUT_ROWS",
    "Prepared",
    "TrainingResult",
    "evaluate",
    "fit",
    "index_hash",
    "infer_signature",
    "predict_proba",
    "prepare",
    "resolve_entrypoint",
]

MIN_HOLDOUT_ROWS = 30
"""Fewest evaluation rows a model is registered on: below it, its metrics are noise (accuracy 0 or 1
on a single row) and everything compared with them later (gates, monitoring) would be too."""


@dataclass(frozen=True)
class Prepared:
    """Training inputs cut from a dataset version as the spec says.

    Attributes:
        train: the rows the model is fitted on.
        test: the held-out evaluation rows (their index hash is recorded in the lineage).
        features: the input columns, in order.
        target: the label column.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    features: list[str]
    target: str


@dataclass(frozen=True)
class TrainingResult:
    """A fitted model, its holdout metrics, and what it was made from (not yet persisted or registered).

    Attributes:
        model: the fitted estimator the entrypoint returned.
        metrics: its metrics on the evaluation rows (``None`` where undefined).
        signature: its inputs (name, kind, dtype, nullable, allowed categories) and output.
        input_example: the first evaluation rows as JSON records.
        lineage: where it came from (:class:`~modelward.training.Lineage`): dataset version,
            evaluation split, entrypoint, target, features, seed, code reference and environment.
        params: the parameters it was trained with.
    """

    model: Any
    metrics: dict[str, float | None]
    signature: dict[str, Any]
    input_example: list[dict[str, Any]]
    lineage: Lineage
    params: dict[str, Any]


def prepare(frame: pd.DataFrame, spec: ModelSpec, *, dataset: str = "dataset") -> Prepared:
    """Validate target and features, then split into train and evaluation rows."""
    columns = list(frame.columns)
    if spec.target not in frame.columns:
        raise TrainingError(
            f"Target column {spec.target!r} is not in {dataset}. Columns: {', '.join(map(str, columns))}. "
            "Fix `target:` in modelward.yaml or train on another dataset."
        )
    excluded = {spec.target, spec.sample_weight, spec.split.time_column} - {None}
    features = list(spec.features) if spec.features is not None else [c for c in columns if c not in excluded]
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise TrainingError(f"Feature columns {missing} are not in {dataset}. Columns: {', '.join(columns)}.")
    if not features:
        raise TrainingError(f"Model has no feature columns in {dataset}; list them under `features:`.")
    y = frame[spec.target]
    if y.isna().any():
        raise TrainingError(
            f"Target column {spec.target!r} has {int(y.isna().sum())} missing values in {dataset}; "
            "drop or fill those rows before training."
        )
    if spec.task == "regression" and not pd.api.types.is_numeric_dtype(y):
        sample = y[pd.to_numeric(y, errors="coerce").isna()].iloc[0]
        raise TrainingError(
            f"Regression target {spec.target!r} must be numeric, got {y.dtype} (e.g. {sample!r}) in {dataset}. "
            "Use task: classification for labels, or convert the column."
        )
    if spec.task == "classification" and y.nunique() < 2:
        raise TrainingError(
            f"Classification target {spec.target!r} has a single class ({y.iloc[0]!r}) in {dataset}; "
            "a classifier needs at least two."
        )
    _check_holdout(len(frame), spec.split, dataset)
    train, test = _split(frame, spec.split, spec.target if spec.task == "classification" else None)
    return Prepared(train=train, test=test, features=features, target=spec.target)


def _holdout_rows(n: int, split: SplitSpec) -> int:
    """How many of ``n`` rows the split holds out (scikit-learn rounds a random split's share up)."""
    if split.kind == "time":
        return max(1, round(n * split.test_size))
    return math.ceil(n * split.test_size)


def _check_holdout(n: int, split: SplitSpec, dataset: str) -> None:
    held = _holdout_rows(n, split)
    if held >= MIN_HOLDOUT_ROWS:
        return
    share = f"{split.test_size:g}"
    rows_needed = math.ceil(MIN_HOLDOUT_ROWS / split.test_size)
    while _holdout_rows(rows_needed - 1, split) >= MIN_HOLDOUT_ROWS:
        rows_needed -= 1
    fix = f"train on more data (at least {rows_needed} rows at test_size {share})"
    needed_share = math.ceil(MIN_HOLDOUT_ROWS / n * 100) / 100
    if needed_share <= 0.5:
        fix = f"raise `split.test_size` in modelward.yaml to {needed_share:g}, or {fix}"
    raise TrainingError(
        f"The split leaves {held} evaluation row{'s' if held != 1 else ''} of the {n} rows of {dataset} "
        f"(split.test_size {share}); at least {MIN_HOLDOUT_ROWS} are needed for metrics that mean anything, "
        f"so nothing was trained or registered. To fix it, {fix}.",
        details={
            "rows": n,
            "holdout_rows": held,
            "test_size": split.test_size,
            "min_holdout_rows": MIN_HOLDOUT_ROWS,
        },
    )


def _split(
    frame: pd.DataFrame, split: SplitSpec, stratify_on: str | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    if split.kind == "time":
        if not split.time_column or split.time_column not in frame.columns:
            raise TrainingError(
                f"Time split needs `split.time_column` naming a column of the dataset, got {split.time_column!r}."
            )
        ordered = frame.sort_values(split.time_column, kind="stable")
        n_test = _holdout_rows(len(ordered), split)
        return ordered.iloc[:-n_test], ordered.iloc[-n_test:]
    # Imported on first use: scikit-learn is slow to import.
    from sklearn.model_selection import train_test_split

    stratify = None
    if stratify_on is not None and split.stratify:
        counts = frame[stratify_on].value_counts()
        if counts.min() >= 2:
            stratify = frame[stratify_on]
    train, test = train_test_split(
        frame, test_size=split.test_size, random_state=split.seed, stratify=stratify
    )
    return train, test


def resolve_entrypoint(entrypoint: str, root: Path | None = None) -> tuple[Callable[..., Any], Any]:
    """Import ``module:function`` (the workspace root is importable); return the function and module."""
    module_name, _, func_name = entrypoint.partition(":")
    top = module_name.split(".")[0]
    if root is not None and ((root / f"{top}.py").is_file() or (root / top / "__init__.py").is_file()):
        # Workspace code is imported afresh every time: the code that runs is the code on disk
        # now (and the source hash recorded in the lineage is of that code), never a stale
        # module cached by an earlier call or another workspace.
        for name in [m for m in sys.modules if m == top or m.startswith(f"{top}.")]:
            del sys.modules[name]
        importlib.invalidate_caches()
    with _on_path(root):
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise TrainingError(
                f"Cannot import training module {module_name!r} (entrypoint {entrypoint!r}): {exc}. "
                "Put the module in the workspace directory or install it.",
                details={"traceback": _summarise(exc)},
            ) from exc
    func = getattr(module, func_name, None)
    if not callable(func):
        raise TrainingError(
            f"Module {module_name!r} has no function {func_name!r} (entrypoint {entrypoint!r})."
        )
    return func, module


def fit(
    spec: ModelSpec,
    prepared: Prepared,
    dataset: DatasetVersion,
    *,
    params: Mapping[str, Any],
    root: Path,
) -> TrainingResult:
    """Call the entrypoint, evaluate on the holdout, and describe what was trained."""
    func, module = resolve_entrypoint(spec.entrypoint, root)
    columns = [*prepared.features, prepared.target]
    if spec.sample_weight:
        columns.append(spec.sample_weight)
    train_df = prepared.train[columns].reset_index(drop=True)
    kwargs = _optional_kwargs(
        func, target=prepared.target, features=list(prepared.features), sample_weight=spec.sample_weight
    )
    try:
        model = func(train_df, dict(params), **kwargs)
    except Exception as exc:
        summary = _summarise(exc)
        raise TrainingError(
            f"Training code {spec.entrypoint} failed: {type(exc).__name__}: {exc}\n{summary}\nNothing was registered.",
            details={"traceback": summary},
        ) from exc
    if model is None or not hasattr(model, "predict"):
        raise TrainingError(
            f"Training code {spec.entrypoint} returned {type(model).__name__}, not a fitted estimator with "
            "predict(); return the fitted model. Nothing was registered."
        )
    test_x = prepared.test[prepared.features]
    try:
        metrics = evaluate(spec.task, model, test_x, prepared.test[prepared.target])
    except Exception as exc:
        raise TrainingError(
            f"Evaluating the model from {spec.entrypoint} on the holdout failed: {type(exc).__name__}: {exc}. "
            "Nothing was registered.",
            details={"traceback": _summarise(exc)},
        ) from exc
    signature = infer_signature(prepared, dataset, spec, model)
    example = json.loads(test_x.head(5).to_json(orient="records", date_format="iso"))
    lineage = Lineage(
        dataset=DatasetLineage(dataset.name, dataset.version, dataset.content_hash, dataset.artifact),
        evaluation=EvaluationLineage(
            dataset=dataset.ref,
            split=spec.split.model_copy(),
            rows=len(prepared.test),
            index_sha256=index_hash(prepared.test.index),
        ),
        entrypoint=spec.entrypoint,
        target=prepared.target,
        features=tuple(prepared.features),
        sample_weight=spec.sample_weight,
        seed=params.get("random_state", spec.split.seed),
        code=CodeReference.of(root, module),
        environment=Environment.current(),
    )
    return TrainingResult(model, metrics, signature, example, lineage, dict(params))


def infer_signature(
    prepared: Prepared, dataset: DatasetVersion, spec: ModelSpec, model: Any
) -> dict[str, Any]:
    """Input columns with kinds, dtypes and allowed categories; the output description."""
    inputs = []
    for col in prepared.features:
        kind = dataset.schema.get(col, "numeric")
        stats = dataset.stats.get(col, {})
        entry: dict[str, Any] = {
            "name": col,
            "type": kind,
            "dtype": str(prepared.train[col].dtype),
            "nullable": bool(prepared.train[col].isna().any()),
        }
        if kind in ("categorical", "boolean") and stats.get("categories") is not None:
            entry["categories"] = list(stats["categories"])
        inputs.append(entry)
    output: dict[str, Any] = {"name": prepared.target, "task": spec.task}
    classes = getattr(model, "classes_", None)
    if classes is not None:
        output["classes"] = [_plain(c) for c in classes]
    return {"inputs": inputs, "output": output}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def index_hash(index: pd.Index) -> str:
    """SHA-256 of a frame's row labels (as int64): the lineage's fingerprint of the evaluation rows."""
    import hashlib

    return hashlib.sha256(np.asarray(index, dtype=np.int64).tobytes()).hexdigest()


def _optional_kwargs(func: Callable[..., Any], **candidates: Any) -> dict[str, Any]:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return candidates
    return {k: v for k, v in candidates.items() if k in params}


def _summarise(exc: BaseException, limit: int = 6) -> str:
    """The last frames of the traceback, one line each, innermost last."""
    frames = traceback.extract_tb(exc.__traceback__)[-limit:]
    lines = [f"  {Path(f.filename).name}:{f.lineno} in {f.name}: {(f.line or '').strip()}" for f in frames]
    return "\n".join(lines)


@contextlib.contextmanager
def _on_path(root: Path | None) -> Iterator[None]:
    if root is None:
        yield
        return
    entry = str(root.resolve())
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(entry)
