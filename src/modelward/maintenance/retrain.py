"""Retraining: the training data recipe, its dataset version, and the one call into training.

The training data (:func:`build_training_set`, pure) is

* the **reference data**: the champion's training rows, rebuilt from its lineage, without its evaluation
  rows (so the champion's original test set stays unseen by the challenger and the gate can use it); left
  out when the production rows are anchored on a regime change (unless ``anchor_reference``): the old
  regime's labels contradict the new one's wherever the two differ;
* plus the **labeled production rows** (predictions joined with their feedback) logged within
  ``loop.retrain.recent``, in log order, **anchored on the regime change** (``loop.retrain.anchor``): when the
  served models' errors rose at one row (:func:`change_point`), only the rows from there on are kept (at
  least :func:`rows_needed`), so a new concept is learnt from its own rows, not outvoted by the old. The newest of them (``loop.gate.holdout_share``, at least
  ``loop.gate.min_rows``) are **held out for the gate** and never trained on; training rows equal to a gate
  row (same features and label) are dropped too, and with ``dedup`` every duplicate but the newest.

Weights: a production row's weight halves every ``half_life`` of age; production rows get
``new_share`` of the total weight and the reference the rest, scaled so the mean weight is 1. They travel
as a column (``models.NAME.sample_weight``, default ``sample_weight``) that is never a feature; an
entrypoint with no ``sample_weight`` parameter trains unweighted (the loop says so once).

:func:`assemble` stores the rows as a new version of the dataset ``MODEL-retrain`` whose source names the
job, its trigger event and every input, and the gate rows as a Parquet blob in the artifact store.
:func:`train_challenger` is the single place that calls training (in the training subprocess, see
:mod:`modelward.maintenance.trainer`).
"""

from __future__ import annotations

import datetime as dt
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelward.datasets import DatasetVersion, from_parquet_bytes, to_parquet_bytes
from modelward.errors import DataError
from modelward.loop_settings import GateSettings, RetrainSettings
from modelward.maintenance._reference import training_data
from modelward.predlog import read_window
from modelward.registry import ModelVersion
from modelward.workspace import Workspace

__all__ = [
    "Assembled",
    "TrainRequest",
    "TrainResult",
    "TrainingSet",
    "assemble",
    "build_training_set",
    "change_point",
    "load_holdout",
    "rows_needed",
    "sensitive_columns",
    "train_challenger",
    "weight_column_name",
]

ID, TS, PRED = "_prediction_id", "_ts", "_prediction"
_MIN_SEGMENT = 30  # rows on either side of a change point


def rows_needed(gate: GateSettings, retrain: RetrainSettings) -> int:
    """Fewest labeled rows that leave ``min_new_rows`` for training after the gate's rows."""
    n = gate.min_rows + retrain.min_new_rows
    while n - max(gate.min_rows, math.ceil(gate.holdout_share * n)) < retrain.min_new_rows:
        n += 1
    return n


def change_point(loss: np.ndarray[Any, Any], *, z: float) -> tuple[int, float] | None:
    """Where the mean of ``loss`` (per row, in log order: 0/1 errors, or absolute errors) rose most: the
    first row of the new regime and the standardized rise, or None when no split rises by more than ``z``.

    The statistic of a split before row ``k`` is the difference of the means after and before it over its
    standard error under one common variance (the CUSUM statistic of a mean shift); the largest over every
    split with at least 30 rows on each side is taken, and only a rise counts (a fall is a model that got
    better). Under no change it stays near 3 for tens of thousands of rows, hence a default ``z`` of 5.

    >>> loss = np.r_[np.zeros(500), np.ones(100)] ; loss[::10] = 1
    >>> change_point(loss, z=5.0)[0]
    500
    >>> change_point(np.tile([0.0, 1.0], 300), z=5.0) is None
    True
    """
    x = np.asarray(loss, dtype=float)
    n = len(x)
    var = float(x.var())
    if n < 2 * _MIN_SEGMENT or var <= 0:
        return None
    k = np.arange(_MIN_SEGMENT, n - _MIN_SEGMENT + 1)
    before = np.cumsum(x)[k - 1]
    rise = (x.sum() - before) / (n - k) - before / k
    stat = rise / np.sqrt(var * (1.0 / k + 1.0 / (n - k)))
    best = int(np.argmax(stat))
    return (int(k[best]), float(stat[best])) if stat[best] > z else None


def _loss(production: pd.DataFrame, target: str, task: str) -> np.ndarray[Any, Any]:
    """Per row: 1.0 where the served output was wrong (classifiers), else its absolute error."""
    pred, label = production[PRED], production[target]
    if task == "classification":
        as_numbers = pd.to_numeric(pred, errors="coerce"), pd.to_numeric(label, errors="coerce")
        if not (as_numbers[0].isna().any() or as_numbers[1].isna().any()):  # 1.0 (logged) is class 1
            return np.asarray(as_numbers[0].to_numpy() != as_numbers[1].to_numpy(), dtype=float)
        return np.asarray(pred.astype(str) != label.astype(str), dtype=float)
    return np.asarray(np.abs(pred.to_numpy(dtype=float) - label.to_numpy(dtype=float)), dtype=float)


def anchor(
    production: pd.DataFrame, target: str, *, task: str, retrain: RetrainSettings, gate: GateSettings
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``production`` (log order, with the served prediction in ``_prediction``) from its regime change on
    (at least :func:`rows_needed` rows), and what was decided."""
    if not retrain.anchor or PRED not in production or production.empty:
        return production, {"anchored": False}
    found = change_point(_loss(production, target, task), z=retrain.anchor_z)
    if found is None:
        return production, {"anchored": False}
    start = min(found[0], max(0, len(production) - rows_needed(gate, retrain)))
    kept = production.iloc[start:].reset_index(drop=True)
    return kept, {
        "anchored": True,
        "change_at": pd.Timestamp(production[TS].iloc[found[0]]).isoformat(),
        "change_z": round(found[1], 2),
        "rows_before_change_dropped": start,
    }


@dataclass(frozen=True)
class TrainingSet:
    """Training rows (features, target, weight column) and the gate's rows (features, target, id, ts)."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def weight_column_name(spec_weight: str | None, features: Sequence[str]) -> str:
    """The weight column: the model's ``sample_weight`` setting, else ``sample_weight`` (``_sample_weight``
    when a feature has that name)."""
    if spec_weight:
        return spec_weight
    return "_sample_weight" if "sample_weight" in features else "sample_weight"


def build_training_set(
    reference: pd.DataFrame,
    production: pd.DataFrame,
    *,
    features: Sequence[str],
    target: str,
    weight_column: str,
    now: dt.datetime,
    retrain: RetrainSettings,
    gate: GateSettings,
    carry: Sequence[str] = (),
) -> TrainingSet:
    """The recipe (see the module docstring). ``reference``: features, target and optionally
    ``weight_column`` (existing weights are kept, relatively). ``production``: features, target, ``_ts``
    (tz-aware) and ``_prediction_id``, any order. ``carry``: columns of ``production`` that are not
    features but go with the gate's rows (the sensitive columns its fairness check reads); never
    trained on."""
    cols = [*features, target]
    prod = production.sort_values([TS, ID], kind="stable").reset_index(drop=True)
    n = len(prod)
    n_hold = max(gate.min_rows, math.ceil(gate.holdout_share * n))
    if n - n_hold < retrain.min_new_rows:
        raise DataError(
            f"Too few labeled production rows to retrain: {n} in the recent window, {n_hold} of them held out for "
            f"the gate, {retrain.min_new_rows} needed for training (loop.retrain.min_new_rows). Wait for more "
            "feedback, or lower loop.gate.min_rows / loop.retrain.min_new_rows.",
            details={"labeled_rows": n, "holdout_rows": n_hold, "min_new_rows": retrain.min_new_rows},
        )
    holdout = prod.iloc[n - n_hold :].reset_index(drop=True)
    fresh = prod.iloc[: n - n_hold]
    age = (pd.Timestamp(now) - pd.to_datetime(fresh[TS], utc=True)).dt.total_seconds().clip(lower=0)
    ref = reference[cols].copy()
    ref_w = (
        reference[weight_column].astype(float).to_numpy()
        if weight_column in reference.columns
        else np.ones(len(reference))
    )
    rows = pd.concat([ref, fresh[cols]], ignore_index=True)
    weight = np.r_[ref_w, np.power(0.5, age.to_numpy(dtype=float) / retrain.half_life)]
    is_new = np.r_[np.zeros(len(ref), bool), np.ones(len(fresh), bool)]
    keys = _row_keys(rows, cols)
    keep = ~np.isin(keys, _row_keys(holdout[cols], cols))
    leaked = int((~keep).sum())
    if retrain.dedup:
        last = ~pd.Series(keys).duplicated(keep="last").to_numpy()
        duplicates = int((keep & ~last).sum())
        keep &= last
    else:
        duplicates = 0
    rows, weight, is_new = rows[keep].reset_index(drop=True), weight[keep], is_new[keep]
    share = retrain.new_share if is_new.any() and (~is_new).any() else float(is_new.any())
    total = len(rows)
    for part, part_share in ((is_new, share), (~is_new, 1.0 - share)):
        mass = weight[part].sum()
        if part.any() and mass > 0:
            weight[part] *= part_share * total / mass
    rows[weight_column] = weight
    summary = {
        "reference_rows": int((~is_new).sum()),
        "production_rows": int(is_new.sum()),
        "holdout_rows": n_hold,
        "labeled_rows": n,
        "duplicates_dropped": duplicates,
        "equal_to_gate_rows_dropped": leaked,
        "new_share": share,
        "half_life_s": retrain.half_life,
        "production_from": None if fresh.empty else pd.Timestamp(fresh[TS].iloc[0]).isoformat(),
        "holdout_from": pd.Timestamp(holdout[TS].iloc[0]).isoformat(),
        "holdout_through": pd.Timestamp(holdout[TS].iloc[-1]).isoformat(),
        "weight_column": weight_column,
    }
    extra = [c for c in carry if c in holdout.columns and c not in cols]
    return TrainingSet(rows, holdout[[*cols, *extra, ID, TS]], summary)


def _row_keys(frame: pd.DataFrame, cols: Sequence[str]) -> np.ndarray[Any, Any]:
    """One hash per row of ``cols``, equal for equal values whatever the dtype (1 == 1.0, 'a' == 'a')."""
    norm = pd.DataFrame(
        {
            c: (
                pd.to_numeric(frame[c], errors="coerce").astype(float)
                if pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])
                else frame[c].astype(str)
            )
            for c in cols
        }
    )
    return pd.util.hash_pandas_object(norm, index=False).to_numpy()


def _align(frame: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s columns cast to ``like``'s dtypes where that loses nothing (JSON gives 1.0 for 1)."""
    out = frame.copy()
    for col in out.columns.intersection(like.columns):
        want = like[col].dtype
        if out[col].dtype == want:
            continue
        try:
            cast = out[col].astype(want)
        except (TypeError, ValueError):
            continue
        same = cast.astype(object).eq(out[col].astype(object)) | (cast.isna() & out[col].isna())
        if bool(same.all()):
            out[col] = cast
    return out


@dataclass(frozen=True)
class Assembled:
    """What :func:`assemble` stored: the training dataset version, the gate rows' blob, the summary."""

    dataset: DatasetVersion
    holdout: dict[str, Any]
    summary: dict[str, Any]


def production_rows(
    ws: Workspace,
    model: str,
    features: Sequence[str],
    target: str,
    *,
    since: dt.datetime,
    max_rows: int,
    prediction: bool = False,
    context: Sequence[str] = (),
) -> pd.DataFrame:
    """Labeled predictions of ``model`` logged since ``since``: features, the label as ``target``, ``_ts``,
    ``_prediction_id`` and with ``prediction`` the served output as ``_prediction`` (the newest ``max_rows``).
    ``context``: columns sent as the predict body's context (a sensitive column that is not a model input)
    added where they are not features; None where a row has none."""
    window = read_window(ws.store, model, since=since, labeled_only=True, features=list(features))
    frame = window.features.copy()
    for column in context:
        if column not in frame.columns and column != target:
            values = window.context[column] if column in window.context.columns else None
            frame[column] = None if values is None else _one_type(values.to_numpy(dtype=object))
    frame[target] = window.label
    frame[TS] = window.ts
    frame[ID] = window.ids
    if prediction:
        frame[PRED] = window.prediction
    return frame.iloc[-max_rows:].reset_index(drop=True) if len(frame) > max_rows else frame


def assemble(
    ws: Workspace,
    champion: ModelVersion,
    *,
    job: int,
    trigger_event: int | None,
    trigger: str,
    now: dt.datetime,
    retrain: RetrainSettings,
    gate: GateSettings,
) -> Assembled:
    """Build the training set of a job from the champion's lineage and the log; store it (see the module)."""
    data = training_data(ws, champion)
    reference = data.frame.drop(index=data.holdout.index)
    features, target = list(data.features), data.target
    weight_column = weight_column_name(ws.model_spec(champion.name).sample_weight, features)
    since = now - dt.timedelta(seconds=retrain.recent)
    sensitive = sensitive_columns(ws, champion.name)
    logged = production_rows(
        ws,
        champion.name,
        features,
        target,
        since=since,
        max_rows=retrain.max_rows,
        prediction=True,
        context=sensitive,
    )
    logged, anchored = anchor(logged, target, task=champion.task, retrain=retrain, gate=gate)
    prod = _align(logged.drop(columns=[PRED]), reference)
    left_out = anchored["anchored"] and not retrain.anchor_reference
    if left_out:  # the old regime's labels would contradict the new one's (``anchor_reference``)
        reference = reference.iloc[:0]
    anchored["reference_left_out"] = left_out
    built = build_training_set(
        reference,
        prod,
        features=features,
        target=target,
        weight_column=weight_column,
        now=now,
        retrain=retrain,
        gate=gate,
        carry=sensitive,
    )
    s = built.summary
    source = (
        f"modelward loop, job {job} of {champion.name} (trigger {trigger}"
        f"{'' if trigger_event is None else f', event {trigger_event}'}): {s['reference_rows']} reference rows "
        + (
            f"(the training rows of {champion.ref} from {data.source} left out: the production rows are anchored "
            "on a regime change, loop.retrain.anchor_reference is off) + "
            if left_out
            else f"from {data.source} (training rows of {champion.ref}, its {len(data.holdout)} evaluation rows "
            "left out) + "
        )
        + f"{s['production_rows']} labeled production rows of {champion.name} logged since "
        f"{anchored.get('change_at', since.isoformat())}{' (anchored on the regime change)' if anchored['anchored'] else ''} "
        f"(the newest {s['holdout_rows']} held out for the gate); half-life {retrain.half_life:g} s, new share "
        f"{s['new_share']:.2f}, {s['duplicates_dropped']} duplicates and {s['equal_to_gate_rows_dropped']} rows "
        f"equal to gate rows dropped; weights in column {weight_column!r}"
    )
    dataset = ws.datasets.add_frame(built.train, f"{champion.name}-retrain", source=source)
    blob = ws.artifacts.put(to_parquet_bytes(built.holdout.assign(**{TS: built.holdout[TS].astype(str)})))
    holdout = {
        "artifact": blob,
        "rows": len(built.holdout),
        "from": s["holdout_from"],
        "through": s["holdout_through"],
        "features": features,
        "target": target,
        "weight_column": weight_column,
        "anchored": anchored["anchored"],
        "regime_rows": s["labeled_rows"] if anchored["anchored"] else None,
    }
    summary = {**s, **anchored, "dataset": dataset.ref, "reference": data.source, "source": source}
    return Assembled(dataset, holdout, summary)


def _one_type(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Context values of one type (strings where callers mixed types: a group is a group), missing as None:
    the gate's rows are stored as Parquet, whose columns have one type."""
    missing = pd.isna(values)
    if len({type(v) for v in values[~missing]}) > 1:
        values = np.array([str(v) for v in values], dtype=object)
    values[missing] = None
    return values


def sensitive_columns(ws: Workspace, model: str) -> list[str]:
    """The model's declared sensitive columns (``models.NAME.monitor.sensitive_columns``)."""
    spec = ws.settings.models.get(model)
    return [] if spec is None else list(spec.monitor.sensitive_columns)


def load_holdout(ws: Workspace, holdout: dict[str, Any]) -> pd.DataFrame:
    """The gate rows a job stored."""
    frame: pd.DataFrame = from_parquet_bytes(ws.artifacts.get(holdout["artifact"]))
    return frame


# -- the one call into training ---------------------------------------------------------------------


@dataclass(frozen=True)
class TrainRequest:
    """What the training run needs: the model, the dataset version to train on, the features, the weight
    column (None: unweighted) and the new version's description."""

    model: str
    dataset: str
    features: list[str]
    weight_column: str | None
    description: str


@dataclass(frozen=True)
class TrainResult:
    version: int
    created: bool
    weighted: bool


def train_challenger(
    ws: Workspace, request: TrainRequest, *, loaded: Callable[[str, Any], None] | None = None
) -> TrainResult:
    """Train ``request.model`` as declared on ``request.dataset`` with the weight-column override, register it.

    THE one place the loop calls training, run inside the training subprocess: the model's declared
    recipe (its features as the champion had them) trained on the retraining dataset version by
    :func:`modelward.training.train`, with the weight column passed as ``sample_weight`` when the
    entrypoint takes one, then registered by :func:`modelward.training.register`. A training identical
    to an existing version returns that version (``created`` False): a resumed job does not register twice.
    ``loaded`` (in-process callers) is handed the artifact's digest and the model as loaded back from it to
    check it, so that the caller need not load it again.
    """
    from modelward.training import register, resolve_entrypoint, train

    spec = ws.model_spec(request.model)
    func, _module = resolve_entrypoint(spec.entrypoint, ws.root)
    weighted = request.weight_column is not None and _accepts(func, "sample_weight")
    recipe = spec.model_copy(update={"features": list(request.features), "sample_weight": None})
    dataset = ws.resolve_dataset(recipe, request.dataset)
    trained = train(ws, recipe, dataset, sample_weight=request.weight_column if weighted else None)
    # importance is computed by the loop once the child is done, outside the training's time limit
    mv = register(ws, request.model, trained, description=request.description, importance=False)
    if loaded is not None and trained.loaded is not None and mv.artifact == trained.artifact:
        loaded(mv.artifact, trained.loaded)
    return TrainResult(mv.version, mv.created, weighted)


def _accepts(func: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
