"""Prediction drift (model outputs) and label drift (ground truth), on the same tests as the features.

Both reuse :class:`~modelward.monitoring.Profile` and its test registry, so they get the same exact
statistics, effect-size floors and multiple-testing correction as the per-feature report:

==================  ========================  ===========================================================
task                values                    test (``method="auto"``)
==================  ========================  ===========================================================
``classification``  class labels              chi-square on the class counts (Jensen-Shannon effect size)
``regression``      numbers                   Kolmogorov-Smirnov (normalised Wasserstein effect size)
``probabilities``   one score column a class  Kolmogorov-Smirnov on each class's score, corrected across
                                              the classes
==================  ========================  ===========================================================

The outputs drift when any of their columns drifts (one column for labels and regression outputs).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> result = prediction_drift(rng.choice(["yes", "no"], 4000, p=[0.3, 0.7]),
...                           rng.choice(["yes", "no"], 4000, p=[0.5, 0.5]), task="classification")
>>> result.drifted, result.features[0].method
(True, 'chi2')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from modelward.errors import ConfigError, DataError
from modelward.monitoring.drift_report import DriftReport, FeatureResult
from modelward.monitoring.profile import MethodSpec, Profile

Task: TypeAlias = Literal["classification", "regression", "probabilities"]
TASKS: tuple[str, ...] = ("classification", "regression", "probabilities")


@dataclass(frozen=True)
class OutputDriftResult:
    """Drift of a model's outputs (``target="prediction"``) or of the labels (``target="label"``).

    ``task`` is how the outputs were compared (``"classification"``: class counts; ``"regression"``
    or ``"probabilities"``: distributions of the score columns). ``report`` is an ordinary
    :class:`DriftReport` over the output column(s) (no quality checks); ``features`` and ``drifted``
    read from it.
    """

    target: Literal["prediction", "label"]
    task: str
    report: DriftReport

    @property
    def features(self) -> tuple[FeatureResult, ...]:
        return self.report.features

    @property
    def drifted(self) -> bool:
        """Any output column drifted (the report's dataset rule is set to "any column")."""
        return self.report.dataset_drift

    @property
    def reason(self) -> str:
        """One line: which output columns drifted, with the evidence."""
        tested = [f for f in self.features if f.status == "ok"]
        if not tested:
            return "no output column could be tested"
        flagged = [f for f in tested if f.drifted] or tested
        parts = [
            f"{f.column}: {f.method}"
            + (f" adjusted p = {f.p_value_adjusted:.3g}," if f.p_value_adjusted is not None else "")
            + f" {f.effect_measure} {f.effect_size:.3g}"
            for f in flagged[:5]
        ]
        head = "drifted" if self.drifted else "no drift"
        return f"{head} ({'; '.join(parts)}{'; …' if len(flagged) > 5 else ''})"

    def to_dict(self) -> dict[str, Any]:
        doc = self.report.to_dict()
        return {
            "target": self.target,
            "task": self.task,
            "drifted": self.drifted,
            "reason": self.reason,
            "n_reference": doc["n_reference"],
            "n_current": doc["n_current"],
            "settings": doc["settings"],
            "features": doc["features"],
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)


def _as_frame(values: ArrayLike | pd.Series | pd.DataFrame, task: str, name: str, side: str) -> pd.DataFrame:
    if isinstance(values, pd.DataFrame):
        frame = values.reset_index(drop=True)
    elif isinstance(values, pd.Series):
        frame = values.reset_index(drop=True).to_frame(name=name)
    else:
        arr = np.asarray(values)
        if arr.ndim == 1:
            frame = pd.DataFrame({name: arr})
        elif arr.ndim == 2:
            frame = pd.DataFrame(arr, columns=[f"{name}[{i}]" for i in range(arr.shape[1])])
        else:
            raise DataError(f"The {side} {name}s must be 1-D (or 2-D class scores), got shape {arr.shape}.")
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataError(f"The {side} {name}s are empty; pass at least one value.")
    if task != "probabilities" and frame.shape[1] != 1:
        raise DataError(
            f"The {side} {name}s have {frame.shape[1]} columns; task {task!r} expects one. "
            "Pass task='probabilities' for one score column per class.",
            details={"columns": [str(c) for c in frame.columns]},
        )
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    if task in ("regression", "probabilities"):
        _check_numeric(frame, list(frame.columns), task, name, side)
    return frame


def _check_numeric(frame: pd.DataFrame, columns: list[str], task: str, name: str, side: str) -> None:
    for col in columns:
        if not pd.api.types.is_numeric_dtype(frame[col].dtype) or pd.api.types.is_bool_dtype(
            frame[col].dtype
        ):
            raise DataError(
                f"Task {task!r} needs numeric {side} {name}s; column {col!r} has dtype "
                f"{frame[col].dtype}. Use task='classification' for class labels.",
                details={"column": col, "dtype": str(frame[col].dtype)},
            )


@dataclass(frozen=True)
class OutputReference:
    """The reference of a model's outputs (``target="prediction"``) or of the labels, fitted once.

    ``profile`` covers the output column(s): class labels are categorical, numbers and class scores
    numeric. :meth:`compare` tests a window's outputs against it with the same tests, effect-size floors
    and correction as the features; the outputs drift when any of their columns drifts.

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> ref = OutputReference.fit("label", rng.normal(0, 1, 2000), task="regression")
    >>> ref.compare(pd.DataFrame({"label": rng.normal(0.5, 1, 2000)})).drifted
    True
    """

    target: Literal["prediction", "label"]
    task: str
    profile: Profile

    @classmethod
    def fit(
        cls, target: Literal["prediction", "label"], values: ArrayLike | pd.Series | pd.DataFrame, task: str
    ) -> OutputReference:
        """Fit on reference outputs or labels (``task`` as in :func:`prediction_drift`)."""
        allowed = TASKS if target == "prediction" else ("classification", "regression")
        if task not in allowed:
            raise ConfigError(
                f"Unknown task {task!r} for {target} drift; expected one of {', '.join(allowed)}.",
                details={"task": task},
            )
        ref = _as_frame(values, task, target, "reference")
        kind = "categorical" if task == "classification" else "numeric"
        return cls(target, task, Profile.fit(ref, dict.fromkeys(ref.columns, kind)))

    def compare(
        self,
        current: ArrayLike | pd.Series | pd.DataFrame,
        *,
        method: MethodSpec = "auto",
        alpha: float = 0.05,
        correction: str = "bh",
        min_effect: float | Mapping[str, float] | None = None,
    ) -> OutputDriftResult:
        """Test ``current`` against the reference: a frame holding the reference's output columns, or values
        shaped as the reference was (validated as in :func:`prediction_drift`)."""
        if not isinstance(current, pd.DataFrame):
            current = _as_frame(current, self.task, self.target, "current")
        columns = list(self.profile.columns)
        missing = [c for c in columns if c not in current.columns]
        if missing:
            raise DataError(
                f"The current {self.target}s lack column(s) {', '.join(missing)} that the reference "
                f"has ({', '.join(columns)}).",
                details={"columns": missing},
            )
        cur = current[columns].reset_index(drop=True)
        numeric = [c for c, kind in self.profile.schema.items() if kind == "numeric"]
        _check_numeric(cur, numeric, self.task, self.target, "current")
        report = self.profile.compare(
            cur,
            method=method,
            alpha=alpha,
            correction=correction,
            min_effect=min_effect,
            drift_share=1.0,
            important_features=columns,
            quality=False,
        )
        return OutputDriftResult(target=self.target, task=self.task, report=report)


def _output_drift(
    target: Literal["prediction", "label"],
    reference: ArrayLike | pd.Series | pd.DataFrame,
    current: ArrayLike | pd.Series | pd.DataFrame,
    task: str,
    method: MethodSpec,
    alpha: float,
    correction: str,
    min_effect: float | Mapping[str, float] | None,
) -> OutputDriftResult:
    fitted = OutputReference.fit(target, reference, task)
    cur = _as_frame(current, task, target, "current")  # also when a frame: one column unless class scores
    return fitted.compare(cur, method=method, alpha=alpha, correction=correction, min_effect=min_effect)


def prediction_drift(
    reference_predictions: ArrayLike | pd.Series | pd.DataFrame,
    current_predictions: ArrayLike | pd.Series | pd.DataFrame,
    *,
    task: Task,
    method: MethodSpec = "auto",
    alpha: float = 0.05,
    correction: str = "bh",
    min_effect: float | Mapping[str, float] | None = None,
) -> OutputDriftResult:
    """Has the distribution of the model's outputs changed?

    Args:
        reference_predictions, current_predictions: class labels (``task="classification"``), numbers
            (``"regression"``) or class scores, one column per class (``"probabilities"``: a frame whose
            column names are the classes, or a 2-D array).
        method, alpha, correction, min_effect: as in :meth:`Profile.compare`.
    """
    return _output_drift(
        "prediction", reference_predictions, current_predictions, task, method, alpha, correction, min_effect
    )


def label_drift(
    reference_labels: ArrayLike | pd.Series,
    current_labels: ArrayLike | pd.Series,
    *,
    task: Literal["classification", "regression"],
    method: MethodSpec = "auto",
    alpha: float = 0.05,
    correction: str = "bh",
    min_effect: float | Mapping[str, float] | None = None,
) -> OutputDriftResult:
    """Has the distribution of the ground truth changed (prior shift / target drift)?

    Classes are compared with chi-square on their counts, numeric targets with Kolmogorov-Smirnov.
    """
    return _output_drift(
        "label", reference_labels, current_labels, task, method, alpha, correction, min_effect
    )
