"""The workspace: settings + metadata store + artifact store, opened by every interface.

>>> import tempfile
>>> from modelward import Workspace
>>> with tempfile.TemporaryDirectory() as tmp:
...     ws = Workspace.init(tmp)
...     print(ws.registry.list_models())
...     ws.close()
[]
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelward import persistence
from modelward.artifacts import ArtifactStore, sha256_bytes
from modelward.config import CONFIG_FILE, STATE_DIR, ModelSpec, Settings, load_settings
from modelward.datasets import DatasetStore, DatasetVersion
from modelward.errors import ConfigError, ModelwardError, WorkspaceNotFoundError
from modelward.registry import ModelVersion, Registry
from modelward.store import Store

if TYPE_CHECKING:
    from modelward.jobs import JobStore
    from modelward.results import MonitoringResults

__all__ = ["ReproduceReport", "Workspace"]

log = logging.getLogger(__name__)

_TEMPLATE = """\
# modelward workspace settings. Every key is documented in docs/configuration.md.
# Precedence: CLI flag > MODELWARD_* environment > this file > default.

# database_url: postgresql+psycopg://user@127.0.0.1:5432/modelward   # default: SQLite in .modelward/
# artifacts: .modelward/artifacts                                    # a path or an fsspec URL

models: {}
#  credit:
#    task: classification
#    target: approved
#    entrypoint: modelward.demo:train_random_forest
#    dataset: agrawal
#    params: {n_estimators: 100, max_depth: 8, random_state: 0}
#    split: {kind: random, test_size: 0.25, seed: 0}
"""


@dataclass
class ReproduceReport:
    """Result of :meth:`Workspace.reproduce`."""

    ref: str
    identical: bool
    max_abs_difference: float
    rows_compared: int
    differences: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics_original: dict[str, Any] = field(default_factory=dict)
    metrics_reproduced: dict[str, Any] = field(default_factory=dict)


class Workspace:
    """A modelward workspace rooted at a directory holding ``modelward.yaml``."""

    def __init__(self, root: Path, settings: Settings, store: Store, artifacts: ArtifactStore) -> None:
        self.root = root
        self.settings = settings
        self.store = store
        self.artifacts = artifacts
        actor = settings.actor_name
        self.registry = Registry(store, actor)
        self.datasets = DatasetStore(store, artifacts, actor)

    @cached_property
    def monitoring_results(self) -> MonitoringResults:
        """Stored monitoring results: monitored windows, their time series, references (imported on first use)."""
        from modelward.results import MonitoringResults

        return MonitoringResults(self.store, self.artifacts)

    @cached_property
    def jobs(self) -> JobStore:
        """Retrain jobs, the maintenance loop's state and its events (imported on first use)."""
        from modelward.jobs import JobStore

        return JobStore(self.store, self.settings.actor_name)

    # -- opening ---------------------------------------------------------------------------------

    @classmethod
    def init(cls, path: str | Path = ".", *, config: str | None = None, **overrides: Any) -> Workspace:
        """Create ``modelward.yaml`` and ``.modelward/`` at ``path`` (kept if present) and open it."""
        root = Path(path).resolve()
        root.mkdir(parents=True, exist_ok=True)
        cfg = root / CONFIG_FILE
        if not cfg.exists():
            cfg.write_text(config if config is not None else _TEMPLATE, encoding="utf-8")
        (root / STATE_DIR).mkdir(exist_ok=True)
        return cls._open(root, create=True, overrides=overrides)

    @classmethod
    def open(cls, path: str | Path = ".", **overrides: Any) -> Workspace:
        """Open the workspace at ``path`` or the nearest parent holding ``modelward.yaml``.

        The database must exist: a missing SQLite file is a :class:`~modelward.errors.StoreError`
        naming it, never a new empty database (only :meth:`init` creates one). An empty
        PostgreSQL database is migrated, since creating the database itself is its administrator's job.
        """
        return cls._open(Path(path), create=False, overrides=overrides)

    @classmethod
    def _open(cls, path: Path, *, create: bool, overrides: Mapping[str, Any]) -> Workspace:
        root = _find_root(path)
        settings = load_settings(root, **overrides)
        store = Store.open(
            _database_url(root, settings), busy_timeout_ms=settings.sqlite_busy_timeout_ms, create=create
        )
        artifacts = ArtifactStore(_artifact_location(root, settings.artifacts))
        return cls(root, settings, store, artifacts)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- models ----------------------------------------------------------------------------------

    def model_spec(self, name: str) -> ModelSpec:
        spec = self.settings.models.get(name)
        if spec is None:
            declared = ", ".join(sorted(self.settings.models)) or "none"
            raise ConfigError(
                f"Model {name!r} is not declared in {self.root / CONFIG_FILE} (declared: {declared}). "
                "Add it under `models:`.",
                details={"model": name},
            )
        return spec

    def resolve_dataset(self, spec: ModelSpec, data: str | None) -> DatasetVersion:
        from modelward._refs import parse_ref

        if data is None:
            if spec.dataset is None:
                raise ConfigError(
                    "No dataset given: pass --data NAME[@VERSION] or set `dataset:` for the model."
                )
            data = spec.dataset
        name, ref = parse_ref(data, "dataset name")
        if isinstance(ref, str):
            raise ModelwardError(f"Datasets have numbered versions, not aliases: {data!r}. Use NAME@VERSION.")
        return self.datasets.get(name, ref)

    def train(
        self,
        name: str,
        *,
        data: str | None = None,
        params: Mapping[str, Any] | None = None,
        description: str | None = None,
        force: bool = False,
    ) -> ModelVersion:
        """Train model ``name`` as declared, evaluate it, persist it and register a new version.

        When an existing version of ``name`` was trained the same way (same data content, code
        reference, entrypoint, target, features, split, params and seed) and the model's bytes are
        the same, nothing is registered: that version is returned with ``created=False``.
        ``force=True`` registers a new version anyway. A new version has ``created=True``.
        """
        from modelward.training import fit, prepare

        spec = self.model_spec(name)
        dataset = self.resolve_dataset(spec, data)
        frame = self.datasets.load(dataset)
        prepared = prepare(frame, spec, dataset=dataset.ref)
        merged = {**spec.params, **(params or {})}
        result = fit(spec, prepared, dataset, params=merged, root=self.root)
        blob = persistence.dumps(result.model, spec.serializer)
        if spec.serializer == "skops":  # refuse now, not at load time, what could never be loaded
            persistence.loads(blob, "skops", trusted=spec.trusted_types, name=f"model {name!r}")
        if not force:
            same = _identical_version(
                self.registry.versions_with_artifact(name, sha256_bytes(blob)),
                _training_identity(result.params, result.lineage, spec.serializer, spec.trusted_types),
            )
            if same is not None:
                log.debug("%s: identical to %s (same data, code, params, seed and model bytes); "
                         "nothing registered", name, same.ref)
                return same
        artifact = self.artifacts.put(blob)
        return self.registry.register(
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
            lineage=result.lineage,
            dataset_version_id=dataset.id,
            description=description or spec.description,
        )

    def load_model(self, version: ModelVersion) -> Any:
        """The fitted estimator of ``version``: hash-verified and loaded with its allowlist."""
        serializer = version.serializer
        if serializer not in ("skops", "pickle"):
            raise ModelwardError(f"{version.ref} uses unknown serializer {serializer!r}.")
        return persistence.load(
            self.artifacts,
            version.artifact,
            "pickle" if serializer == "pickle" else "skops",
            trusted=version.trusted_types,
            name=version.ref,
        )

    # -- reproduce -------------------------------------------------------------------------------

    def reproduce(self, name: str, ref: int | str | None = None) -> ReproduceReport:
        """Retrain ``name@ref`` from its lineage; compare predictions on the recorded evaluation rows."""
        from modelward.training import fit, prepare

        original = self.registry.get(name, ref)
        lineage = original.lineage
        if original.dataset_version_id is None:
            raise ModelwardError(f"{original.ref} has no recorded dataset version; it cannot be reproduced.")
        dataset = self.datasets.get_by_id(original.dataset_version_id)
        frame = self.datasets.load(dataset)
        spec = ModelSpec(
            task=original.task,
            target=lineage["target"],
            features=lineage["features"],
            entrypoint=lineage["entrypoint"],
            params=original.params,
            split=lineage["evaluation"]["split"],
            sample_weight=lineage.get("sample_weight"),
            serializer=original.serializer,
            trusted_types=original.trusted_types,
        )
        prepared = prepare(frame, spec, dataset=dataset.ref)
        result = fit(spec, prepared, dataset, params=original.params, root=self.root)
        old_model = self.load_model(original)
        x = prepared.test[prepared.features]
        old, new = _outputs(old_model, x), _outputs(result.model, x)
        identical, max_diff = _compare(old, new)
        differences = _lineage_differences(lineage, result.lineage, dataset)
        return ReproduceReport(
            ref=original.ref,
            identical=identical,
            max_abs_difference=max_diff,
            rows_compared=len(x),
            differences=differences,
            metrics_original=original.metrics,
            metrics_reproduced=result.metrics,
        )


def _training_identity(
    params: Mapping[str, Any], lineage: Mapping[str, Any], serializer: str, trusted_types: list[str]
) -> str:
    """What makes two trainings of a model the same training, as canonical JSON."""
    identity = {
        "data": lineage.get("dataset", {}).get("content_hash"),
        "code": lineage.get("code"),
        "entrypoint": lineage.get("entrypoint"),
        "params": params,
        "seed": lineage.get("seed"),
        "target": lineage.get("target"),
        "features": lineage.get("features"),
        "sample_weight": lineage.get("sample_weight"),
        "split": lineage.get("evaluation", {}).get("split"),
        "serializer": serializer,
        "trusted_types": sorted(trusted_types),
    }
    return json.dumps(identity, sort_keys=True, default=str)


def _identical_version(candidates: list[ModelVersion], identity: str) -> ModelVersion | None:
    """The first of ``candidates`` (versions with the same artifact bytes) trained the same way."""
    for version in candidates:
        if _training_identity(version.params, version.lineage, version.serializer, version.trusted_types) == identity:
            return version
    return None


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
    recorded: Mapping[str, Any], now: Mapping[str, Any], dataset: DatasetVersion
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    rec_code, now_code = recorded.get("code", {}), now.get("code", {})
    for key in ("commit", "dirty", "source_sha256"):
        if rec_code.get(key) != now_code.get(key):
            out[f"code.{key}"] = {"recorded": rec_code.get(key), "now": now_code.get(key)}
    rec_env, now_env = recorded.get("environment", {}), now.get("environment", {})
    if rec_env.get("python") != now_env.get("python"):
        out["environment.python"] = {"recorded": rec_env.get("python"), "now": now_env.get("python")}
    rec_pkgs, now_pkgs = rec_env.get("packages", {}), now_env.get("packages", {})
    for pkg in sorted(set(rec_pkgs) | set(now_pkgs)):
        if rec_pkgs.get(pkg) != now_pkgs.get(pkg):
            out[f"package.{pkg}"] = {"recorded": rec_pkgs.get(pkg), "now": now_pkgs.get(pkg)}
    rec_data = recorded.get("dataset", {})
    if rec_data.get("content_hash") != dataset.content_hash:
        out["data.content_hash"] = {"recorded": rec_data.get("content_hash"), "now": dataset.content_hash}
    rec_eval = recorded.get("evaluation", {})
    if rec_eval.get("index_sha256") != now.get("evaluation", {}).get("index_sha256"):
        out["data.evaluation_rows"] = {
            "recorded": rec_eval.get("index_sha256"),
            "now": now.get("evaluation", {}).get("index_sha256"),
        }
    return out


def _find_root(path: Path) -> Path:
    start = path.resolve()
    if not start.is_dir():
        raise WorkspaceNotFoundError(
            f"Workspace directory {start} does not exist. Create it with `modelward init {path}`."
        )
    for candidate in (start, *start.parents):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    raise WorkspaceNotFoundError(
        f"No modelward workspace at {start} or its parents (no {CONFIG_FILE}). "
        "Create one with `modelward init` or pass --workspace DIR."
    )


def _database_url(root: Path, settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{root / STATE_DIR / 'modelward.db'}"


def _artifact_location(root: Path, location: str) -> str:
    if "://" in location:
        return location
    path = Path(location)
    return str(path if path.is_absolute() else root / path)
