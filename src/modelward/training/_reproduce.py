"""Retrain a registered version from its lineage and compare: predictions on the recorded evaluation
rows, and what differs now (code, packages, data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelward.datasets import DatasetVersion
from modelward.errors import ModelwardError
from modelward.registry import ModelVersion
from modelward.training._context import TrainingContext
from modelward.training._fit import fit
from modelward.training._lineage import Lineage
from modelward.training._rebuild import rebuild
from modelward.training._train import load_model

__all__ = ["ReproduceReport", "reproduce"]


@dataclass
class ReproduceReport:
    """Result of :func:`reproduce` (and :meth:`Workspace.reproduce <modelward.Workspace.reproduce>`):
    a version retrained from its lineage, compared with the original.

    Attributes:
        ref: the version reproduced (``name@version``).
        identical: whether the retrained model's outputs (probabilities, else predictions) equal
            the original's exactly on every recorded evaluation row.
        max_abs_difference: the largest absolute difference between those outputs (``inf`` when
            their shapes or labels differ).
        rows_compared: how many evaluation rows were compared.
        differences: what changed since the original was trained, ``{"recorded", "now"}`` by
            item: ``code.commit``, ``code.dirty``, ``code.source_sha256``, ``environment.python``,
            ``package.<name>``, ``data.content_hash``, ``data.evaluation_rows``.
        metrics_original: the original's recorded evaluation metrics.
        metrics_reproduced: the retrained model's metrics on the same rows.
    """

    ref: str
    identical: bool
    max_abs_difference: float
    rows_compared: int
    differences: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics_original: dict[str, Any] = field(default_factory=dict)
    metrics_reproduced: dict[str, Any] = field(default_factory=dict)


def reproduce(ctx: TrainingContext, version: ModelVersion) -> ReproduceReport:
    """Retrain ``version`` from its lineage; compare predictions on the recorded evaluation rows."""
    if version.dataset_version_id is None:
        raise ModelwardError(f"{version.ref} has no recorded dataset version; it cannot be reproduced.")
    rebuilt = rebuild(ctx, version)
    assert rebuilt.dataset is not None  # it has a dataset version id
    result = fit(rebuilt.spec, rebuilt.prepared, rebuilt.dataset, params=version.params, root=ctx.root)
    x = rebuilt.holdout[rebuilt.prepared.features]
    old, new = _outputs(load_model(ctx.artifacts, version), x), _outputs(result.model, x)
    identical, max_diff = _compare(old, new)
    return ReproduceReport(
        ref=version.ref,
        identical=identical,
        max_abs_difference=max_diff,
        rows_compared=len(x),
        differences=_lineage_differences(rebuilt.lineage, result.lineage, rebuilt.dataset),
        metrics_original=version.metrics,
        metrics_reproduced=result.metrics,
    )


def _outputs(model: Any, x: pd.DataFrame) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        try:
            return np.asarray(model.predict_proba(x), dtype=float)
        except (AttributeError, NotImplementedError):
            pass
    pred = np.asarray(model.predict(x))
    return pred if pred.dtype.kind not in "fiub" else pred.astype(float)


def _compare(old: np.ndarray, new: np.ndarray) -> tuple[bool, float]:
    if old.shape != new.shape:
        return False, float("inf")
    if old.dtype.kind == "f" and new.dtype.kind == "f":
        identical = bool(np.array_equal(old, new, equal_nan=True))
        diff = np.abs(old - new)
        return identical, float(np.nanmax(diff)) if diff.size else 0.0
    identical = bool(np.array_equal(old, new))
    return identical, 0.0 if identical else float("inf")


def _lineage_differences(
    recorded: Lineage, now: Lineage, dataset: DatasetVersion
) -> dict[str, dict[str, Any]]:
    """What differs between the recorded lineage and a retraining's, keyed ``area.element``."""
    out: dict[str, dict[str, Any]] = {}

    def note(key: str, was: Any, is_: Any) -> None:
        if was != is_:
            out[key] = {"recorded": was, "now": is_}

    for key in ("commit", "dirty", "source_sha256"):
        note(f"code.{key}", getattr(recorded.code, key), getattr(now.code, key))
    note("environment.python", recorded.environment.python, now.environment.python)
    rec_pkgs, now_pkgs = recorded.environment.packages, now.environment.packages
    for pkg in sorted(set(rec_pkgs) | set(now_pkgs)):
        note(f"package.{pkg}", rec_pkgs.get(pkg), now_pkgs.get(pkg))
    note("data.content_hash", recorded.dataset.content_hash, dataset.content_hash)
    note("data.evaluation_rows", recorded.evaluation.index_sha256, now.evaluation.index_sha256)
    return out
