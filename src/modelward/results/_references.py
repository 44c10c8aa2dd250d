"""Monitoring references in the store: one per model version, recorded in ``monitoring_references``.

The :class:`~modelward.monitoring.Reference` of a model is saved as one ``.npz`` blob (no pickle) in the
content-addressed artifact store: the feature, output and label profiles, the holdout's features (as
Parquet), labels, predictions and probabilities, and a JSON header. Later passes load that blob and
never touch the training data or the model again.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from modelward.artifacts import ArtifactStore
from modelward.datasets import from_parquet_bytes, to_parquet_bytes
from modelward.errors import DataError, ModelwardError
from modelward.monitoring import Holdout, OutputReference, Profile, Reference
from modelward.store import Store
from modelward.store.schema import monitoring_references, utcnow

__all__ = ["FORMAT", "ReferenceSource", "StoredReference", "add", "get"]

FORMAT = "modelward.monitor-reference/1"


@dataclass(frozen=True)
class ReferenceSource:
    """Where a model's reference came from; saved in its blob, and but for ``target`` in
    :attr:`StoredReference.details`.

    Attributes:
        target: the label column of the training data.
        source: the dataset version it was trained on (``name@version``).
        reference_rows: rows of that dataset version, all of which the feature profile holds.
    """

    target: str
    source: str
    reference_rows: int


@dataclass(frozen=True)
class StoredReference:
    """A model version's reference as stored; ``holdout`` is its evaluation rows with the model's outputs.

    Attributes:
        id: its row id (each monitoring run records the reference it was compared with).
        model: the model's name.
        version: the model version it belongs to (one reference per version).
        artifact: SHA-256 of the ``.npz`` blob holding it in the artifact store (no pickle).
        details: ``source``, ``reference_rows``, ``evaluation_rows`` and ``features``, as JSON.
        reference: the :class:`~modelward.monitoring.Reference` itself: feature, output and label
            profiles and the holdout.
    """

    id: int
    model: str
    version: int
    artifact: str
    details: dict[str, Any]
    reference: Reference

    @property
    def holdout(self) -> Holdout:
        assert self.reference.holdout is not None  # every stored reference has one (FORMAT)
        return self.reference.holdout


def _select(model: str, version: int) -> sa.Select[Any]:
    r = monitoring_references.c
    return sa.select(monitoring_references).where(r.model == model, r.version == version)


def get(store: Store, artifacts: ArtifactStore, model: str, version: int) -> StoredReference | None:
    with store.read() as conn:
        row = conn.execute(_select(model, version)).first()
    return None if row is None else _load(artifacts, row)


def add(
    store: Store,
    artifacts: ArtifactStore,
    model: str,
    version: int,
    reference: Reference,
    source: ReferenceSource,
) -> StoredReference:
    artifact, details = _save(artifacts, reference, source)
    with store.write() as conn:
        if (
            conn.execute(_select(model, version)).first() is None
        ):  # another process may have stored one: keep it
            conn.execute(
                monitoring_references.insert().values(
                    model=model,
                    version=version,
                    artifact=artifact,
                    format=FORMAT,
                    details=details,
                    created_at=utcnow(),
                )
            )
    with store.read() as conn:
        row = conn.execute(_select(model, version)).one()
    return _load(artifacts, row)


def _plain_array(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """An array ``np.load(allow_pickle=False)`` can read: numbers as they are, anything else as text."""
    arr = np.asarray(values)
    if arr.dtype.kind in "biuf":
        return arr
    return arr.astype(str)


def _bytes(data: bytes) -> npt.NDArray[np.uint8]:
    return np.frombuffer(data, dtype=np.uint8)


def _save(
    artifacts: ArtifactStore, reference: Reference, source: ReferenceSource
) -> tuple[str, dict[str, Any]]:
    holdout, outputs, labels = reference.holdout, reference.outputs, reference.labels
    if holdout is None or outputs is None or labels is None:
        raise ModelwardError(
            "A stored monitoring reference needs the model's holdout and the output and label "
            "references; build it with Reference.of_model."
        )
    meta = {
        "format": FORMAT,
        "task": holdout.task,
        "features": holdout.feature_names,
        "classes": holdout.classes,
        "target": source.target,
        "source": source.source,
        "reference_rows": source.reference_rows,
        "evaluation_rows": len(holdout.features),
    }
    arrays: dict[str, Any] = {
        "meta": _bytes(json.dumps(meta).encode("utf-8")),
        "profile": _bytes(reference.profile.to_bytes()),
        "output_profile": _bytes(outputs.profile.to_bytes()),
        "label_profile": _bytes(labels.profile.to_bytes()),
        "eval_features": _bytes(to_parquet_bytes(holdout.features)),
        "y": _plain_array(holdout.y),
        "y_pred": _plain_array(holdout.y_pred),
    }
    if holdout.proba is not None:
        arrays["proba"] = np.asarray(holdout.proba, dtype=np.float64)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    details = {k: meta[k] for k in ("source", "reference_rows", "evaluation_rows", "features")}
    return artifacts.put(buf.getvalue()), details


def _load(artifacts: ArtifactStore, row: Any) -> StoredReference:
    data = artifacts.get(row.artifact)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            meta = json.loads(npz["meta"].tobytes().decode("utf-8"))
            if meta.get("format") != FORMAT:
                raise DataError(
                    f"Monitoring reference {row.artifact} has format {meta.get('format')!r}, "
                    f"expected {FORMAT!r}."
                )
            task = meta["task"]
            holdout = Holdout(
                task=task,
                classes=meta["classes"],
                features=from_parquet_bytes(npz["eval_features"].tobytes()),
                y=np.asarray(npz["y"]),
                y_pred=np.asarray(npz["y_pred"]),
                proba=np.asarray(npz["proba"], dtype=np.float64) if "proba" in npz.files else None,
            )
            reference = Reference(
                profile=Profile.from_bytes(npz["profile"].tobytes()),
                outputs=OutputReference(
                    "prediction", task, Profile.from_bytes(npz["output_profile"].tobytes())
                ),
                labels=OutputReference("label", task, Profile.from_bytes(npz["label_profile"].tobytes())),
                rows=holdout.features,
                holdout=holdout,
            )
    except (ValueError, KeyError, OSError) as exc:
        raise DataError(
            f"Cannot read the monitoring reference {row.artifact} of {row.model}@{row.version}: {exc}."
        ) from exc
    return StoredReference(
        int(row.id), row.model, int(row.version), row.artifact, dict(row.details), reference
    )
