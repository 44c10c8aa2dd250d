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

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelward import training
from modelward.artifacts import ArtifactStore
from modelward.config import CONFIG_FILE, STATE_DIR, ModelSpec, Settings, load_settings
from modelward.datasets import DatasetStore, DatasetVersion
from modelward.errors import ConfigError, ModelwardError, WorkspaceNotFoundError
from modelward.registry import ModelVersion, Registry
from modelward.store import Store
from modelward.training import ReproduceReport

if TYPE_CHECKING:
    from modelward.jobs import JobStore
    from modelward.jobs.lease import LeaseStore
    from modelward.results import MonitoringResults
    from modelward.rollouts import RolloutStore

__all__ = ["ReproduceReport", "Workspace"]

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

    @cached_property
    def leases(self) -> LeaseStore:
        """The loop's lease: which process leads the loop, and the epoch that fences a stale leader."""
        from modelward.jobs.lease import LeaseStore

        return LeaseStore(self.store)

    @cached_property
    def rollouts(self) -> RolloutStore:
        """Rollouts (shadow, canary, A/B), their per-arm counters and their events (imported on first use)."""
        from modelward.rollouts import RolloutStore

        return RolloutStore(self.store, self.settings.actor_name)

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

    @classmethod
    def reopen(cls, root: Path, settings: Settings, artifacts: ArtifactStore) -> Workspace:
        """A workspace opened again from its parts, e.g. a :meth:`scratch` copy in another process (the
        database must exist)."""
        store = Store.open(_database_url(root, settings), busy_timeout_ms=settings.sqlite_busy_timeout_ms)
        return cls(root, settings, store, artifacts)

    def scratch(self, directory: str | Path, *, settings: Settings | None = None) -> Workspace:
        """A scratch copy of this workspace in ``directory``: a new SQLite database holding a copy of the
        catalog (datasets, models, versions, aliases; no log, results, jobs or events) and an artifact
        store there that reads through to this one and never writes to it. The root (modelward.yaml, the
        training code) is the same, so entrypoints import as they do here. Nothing it does changes this
        workspace: the backtest replays on it. ``settings``: the copy's settings instead of this workspace's
        (its database and artifact store are the copy's whatever they say)."""
        where = Path(directory).resolve()
        where.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{where / 'scratch.db'}"
        store = Store.open(url, busy_timeout_ms=self.settings.sqlite_busy_timeout_ms, create=True)
        try:
            self.store.copy_catalog(store)
        except BaseException:
            store.close()
            raise
        artifacts = ArtifactStore(where / "artifacts", fallback=self.artifacts)
        copied = (settings or self.settings).model_copy(
            update={"database_url": url, "artifacts": str(where / "artifacts")}
        )
        return Workspace(self.root, copied, store, artifacts)

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
        from modelward.refs import parse_ref

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
        (:func:`modelward.training.train` then :func:`modelward.training.register`.)
        """
        spec = self.model_spec(name)
        trained = training.train(self, spec, self.resolve_dataset(spec, data), params=params)
        return training.register(self, name, trained, description=description, force=force)

    def load_model(self, version: ModelVersion) -> Any:
        """The fitted estimator of ``version``: hash-verified and loaded with its allowlist."""
        return training.load_model(self.artifacts, version)

    def reproduce(self, name: str, ref: int | str | None = None) -> ReproduceReport:
        """Retrain ``name@ref`` from its lineage; compare predictions on the recorded evaluation rows
        (:func:`modelward.training.reproduce`)."""
        return training.reproduce(self, self.registry.get(name, ref))


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
