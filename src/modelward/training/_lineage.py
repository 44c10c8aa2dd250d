"""What a model version was made from: the typed :class:`Lineage`, and how the code and environment
parts of it are captured at training time."""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import platform
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from modelward.config import SplitSpec
from modelward.errors import ModelwardError

if TYPE_CHECKING:
    from modelward.registry import ModelVersion

__all__ = [
    "CodeReference",
    "DatasetLineage",
    "Environment",
    "EvaluationLineage",
    "Lineage",
    "LineageError",
]

KEY_PACKAGES = ("modelward", "scikit-learn", "numpy", "pandas", "scipy", "pyarrow", "skops")

_KEYS = (
    "dataset",
    "evaluation",
    "entrypoint",
    "target",
    "features",
    "sample_weight",
    "seed",
    "code",
    "environment",
)


class LineageError(ModelwardError):
    """A model version's recorded lineage is missing or incomplete, so its training cannot be rebuilt."""

    code = "lineage_error"
    status_code = 422


@dataclass(frozen=True)
class DatasetLineage:
    """The dataset version a model was trained on, and its content.

    Attributes:
        name: the dataset's name.
        version: its version number.
        content_hash: SHA-256 of its content (rows and schema), as the dataset store computed it.
        artifact: SHA-256 of its Parquet snapshot in the artifact store.
    """

    name: str
    version: int
    content_hash: str
    artifact: str  # SHA-256 of the Parquet snapshot in the artifact store

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "content_hash": self.content_hash,
            "artifact": self.artifact,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetLineage:
        _require(data, ("name", "version", "content_hash", "artifact"), "dataset")
        return cls(data["name"], data["version"], data["content_hash"], data["artifact"])


@dataclass(frozen=True)
class EvaluationLineage:
    """The evaluation rows (holdout) a model's metrics were computed on: how they were cut, and a hash of
    their row labels so that a rebuilt split can be checked against the recorded one.

    Attributes:
        dataset: the dataset version they were cut from, ``NAME@VERSION``.
        split: how they were cut (kind, test size, seed, time column, stratification).
        rows: how many rows there were.
        index_sha256: SHA-256 of their row labels, in order.
    """

    dataset: str  # NAME@VERSION
    split: SplitSpec
    rows: int
    index_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "split": self.split.model_dump(),
            "rows": self.rows,
            "index_sha256": self.index_sha256,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationLineage:
        _require(data, ("dataset", "split", "rows", "index_sha256"), "evaluation")
        try:
            split = SplitSpec.model_validate(data["split"])
        except ValidationError as exc:
            raise LineageError(f"The lineage's evaluation split is not valid: {exc}") from exc
        return cls(data["dataset"], split, data["rows"], data["index_sha256"])


@dataclass(frozen=True)
class CodeReference:
    """The training code: its module and source hash, and the git commit (with a dirty flag) when the
    workspace is in a git work tree (``kind == "git"``); ``commit`` and ``dirty`` are ``None`` otherwise.

    Attributes:
        module: the entrypoint's module name.
        source_sha256: SHA-256 of that module's source file (``None`` when it has none).
        kind: ``"git"`` when the workspace is a git work tree, else ``"source"``.
        commit: the git commit checked out (``kind == "git"`` only).
        dirty: whether tracked files had uncommitted changes (``kind == "git"`` only).
    """

    module: str
    source_sha256: str | None
    kind: Literal["git", "source"]
    commit: str | None = None
    dirty: bool | None = None

    @classmethod
    def of(cls, root: Path, module: ModuleType) -> CodeReference:
        """The reference of ``module`` imported from the workspace at ``root``, now."""
        commit = _git(root, "rev-parse", "HEAD")
        if commit is None:
            return cls(module.__name__, source_hash(module), "source")
        status = _git(root, "status", "--porcelain", "--untracked-files=no")
        return cls(module.__name__, source_hash(module), "git", commit, bool(status))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"module": self.module, "source_sha256": self.source_sha256, "kind": self.kind}
        if self.kind == "git":
            out.update(commit=self.commit, dirty=self.dirty)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CodeReference:
        _require(data, ("module", "source_sha256", "kind"), "code")
        if data["kind"] not in ("git", "source"):
            raise LineageError(f"The lineage's code kind must be 'git' or 'source', got {data['kind']!r}.")
        if data["kind"] == "git":
            _require(data, ("commit", "dirty"), "code")
        return cls(data["module"], data["source_sha256"], data["kind"], data.get("commit"), data.get("dirty"))


@dataclass(frozen=True)
class Environment:
    """The Python version, platform and versions of the packages that decide what a model computes.

    Attributes:
        python: the Python version (``platform.python_version()``).
        platform: the operating system and machine (``platform.platform()``).
        packages: version of each key package (scikit-learn, numpy, …), ``None`` when not installed.
    """

    python: str
    platform: str
    packages: Mapping[str, str | None] = field(default_factory=dict)

    @classmethod
    def current(cls) -> Environment:
        """This process's environment."""
        packages: dict[str, str | None] = {}
        for name in KEY_PACKAGES:
            try:
                packages[name] = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                packages[name] = None
        return cls(platform.python_version(), sys.platform, packages)

    def to_dict(self) -> dict[str, Any]:
        return {"python": self.python, "platform": self.platform, "packages": dict(self.packages)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Environment:
        _require(data, ("python", "platform", "packages"), "environment")
        return cls(data["python"], data["platform"], dict(data["packages"]))


@dataclass(frozen=True)
class Lineage:
    """What a model version was trained from, as ``modelward train`` records it: the dataset version and
    its content, the evaluation split, the entrypoint, target, features and sample-weight column, the
    seed, the code reference and the environment.

    The registry stores it as a JSON object (``ModelVersion.lineage``); :meth:`to_dict` writes exactly
    that object and :meth:`from_dict` reads it back, so ``Lineage.from_dict(d).to_dict() == d``.
    :meth:`of` reads a registered version's, with a clear error when it has none (a version registered
    directly through the registry may record any JSON, or nothing).

    >>> from modelward.config import SplitSpec
    >>> lineage = Lineage(
    ...     dataset=DatasetLineage("credit", 2, "c" * 64, "a" * 64),
    ...     evaluation=EvaluationLineage("credit@2", SplitSpec(test_size=0.2), 200, "e" * 64),
    ...     entrypoint="train:fit", target="approved", features=("age", "salary"), sample_weight=None,
    ...     seed=0, code=CodeReference("train", "s" * 64, "source"),
    ...     environment=Environment("3.12.1", "linux", {"scikit-learn": "1.5.0"}),
    ... )
    >>> Lineage.from_dict(lineage.to_dict()) == lineage
    True
    >>> lineage.to_dict()["evaluation"]["split"]
    {'kind': 'random', 'test_size': 0.2, 'seed': 0, 'time_column': None, 'stratify': True}
    """

    dataset: DatasetLineage
    evaluation: EvaluationLineage
    entrypoint: str
    target: str
    features: tuple[str, ...]
    sample_weight: str | None
    seed: int | None  # the estimator's random_state (else the split's seed), as the params gave it
    code: CodeReference
    environment: Environment

    def to_dict(self) -> dict[str, Any]:
        """The JSON object the registry stores."""
        return {
            "dataset": self.dataset.to_dict(),
            "evaluation": self.evaluation.to_dict(),
            "entrypoint": self.entrypoint,
            "target": self.target,
            "features": list(self.features),
            "sample_weight": self.sample_weight,
            "seed": self.seed,
            "code": self.code.to_dict(),
            "environment": self.environment.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lineage:
        """Read a stored lineage; :class:`LineageError` names what is missing or unknown."""
        _require(data, _KEYS, "lineage")
        unknown = sorted(set(data) - set(_KEYS))
        if unknown:
            raise LineageError(f"The lineage has unknown keys {unknown}; expected {list(_KEYS)}.")
        return cls(
            dataset=DatasetLineage.from_dict(data["dataset"]),
            evaluation=EvaluationLineage.from_dict(data["evaluation"]),
            entrypoint=data["entrypoint"],
            target=data["target"],
            features=tuple(data["features"]),
            sample_weight=data["sample_weight"],
            seed=data["seed"],
            code=CodeReference.from_dict(data["code"]),
            environment=Environment.from_dict(data["environment"]),
        )

    @classmethod
    def of(cls, version: ModelVersion) -> Lineage:
        """The lineage ``version`` recorded; :class:`LineageError` when it has no training lineage."""
        try:
            return cls.from_dict(version.lineage)
        except LineageError as exc:
            problem = exc.details.get("problem", exc.message)
            raise LineageError(
                f"{version.ref} has no training lineage ({problem}), so its training cannot be rebuilt. "
                "Register versions with `modelward train`, which records the lineage.",
                details={"model": version.name, "version": version.version},
            ) from exc


def _require(data: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    if not isinstance(data, Mapping):
        raise LineageError(f"The lineage's {where} must be a JSON object, got {type(data).__name__}.")
    missing = [k for k in keys if k not in data]
    if missing:
        problem = f"{', '.join(missing)} missing" + ("" if where == "lineage" else f" from {where}")
        raise LineageError(f"Incomplete lineage: {problem}.", details={"problem": problem})


def source_hash(module: ModuleType) -> str | None:
    """SHA-256 of the entrypoint module's source file."""
    try:
        path = inspect.getsourcefile(module)
    except TypeError:
        return None
    if not path:
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip()
