"""Train a spec on a dataset version (nothing registered), then register the result as a new version
unless an identical training is already registered; and load a registered version's model."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelward import persistence
from modelward.artifacts import ArtifactStore, sha256_bytes
from modelward.config import ModelSpec
from modelward.datasets import DatasetVersion
from modelward.errors import ModelwardError
from modelward.explain.importance import global_importance
from modelward.registry import ModelVersion
from modelward.training._context import TrainingContext
from modelward.training._fit import Prepared, TrainingResult, fit, prepare
from modelward.training._lineage import Lineage, LineageError

__all__ = ["Trained", "load_model", "record_importance", "register", "train"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trained:
    """A model trained and evaluated on a dataset version, serialised, and not registered yet.

    Attributes:
        spec: the recipe as trained, with any sample-weight override applied.
        dataset: the dataset version trained on.
        prepared: its train and evaluation rows.
        result: the fitted model, holdout metrics, signature, lineage and params.
        blob: the model serialised with ``spec.serializer`` (its SHA-256 is :attr:`artifact`).
        loaded: the model as loaded back from :attr:`blob` to check it (skops), else None.
    """

    spec: ModelSpec  # as trained: with any sample-weight override applied
    dataset: DatasetVersion
    prepared: Prepared  # its train and evaluation rows
    result: TrainingResult  # model, holdout metrics, signature, lineage, params
    blob: bytes  # the model, serialised with ``spec.serializer``
    loaded: Any = field(default=None, compare=False, repr=False)  # loaded back from the blob (skops)

    @property
    def artifact(self) -> str:
        """SHA-256 of :attr:`blob`: the artifact it is (or would be) stored under."""
        return sha256_bytes(self.blob)


def train(
    ctx: TrainingContext,
    spec: ModelSpec,
    dataset: DatasetVersion,
    *,
    params: Mapping[str, Any] | None = None,
    sample_weight: str | None = None,
) -> Trained:
    """Train ``spec`` on ``dataset``; register nothing.

    ``params`` override the spec's; ``sample_weight`` names a column of ``dataset`` to weight training
    rows by, instead of the spec's. A serializer that could not load the model back refuses it now.
    """
    if sample_weight is not None:
        spec = spec.model_copy(update={"sample_weight": sample_weight})
    prepared = prepare(ctx.datasets.load(dataset), spec, dataset=dataset.ref)
    result = fit(spec, prepared, dataset, params={**spec.params, **(params or {})}, root=ctx.root)
    blob = persistence.dumps(result.model, spec.serializer)
    loaded = None
    if spec.serializer == "skops":  # refuse now, not at load time, what could never be loaded
        loaded = persistence.loads(
            blob, "skops", trusted=spec.trusted_types, name=f"the model from {spec.entrypoint}"
        )
    return Trained(spec, dataset, prepared, result, blob, loaded)


def register(
    ctx: TrainingContext,
    name: str,
    trained: Trained,
    *,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
    force: bool = False,
    importance: bool = True,
) -> ModelVersion:
    """Store ``trained``'s model and register it as the next version of ``name`` (``created=True``).

    When a version of ``name`` was trained the same way (same data content, code reference,
    entrypoint, target, features, sample weights, split, params and seed) and its model bytes are the
    same, nothing is registered: that version is returned with ``created=False``. ``force=True``
    registers a new version anyway. ``importance``: compute the global importance of its columns on the
    holdout now (False: later, with :func:`record_importance`).
    """
    spec, result = trained.spec, trained.result
    if not force:
        identity = _training_identity(result.params, result.lineage, spec.serializer, spec.trusted_types)
        for version in ctx.registry.versions_with_artifact(name, trained.artifact):
            if _identity_of(version) == identity:
                log.debug(
                    "%s: identical to %s (same data, code, params, seed and model bytes); nothing registered",
                    name,
                    version.ref,
                )
                return version
    wanted = importance and trained.spec.importance
    found = _importance(trained.result.model, trained.prepared, trained.spec.task) if wanted else None
    artifact = ctx.artifacts.put(trained.blob)
    return ctx.registry.register(
        name,
        task=spec.task,
        artifact=artifact,
        serializer=spec.serializer,
        flavor="sklearn",
        trusted_types=spec.trusted_types,
        signature=result.signature,
        input_example=result.input_example,
        params=result.params,
        metrics=result.metrics,
        lineage=result.lineage.to_dict(),
        dataset_version_id=trained.dataset.id,
        description=description or spec.description,
        tags=tags,
        importance=found,
    )


def record_importance(ctx: TrainingContext, version: ModelVersion, model: Any = None) -> ModelVersion:
    """Compute and record the global importance of ``version`` (registered with ``importance=False``) on
    its holdout, rebuilt from its lineage; best effort: a version without lineage, or whose importance
    cannot be computed, is returned as it is."""
    if version.importance is not None:
        return version
    from modelward.training._rebuild import rebuild

    try:
        prepared = rebuild(ctx, version).prepared
        model = model if model is not None else load_model(ctx.artifacts, version)
    except Exception:  # no lineage, data gone, model unreadable: the version stays as it is
        log.warning("%s: no holdout to compute importance on", version.ref, exc_info=True)
        return version
    found = _importance(model, prepared, version.task)
    if found is not None:
        ctx.registry.set_importance(version.name, version.version, found)
    return ctx.registry.get(version.name, version.version)


def _importance(model: Any, prepared: Prepared, task: str) -> dict[str, Any] | None:
    """Global importance on the holdout (mean |SHAP|, permutation importance); ``None`` if it fails."""
    try:
        found = global_importance(
            model,
            prepared.features,
            prepared.test[prepared.features],
            prepared.test[prepared.target].to_numpy(),
            task=task,
        )
    except Exception:  # the version registers without it; the explanation is extra evidence
        log.warning("global importance of the new version could not be computed", exc_info=True)
        return None
    log.debug("global importance: %s on %d rows in %.2f s", found.method, found.rows, found.seconds)
    return found.to_dict()


def load_model(artifacts: ArtifactStore, version: ModelVersion) -> Any:
    """The fitted estimator of ``version``: hash-verified and loaded with its allowlist."""
    serializer = version.serializer
    if serializer not in ("skops", "pickle"):
        raise ModelwardError(f"{version.ref} uses unknown serializer {serializer!r}.")
    return persistence.load(
        artifacts,
        version.artifact,
        "pickle" if serializer == "pickle" else "skops",
        trusted=version.trusted_types,
        name=version.ref,
    )


def _training_identity(
    params: Mapping[str, Any], lineage: Lineage, serializer: str, trusted_types: list[str]
) -> str:
    """What makes two trainings of a model the same training, as canonical JSON."""
    identity = {
        "data": lineage.dataset.content_hash,
        "code": lineage.code.to_dict(),
        "entrypoint": lineage.entrypoint,
        "params": params,
        "seed": lineage.seed,
        "target": lineage.target,
        "features": list(lineage.features),
        "sample_weight": lineage.sample_weight,
        "split": lineage.evaluation.split.model_dump(),
        "serializer": serializer,
        "trusted_types": sorted(trusted_types),
    }
    return json.dumps(identity, sort_keys=True, default=str)


def _identity_of(version: ModelVersion) -> str | None:
    """The training identity of a registered version; ``None`` when it records no training lineage."""
    try:
        lineage = Lineage.from_dict(version.lineage)
    except LineageError:
        return None
    return _training_identity(version.params, lineage, version.serializer, version.trusted_types)
