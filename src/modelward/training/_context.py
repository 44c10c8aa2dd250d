"""What training needs from a workspace, as a protocol (``training`` sits below ``workspace``)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from modelward.artifacts import ArtifactStore
from modelward.datasets import DatasetStore
from modelward.registry import Registry

__all__ = ["TrainingContext"]


class TrainingContext(Protocol):
    """The stores training reads and writes, and the directory training code is imported from.

    A :class:`~modelward.Workspace` is one; so is any object with these four attributes.
    """

    @property
    def root(self) -> Path: ...

    @property
    def datasets(self) -> DatasetStore: ...

    @property
    def registry(self) -> Registry: ...

    @property
    def artifacts(self) -> ArtifactStore: ...
