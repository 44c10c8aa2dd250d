"""The monitoring reference of a model version: fitted once from its lineage, reused by every window.

Built from the dataset version the model was trained on (as recorded in its lineage):

* the feature profile: every row of the training snapshot, features only, kinds from the signature;
* the model's outputs on the evaluation rows (the holdout the lineage records, which the model did
  not see): predictions and class probabilities, computed by loading the model with the
  workspace's safe loader. They are the reference of prediction drift, of label drift, and what
  label-free estimators (CBPE for classifiers, DLE for regression) are calibrated on.

Everything is saved as one ``.npz`` blob (no pickle) in the content-addressed artifact store and
recorded in ``monitoring_references``, so later runs never touch the reference data again.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import sqlalchemy as sa

from modelward.config import ModelSpec
from modelward.datasets._frames import from_parquet_bytes, to_parquet_bytes
from modelward.errors import DataError, ModelwardError
from modelward.monitoring import Profile
from modelward.registry import ModelVersion
from modelward.store.schema import monitoring_references, utcnow
from modelward.workspace import Workspace

__all__ = ["FORMAT", "Reference", "get_reference", "output_frame"]

log = logging.getLogger(__name__)

FORMAT = "modelward.monitor-reference/1"
_PROFILE_KINDS = ("numeric", "categorical", "boolean")


@dataclass(frozen=True)
class Reference:
    """What every window of one model version is compared with."""

    id: int
    model: str
    version: int
    artifact: str
    task: str
    features: list[str]
    classes: list[Any] | None
    profile: Profile
    output_profile: Profile
    label_profile: Profile | None
    eval_features: pd.DataFrame
    y: npt.NDArray[Any]
    y_pred: npt.NDArray[Any]
    proba: npt.NDArray[np.float64] | None
    details: dict[str, Any]


def output_frame(
    task: str, classes: list[Any] | None, prediction: npt.NDArray[Any], proba: npt.NDArray[np.float64] | None
) -> pd.DataFrame:
    """Model outputs as a frame for drift tests: ``prediction`` (class name as text for classifiers,
    the number for regression) and ``proba_<class>`` columns (the positive class only when binary)."""
    out: dict[str, Any] = {}
    if task == "classification" and classes is not None:
        out["prediction"] = class_names(classes, prediction)
        if proba is not None and proba.ndim == 2 and proba.shape[1] == len(classes):
            columns = [len(classes) - 1] if len(classes) == 2 else range(len(classes))
            for j in columns:
                out[f"proba_{classes[j]}"] = proba[:, j]
    else:
        out["prediction"] = pd.to_numeric(pd.Series(prediction, dtype=object), errors="coerce").to_numpy(float)
    return pd.DataFrame(out)


def class_index(classes: list[Any], values: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """Position of each value in ``classes`` (NaN when not a class); ``1.0`` matches the class ``1``."""
    arr = np.asarray(values)
    try:
        found: npt.NDArray[np.float64] = pd.Index(classes).get_indexer(arr).astype(np.float64)  # numeric-equal
    except TypeError:  # values that pandas cannot compare with the classes: match as text below
        found = np.full(len(arr), -1.0)
    missing = np.flatnonzero(found < 0)
    if missing.size:  # e.g. the label "1" for the class 1: match the text form
        by_text = {str(c): float(i) for i, c in enumerate(classes)}
        found[missing] = [by_text.get(str(v), -1.0) if v is not None else -1.0 for v in arr[missing]]
    found[found < 0] = np.nan
    return found


def class_names(classes: list[Any], values: npt.NDArray[Any]) -> pd.Series:
    """Each value as its class name (text), missing where it is no class."""
    idx = class_index(classes, values)
    names = np.array([str(c) for c in classes], dtype=object)
    out = pd.Series(np.full(len(idx), None, dtype=object))
    ok = ~np.isnan(idx)
    out[ok] = names[idx[ok].astype(np.int64)]
    return out


def get_reference(ws: Workspace, mv: ModelVersion) -> Reference:
    """The stored reference of ``mv``, built (and stored) on first use."""
    with ws.store.read() as conn:
        row = conn.execute(
            sa.select(monitoring_references).where(
                monitoring_references.c.model == mv.name, monitoring_references.c.version == mv.version
            )
        ).first()
    if row is None:
        artifact, details = _build(ws, mv)
        with ws.store.write() as conn:
            found = conn.execute(
                sa.select(monitoring_references).where(
                    monitoring_references.c.model == mv.name, monitoring_references.c.version == mv.version
                )
            ).first()
            if found is None:  # another process may have built it meanwhile: keep theirs
                conn.execute(
                    monitoring_references.insert().values(
                        model=mv.name, version=mv.version, artifact=artifact, format=FORMAT,
                        details=details, created_at=utcnow(),
                    )
                )
        with ws.store.read() as conn:
            row = conn.execute(
                sa.select(monitoring_references).where(
                    monitoring_references.c.model == mv.name, monitoring_references.c.version == mv.version
                )
            ).one()
    return _load(ws, row)


def _build(ws: Workspace, mv: ModelVersion) -> tuple[str, dict[str, Any]]:
    from modelward.training import predict_proba, prepare

    lineage = mv.lineage
    missing = [k for k in ("target", "entrypoint", "evaluation", "dataset") if k not in lineage]
    if missing:
        raise ModelwardError(
            f"{mv.ref} has no training lineage ({', '.join(missing)} missing), so it has no reference data to "
            "monitor against. Register versions with `modelward train`, which records the lineage.",
            details={"model": mv.name, "version": mv.version},
        )
    if mv.dataset_version_id is not None:
        dataset = ws.datasets.get_by_id(mv.dataset_version_id)
        frame, source = ws.datasets.load(dataset), dataset.ref
    else:
        frame = from_parquet_bytes(ws.artifacts.get(lineage["dataset"]["artifact"]))
        source = f"{lineage['dataset'].get('name')}@{lineage['dataset'].get('version')}"
    inputs = {i["name"]: i for i in mv.signature.get("inputs", [])}
    features = list(lineage.get("features") or inputs)
    spec = ModelSpec(
        task=mv.task, target=lineage["target"], features=features, entrypoint=lineage["entrypoint"],
        split=lineage["evaluation"]["split"], sample_weight=lineage.get("sample_weight"),
    )
    prepared = prepare(frame, spec, dataset=source)
    # Kinds from the signature; datetime/text inputs are not profiled; a feature missing from the
    # signature gets its kind inferred by the profile.
    schema = {f: inputs[f].get("type") if inputs[f].get("type") in _PROFILE_KINDS else "ignore"
              for f in features if f in inputs}
    profile = Profile.fit(frame[features], schema)
    x_eval = prepared.test[features].reset_index(drop=True)
    y_eval = prepared.test[prepared.target].to_numpy()
    model = ws.load_model(mv)
    y_pred = np.asarray(model.predict(x_eval))
    proba = predict_proba(model, x_eval) if mv.task == "classification" else None
    classes = mv.signature.get("output", {}).get("classes")
    if mv.task == "classification" and classes is None:
        classes = [v.item() if isinstance(v, np.generic) else v for v in np.unique(y_eval)]
    outputs = output_frame(mv.task, classes, y_pred, proba)
    output_profile = Profile.fit(outputs, {"prediction": "categorical" if mv.task == "classification" else "numeric"})
    label_frame = label_column(mv.task, classes, y_eval)
    label_profile = Profile.fit(label_frame, {"label": "categorical" if mv.task == "classification" else "numeric"})
    meta = {
        "format": FORMAT, "task": mv.task, "features": features, "classes": classes, "target": prepared.target,
        "source": source, "reference_rows": len(frame), "evaluation_rows": len(x_eval),
    }
    arrays: dict[str, Any] = {
        "meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
        "profile": np.frombuffer(profile.to_bytes(), dtype=np.uint8),
        "output_profile": np.frombuffer(output_profile.to_bytes(), dtype=np.uint8),
        "label_profile": np.frombuffer(label_profile.to_bytes(), dtype=np.uint8),
        "eval_features": np.frombuffer(to_parquet_bytes(x_eval), dtype=np.uint8),
        "y": _plain_array(y_eval),
        "y_pred": _plain_array(y_pred),
    }
    if proba is not None:
        arrays["proba"] = np.asarray(proba, dtype=np.float64)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    artifact = ws.artifacts.put(buf.getvalue())
    log.info("built the monitoring reference of %s from %s (%d rows, %d evaluation rows)",
             mv.ref, source, len(frame), len(x_eval))
    details = {k: meta[k] for k in ("source", "reference_rows", "evaluation_rows", "features")}
    return artifact, details


def label_column(task: str, classes: list[Any] | None, labels: npt.NDArray[Any]) -> pd.DataFrame:
    if task == "classification" and classes is not None:
        return pd.DataFrame({"label": class_names(classes, labels)})
    return pd.DataFrame({"label": pd.to_numeric(pd.Series(labels, dtype=object), errors="coerce").to_numpy(float)})


def _plain_array(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """An array ``np.load(allow_pickle=False)`` can read: numbers as they are, anything else as text."""
    arr = np.asarray(values)
    if arr.dtype.kind in "biuf":
        return arr
    return arr.astype(str)


def _load(ws: Workspace, row: Any) -> Reference:
    data = ws.artifacts.get(row.artifact)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            meta = json.loads(npz["meta"].tobytes().decode("utf-8"))
            if meta.get("format") != FORMAT:
                raise DataError(f"Monitoring reference {row.artifact} has format {meta.get('format')!r}, "
                                f"expected {FORMAT!r}.")
            return Reference(
                id=int(row.id), model=row.model, version=int(row.version), artifact=row.artifact,
                task=meta["task"], features=list(meta["features"]), classes=meta["classes"],
                profile=Profile.from_bytes(npz["profile"].tobytes()),
                output_profile=Profile.from_bytes(npz["output_profile"].tobytes()),
                label_profile=Profile.from_bytes(npz["label_profile"].tobytes()),
                eval_features=from_parquet_bytes(npz["eval_features"].tobytes()),
                y=np.asarray(npz["y"]), y_pred=np.asarray(npz["y_pred"]),
                proba=np.asarray(npz["proba"], dtype=np.float64) if "proba" in npz.files else None,
                details=dict(row.details),
            )
    except (ValueError, KeyError, OSError) as exc:
        raise DataError(f"Cannot read the monitoring reference {row.artifact} of {row.model}@{row.version}: "
                        f"{exc}.") from exc
