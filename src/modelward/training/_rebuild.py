"""One path from a model version's lineage back to its training: the spec it was trained with, the
dataset version and rows it was trained on, and the same train/evaluation split.

``reproduce`` retrains from it, the monitoring reference profiles its rows and scores its holdout, and
retraining takes the champion's recipe (spec) and holdout from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from modelward.config import ModelSpec
from modelward.datasets import DatasetVersion
from modelward.registry import ModelVersion
from modelward.training._context import TrainingContext
from modelward.training._fit import Prepared, prepare
from modelward.training._lineage import Lineage

__all__ = ["Rebuilt", "rebuild", "spec_of"]


@dataclass(frozen=True)
class Rebuilt:
    """A model version's training, rebuilt from its lineage.

    ``prepared`` holds the same train and evaluation rows (same row labels) the version was trained and
    evaluated on; ``dataset`` is ``None`` only for a version registered without a dataset version id,
    whose rows were then read from the snapshot its lineage names (``source`` is ``NAME@VERSION``).

    Attributes:
        version: the registered version rebuilt.
        lineage: its typed lineage.
        spec: its training recipe as a :class:`~modelward.config.ModelSpec`.
        dataset: the dataset version it was trained on (``None``: read from the snapshot).
        source: that dataset, ``NAME@VERSION``.
        frame: the dataset's rows.
        prepared: the same train and evaluation rows as at training.
    """

    version: ModelVersion
    lineage: Lineage
    spec: ModelSpec
    dataset: DatasetVersion | None
    source: str
    frame: pd.DataFrame
    prepared: Prepared

    @property
    def holdout(self) -> pd.DataFrame:
        """The evaluation rows (every column of the dataset)."""
        return self.prepared.test


def spec_of(version: ModelVersion, lineage: Lineage | None = None) -> ModelSpec:
    """The spec ``version`` was trained with: its recipe (entrypoint, params, target, features, sample
    weights, split, serializer), as recorded. Train it on another dataset version to retrain alike."""
    lineage = lineage or Lineage.of(version)
    return ModelSpec(
        task=version.task,
        target=lineage.target,
        features=list(lineage.features),
        entrypoint=lineage.entrypoint,
        params=dict(version.params),
        dataset=lineage.dataset.name,
        split=lineage.evaluation.split,
        sample_weight=lineage.sample_weight,
        serializer=version.serializer,
        trusted_types=list(version.trusted_types),
    )


def rebuild(ctx: TrainingContext, version: ModelVersion) -> Rebuilt:
    """The spec, dataset rows and train/evaluation split of ``version``, from its lineage.

    :class:`~modelward.training.LineageError` when the version has no training lineage.
    """
    lineage = Lineage.of(version)
    spec = spec_of(version, lineage)
    dataset: DatasetVersion | None = None
    if version.dataset_version_id is not None:
        dataset = ctx.datasets.get_by_id(version.dataset_version_id)
        frame, source = ctx.datasets.load(dataset), dataset.ref
    else:
        frame, source = ctx.datasets.load_snapshot(lineage.dataset.artifact), lineage.dataset.ref
    prepared = prepare(frame, spec, dataset=source)
    return Rebuilt(version, lineage, spec, dataset, source, frame, prepared)
