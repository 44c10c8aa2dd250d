"""The monitoring reference of a model version: built once from its lineage, stored by
``ws.monitoring_results``, reused by every window.

Built from the dataset version the model was trained on (as recorded in its lineage):

* the feature profile: every row of the training snapshot, features only, kinds from the signature;
* the model's outputs on the evaluation rows (the holdout the lineage records, which the model did
  not see): predictions and class probabilities, computed by loading the model with the
  workspace's safe loader. They are the reference of prediction drift, of label drift, and what
  label-free estimators (CBPE for classifiers, DLE for regression) are calibrated on.

:func:`training_data` takes the training rows and holdout from :func:`modelward.training.rebuild`, the
one place that turns a lineage back into training rows and a holdout (``reproduce`` uses it too).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelward.monitoring import Holdout, Reference
from modelward.registry import ModelVersion
from modelward.results import ReferenceSource, StoredReference
from modelward.training import predict_proba, rebuild
from modelward.workspace import Workspace

__all__ = ["TrainingData", "build_reference", "get_reference", "training_data"]

log = logging.getLogger(__name__)

_PROFILE_KINDS = ("numeric", "categorical", "boolean")


@dataclass(frozen=True)
class TrainingData:
    """A model version's training data, rebuilt from its lineage: every row of the snapshot it was trained
    on, and the evaluation rows (holdout) the lineage records."""

    frame: pd.DataFrame
    holdout: pd.DataFrame
    features: list[str]
    target: str
    source: str


def get_reference(ws: Workspace, mv: ModelVersion) -> StoredReference:
    """The stored reference of ``mv``, built (and stored) on first use."""
    stored = ws.monitoring_results.reference(mv.name, mv.version)
    if stored is None:
        reference, source = build_reference(ws, mv)
        stored = ws.monitoring_results.add_reference(mv.name, mv.version, reference, source)
    return stored


def training_data(ws: Workspace, mv: ModelVersion) -> TrainingData:
    """The training rows and holdout of ``mv``, rebuilt from its lineage by :func:`modelward.training.rebuild`."""
    rebuilt = rebuild(ws, mv)
    prepared = rebuilt.prepared
    return TrainingData(
        rebuilt.frame, prepared.test, list(prepared.features), prepared.target, rebuilt.source
    )


def build_reference(ws: Workspace, mv: ModelVersion) -> tuple[Reference, ReferenceSource]:
    """Fit the reference of ``mv``: profile its training rows, run the model on its holdout."""
    data = training_data(ws, mv)
    features = data.features
    inputs = {i["name"]: i for i in mv.signature.get("inputs", [])}
    # Kinds from the signature; datetime/text inputs are not profiled; a feature missing from the
    # signature gets its kind inferred by the profile.
    schema = {
        f: inputs[f].get("type") if inputs[f].get("type") in _PROFILE_KINDS else "ignore"
        for f in features
        if f in inputs
    }
    x_eval = data.holdout[features].reset_index(drop=True)
    y_eval = data.holdout[data.target].to_numpy()
    model = ws.load_model(mv)
    y_pred = np.asarray(model.predict(x_eval))
    proba = predict_proba(model, x_eval) if mv.task == "classification" else None
    classes: list[Any] | None = mv.signature.get("output", {}).get("classes")
    if mv.task == "classification" and classes is None:
        classes = [v.item() if isinstance(v, np.generic) else v for v in np.unique(y_eval)]
    holdout = Holdout(task=mv.task, classes=classes, features=x_eval, y=y_eval, y_pred=y_pred, proba=proba)
    reference = Reference.of_model(data.frame[features], holdout, schema)
    log.info(
        "built the monitoring reference of %s from %s (%d rows, %d evaluation rows)",
        mv.ref,
        data.source,
        len(data.frame),
        len(x_eval),
    )
    return reference, ReferenceSource(target=data.target, source=data.source, reference_rows=len(data.frame))
