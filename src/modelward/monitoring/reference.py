"""What a window is compared with: a :class:`Reference`, fitted once and reused by every window.

A reference always has the feature :class:`~modelward.monitoring.Profile`. It may also have the
reference of the model's outputs and of the labels (:class:`~modelward.monitoring.OutputReference`),
feature rows for the domain classifier, and a :class:`Holdout` — the model's outputs on labeled rows it
did not train on — from which a monitored model's raw outputs are encoded and its performance is
estimated without labels (CBPE for classifiers, DLE for regression).

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> train = pd.DataFrame({"x": rng.normal(size=500)})
>>> holdout = Holdout(task="classification", classes=["no", "yes"], features=train.head(200),
...                   y=rng.choice(["no", "yes"], 200), y_pred=rng.choice(["no", "yes"], 200), proba=None)
>>> reference = Reference.of_model(train, holdout)
>>> reference.outputs.profile.schema, reference.labels.task
({'prediction': 'categorical'}, 'classification')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from modelward.monitoring.outputs import OutputReference
from modelward.monitoring.profile import Profile

__all__ = ["Holdout", "Reference", "class_index"]


def class_index(classes: list[Any], values: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """Position of each value in ``classes`` (NaN when not a class); ``1.0`` matches the class ``1``.

    >>> class_index([0, 1], np.array([1.0, 0, "1", 7], dtype=object)).tolist()
    [1.0, 0.0, 1.0, nan]
    """
    arr = np.asarray(values)
    try:
        found: npt.NDArray[np.float64] = (
            pd.Index(classes).get_indexer(arr).astype(np.float64)
        )  # numeric-equal
    except TypeError:  # values that pandas cannot compare with the classes: match as text below
        found = np.full(len(arr), -1.0)
    missing = np.flatnonzero(found < 0)
    if missing.size:  # e.g. the label "1" for the class 1: match the text form
        by_text = {str(c): float(i) for i, c in enumerate(classes)}
        found[missing] = [by_text.get(str(v), -1.0) if v is not None else -1.0 for v in arr[missing]]
    found[found < 0] = np.nan
    return found


def _class_names(classes: list[Any], values: npt.NDArray[Any]) -> pd.Series:
    """Each value as its class name (text), missing where it is no class."""
    idx = class_index(classes, values)
    names = np.array([str(c) for c in classes], dtype=object)
    out = pd.Series(np.full(len(idx), None, dtype=object))
    ok = ~np.isnan(idx)
    out[ok] = names[idx[ok].astype(np.int64)]
    return out


def _numbers(values: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(float)


@dataclass(frozen=True)
class Holdout:
    """A model's outputs on held-out labeled rows (rows it did not train on).

    Attributes:
        task: ``"classification"`` or ``"regression"``; ``classes`` the classifier's classes, in the
            order of its probability columns.
        features: the rows' features (the model's feature columns, in order).
        y, y_pred, proba: labels, predictions and class probabilities (``None``: the model gives none).
        estimators: label-free performance estimators fitted on these rows, by confidence level
            (filled on first use; not compared, not shown).
    """

    task: str
    classes: list[Any] | None
    features: pd.DataFrame
    y: npt.NDArray[Any]
    y_pred: npt.NDArray[Any]
    proba: npt.NDArray[np.float64] | None
    estimators: dict[float, Any] = field(default_factory=dict, repr=False, compare=False)
    """Label-free estimators fitted on these rows, by confidence (filled on first use)."""

    @property
    def feature_names(self) -> list[str]:
        return [str(c) for c in self.features.columns]

    def output_frame(
        self, prediction: npt.NDArray[Any], proba: npt.NDArray[np.float64] | None
    ) -> pd.DataFrame:
        """Model outputs as columns for drift tests: ``prediction`` (class name as text for classifiers,
        the number for regression) and ``proba_<class>`` columns (the positive class only when binary)."""
        out: dict[str, Any] = {}
        classes = self.classes
        if self.task == "classification" and classes is not None:
            out["prediction"] = _class_names(classes, prediction)
            if proba is not None and proba.ndim == 2 and proba.shape[1] == len(classes):
                columns = [len(classes) - 1] if len(classes) == 2 else range(len(classes))
                for j in columns:
                    out[f"proba_{classes[j]}"] = proba[:, j]
        else:
            out["prediction"] = _numbers(prediction)
        return pd.DataFrame(out)

    def label_frame(self, labels: npt.NDArray[Any]) -> pd.DataFrame:
        """Labels as the one ``label`` column of label-drift tests (class names, or numbers)."""
        if self.task == "classification" and self.classes is not None:
            return pd.DataFrame({"label": _class_names(self.classes, labels)})
        return pd.DataFrame({"label": _numbers(labels)})


@dataclass(frozen=True)
class Reference:
    """What windows are compared with (see the module docstring). Only ``profile`` is required.

    Attributes:
        profile: the feature profile.
        outputs, labels: the references of prediction drift and label drift.
        rows: feature rows the domain classifier samples (multivariate drift).
        holdout: the model's outputs on held-out rows (encoding of logged outputs, label-free estimates).
    """

    profile: Profile
    outputs: OutputReference | None = None
    labels: OutputReference | None = None
    rows: pd.DataFrame | None = None
    holdout: Holdout | None = None

    @classmethod
    def of_model(
        cls, training: pd.DataFrame, holdout: Holdout, schema: Mapping[str, str] | None = None
    ) -> Reference:
        """The reference of a trained model: the feature profile of its ``training`` rows (kinds from
        ``schema``, inferred where absent), and the profiles of its outputs and of the labels on the
        ``holdout``, whose features are also the domain classifier's reference rows."""
        outputs = holdout.output_frame(holdout.y_pred, holdout.proba)
        kind = "categorical" if holdout.task == "classification" else "numeric"
        return cls(
            profile=Profile.fit(training, schema),
            outputs=OutputReference("prediction", holdout.task, Profile.fit(outputs, {"prediction": kind})),
            labels=OutputReference(
                "label", holdout.task, Profile.fit(holdout.label_frame(holdout.y), {"label": kind})
            ),
            rows=holdout.features,
            holdout=holdout,
        )
