"""What the registry returns: versions, models, events and alias changes (plain frozen records)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AliasChange", "Event", "ModelInfo", "ModelVersion"]


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model: the stored model and everything recorded about it.

    Versions are immutable once registered, except ``description``, ``tags`` and the aliases
    pointing at them. ``ref`` is ``"name@version"``, the form the CLI accepts.

    Attributes:
        name: the model's name (letters, digits, ``-``, ``_``, ``.``).
        version: the version number: 1 for the first registration of ``name``, then 2, 3, …
        task: ``"classification"`` or ``"regression"``; the same for every version of a model.
        artifact: SHA-256 of the serialized model, its key in the artifact store (verified on
            every read).
        serializer: how the artifact was written: ``"skops"`` (default) or ``"pickle"`` (opt-in).
        flavor: the kind of model object; ``"sklearn"`` for a scikit-learn-style estimator.
        trusted_types: the types beyond skops' defaults that loading this model may create (its
            allowlist).
        signature: the model's inputs and output: ``{"inputs": [{"name", "type", "dtype",
            "nullable", "categories"?}, …], "output": {"name", "task", "classes"?}}``. The server
            validates requests against it.
        input_example: a few evaluation rows as JSON records, the shape of a predict request.
        params: the training parameters it was fitted with.
        metrics: metrics on the held-out evaluation rows (metric name → value; ``None`` when
            undefined on that holdout).
        lineage: where it came from: the dataset version (name, version, content hash), the
            evaluation split and a hash of its rows, the entrypoint, target, features, sample
            weight column, seed, code reference (git commit and dirty flag, or the source hash)
            and environment (Python and key package versions).
        dataset_version_id: database id of the :class:`~modelward.datasets.DatasetVersion` it
            was trained on (``None`` when registered without one).
        description: free text (``Registry.describe``), or ``None``.
        tags: string key/value pairs (``Registry.set_tags``).
        created_at: when it was registered (UTC).
        created_by: the actor who registered it (setting ``actor``; default: the OS user).
        aliases: the aliases pointing at this version now (``champion``, …), sorted.
        id: its database row id.
        importance: global importance of its input columns on the holdout, as computed at
            registration (``GlobalImportance.to_dict()`` of :mod:`modelward.explain.importance`:
            mean |SHAP| and permutation importance per column), or ``None``.
        created: ``True`` when the call that returned it registered it; ``False`` when an
            existing version was returned (e.g. an identical training).
    """

    name: str
    version: int
    task: str
    artifact: str
    serializer: str
    flavor: str
    trusted_types: list[str]
    signature: dict[str, Any]
    input_example: list[dict[str, Any]]
    params: dict[str, Any]
    metrics: dict[str, Any]
    lineage: dict[str, Any]
    dataset_version_id: int | None
    description: str | None
    tags: dict[str, str]
    created_at: dt.datetime
    created_by: str
    aliases: list[str] = field(default_factory=list)
    id: int = 0
    importance: dict[str, Any] | None = None
    created: bool = False  # True when this call registered the version (False: an existing one)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class ModelInfo:
    """A registered model as a whole, as listed by :meth:`Registry.list_models`.

    Attributes:
        name: the model's name.
        task: ``"classification"`` or ``"regression"``.
        description: the model's free-text description, or ``None``.
        tags: the model's string key/value tags (versions have tags of their own).
        created_at: when its first version was registered (UTC).
        latest_version: its highest version number (``None`` if it has none).
        versions: how many versions it has.
        aliases: alias → the version number it points at.
    """

    name: str
    task: str
    description: str | None
    tags: dict[str, str]
    created_at: dt.datetime
    latest_version: int | None
    versions: int
    aliases: dict[str, int]


@dataclass(frozen=True)
class Event:
    """One entry of the append-only audit log: who did what to which subject, when, and with what.

    Database triggers refuse updates and deletes of the log, on SQLite and PostgreSQL alike.

    Attributes:
        id: its position in the log (increasing).
        ts: when it happened (UTC).
        actor: who did it (setting ``actor``; default: the OS user).
        kind: what happened: ``model_created``, ``version_registered``, ``alias_set``,
            ``alias_rollback``, ``alias_removed``, ``tags_set``, ``description_set``,
            ``dataset_version_added``, …
        subject_type: what kind of thing it happened to: ``"model"`` or ``"dataset"``.
        subject: the name of that model or dataset.
        payload: the evidence, by kind: the version and metrics registered, an alias change's
            ``alias``/``from``/``to``/``reason``, the tags set, …
    """

    id: int
    ts: dt.datetime
    actor: str
    kind: str
    subject_type: str
    subject: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class AliasChange:
    """One move of an alias, as :meth:`Registry.history` lists them.

    Attributes:
        ts: when the alias moved (UTC).
        alias: which alias (``champion``, ``challenger``, …).
        from_version: the version it pointed at before (``None`` if it was not set).
        to_version: the version it points at after (``None`` when it was removed).
        actor: who moved it.
        reason: why, as given (``--reason``), or ``None``.
        kind: ``"alias_set"`` (promote), ``"alias_rollback"`` or ``"alias_removed"``.
    """

    ts: dt.datetime
    alias: str
    from_version: int | None
    to_version: int
    actor: str
    reason: str | None
    kind: str


def _version(row: Any, model: Any, held: list[str]) -> ModelVersion:
    return ModelVersion(
        id=int(row.id),
        name=model.name,
        version=int(row.version),
        task=model.task,
        artifact=row.artifact,
        serializer=row.serializer,
        flavor=row.flavor,
        trusted_types=list(row.trusted_types or []),
        signature=dict(row.signature),
        input_example=list(row.input_example),
        params=dict(row.params),
        metrics=dict(row.metrics),
        lineage=dict(row.lineage),
        dataset_version_id=row.dataset_version_id,
        description=row.description,
        tags=dict(row.tags or {}),
        created_at=row.created_at,
        created_by=row.created_by,
        aliases=sorted(held),
        importance=dict(row.importance) if row.importance else None,
    )
