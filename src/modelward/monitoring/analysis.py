"""One window checked against its reference — the analysis behind both ``modelward drift`` and
``modelward monitor``.

:func:`analyse` runs, in order:

1. per-feature drift and data quality (:meth:`Profile.compare <modelward.monitoring.Profile.compare>`);
2. multivariate drift (the domain classifier), when ``settings.multivariate_rows`` > 0 and the
   reference has feature rows;
3. prediction drift and label drift (:class:`~modelward.monitoring.OutputReference`), when the reference
   and the window both have outputs / labels;
4. realized performance on the labeled rows and label-free estimates (CBPE / DLE) on every row, when
   the reference has the model's :class:`~modelward.monitoring.Holdout` and the window the model's logged
   outputs;
5. fairness between the groups of each of ``settings.sensitive_columns``, when the window has the model's
   logged outputs (:func:`~modelward.monitoring.fairness.fairness`; binary classifiers).

Pure: frames and arrays in, a :class:`~modelward.monitoring.WindowReport` out.

>>> import numpy as np, pandas as pd
>>> from modelward.monitoring import Profile, Reference
>>> rng = np.random.default_rng(0)
>>> reference = Reference(Profile.fit(pd.DataFrame({"age": rng.normal(40, 10, 3000)})))
>>> report = analyse(reference, Current(pd.DataFrame({"age": rng.normal(45, 10, 3000)})), AnalysisSettings())
>>> report.drift.drifted_features, report.n_rows
(['age'], 3000)
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from numpy.typing import ArrayLike

from modelward.errors import DataError
from modelward.monitoring._performance import Performance, PerformanceResult
from modelward.monitoring.fairness import MIN_GROUP_ROWS, TOLERANCE, FairnessResult, fairness_of_columns
from modelward.monitoring.importance_drift import RankedDrift, rank_by_importance
from modelward.monitoring.multivariate import MultivariateResult, multivariate_drift
from modelward.monitoring.profile import MethodSpec
from modelward.monitoring.reference import Holdout, Reference
from modelward.monitoring.window_report import WindowReport

__all__ = ["AnalysisSettings", "Current", "LoggedOutputs", "Progress", "analyse", "relabel"]


@dataclass(frozen=True)
class AnalysisSettings:
    """How a window is checked.

    Attributes:
        method, alpha, correction, min_effect, drift_share, important_features: the drift decision, as in
            :meth:`Profile.compare <modelward.monitoring.Profile.compare>` (``method`` applies to the
            features; outputs and labels use ``"auto"``).
        multivariate_rows: > 0 runs the domain classifier on at most this many rows a side; ``seed``
            seeds its sampling and folds.
        confidence, resample_budget, concept_drift_rows: performance intervals, the bootstrap / CBPE
            simulation budget, and how many labeled rows the concept-drift detectors see at most.
        feature_importance: the model's use of each column (share of its mean |SHAP|); when given,
            drifted columns are ranked by it and those the model ignores are reported, not counted
            towards the dataset drift (:func:`~modelward.monitoring.importance_drift.rank_by_importance`).
        sensitive_columns, fairness_tolerance, fairness_min_group_rows, positive_label: the fairness
            check of each sensitive column's groups (:func:`~modelward.monitoring.fairness.fairness`, both
            gaps of every column tested together at ``alpha``).
    """

    method: MethodSpec = "auto"
    alpha: float = 0.05
    correction: str = "bh"
    min_effect: float | Mapping[str, float] | None = None
    drift_share: float = 0.5
    important_features: tuple[str, ...] = ()
    feature_importance: Mapping[str, float] = field(default_factory=dict)
    multivariate_rows: int = 0
    seed: int = 0
    confidence: float = 0.95
    resample_budget: int = 6_000_000
    concept_drift_rows: int = 10_000
    sensitive_columns: tuple[str, ...] = ()
    fairness_tolerance: float = TOLERANCE
    fairness_min_group_rows: int = MIN_GROUP_ROWS
    positive_label: Any = None


@dataclass(frozen=True)
class LoggedOutputs:
    """A model's outputs as logged for the rows of a window, with the feedback labels.

    ``prediction`` one per row; ``probabilities`` ``n x k`` (or ``None``); ``label`` the label where one
    arrived (``labeled`` says where).
    """

    prediction: npt.NDArray[Any]
    probabilities: npt.NDArray[np.float64] | None
    label: npt.NDArray[Any]
    labeled: npt.NDArray[np.bool_]

    def subset(self, rows: npt.NDArray[np.bool_]) -> LoggedOutputs:
        """The outputs of the rows where ``rows`` is true."""
        proba = None if self.probabilities is None else self.probabilities[rows]
        return LoggedOutputs(self.prediction[rows], proba, self.label[rows], self.labeled[rows])


@dataclass(frozen=True)
class Current:
    """The window to check.

    ``features`` holds the window's feature columns. Then either output/label columns as given
    (``outputs``: the model's output column(s); ``labels``: the ground truth), or ``logged``: the
    model's raw logged outputs and labels, which are encoded with the reference's
    :class:`~modelward.monitoring.Holdout` and also give the window's performance. ``context``: columns
    logged beside the features that are not model inputs (a sensitive column sent as a predict body's
    ``"context"``): the fairness check reads them, drift does not test them.
    """

    features: pd.DataFrame
    outputs: pd.DataFrame | pd.Series | ArrayLike | None = None
    labels: pd.DataFrame | pd.Series | ArrayLike | None = None
    logged: LoggedOutputs | None = None
    context: pd.DataFrame | None = None


class Progress(Protocol):
    """Told about each stage as it runs, and about what was skipped (the CLI shows both)."""

    def stage(self, label: str) -> AbstractContextManager[object]: ...

    def note(self, message: str) -> None: ...


class _Quiet:
    def stage(self, label: str) -> AbstractContextManager[object]:
        return contextlib.nullcontext()

    def note(self, message: str) -> None:
        return None


@contextlib.contextmanager
def _timed(timings: dict[str, float], key: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - started


def analyse(
    reference: Reference, current: Current, settings: AnalysisSettings, *, progress: Progress | None = None
) -> WindowReport:
    """Check ``current`` against ``reference`` (see the module docstring)."""
    progress = progress or _Quiet()
    timings: dict[str, float] = {}
    notes: list[str] = []
    n_rows = len(current.features)
    if n_rows == 0:  # nothing to compare; performance needs rows too
        return WindowReport(n_rows=0, n_labeled=0, timings=timings)
    with (
        _timed(timings, "drift_quality"),
        progress.stage(f"testing {len(reference.profile.columns)} columns"),
    ):
        drift = reference.profile.compare(
            current.features,
            method=settings.method,
            alpha=settings.alpha,
            correction=settings.correction,
            min_effect=settings.min_effect,
            drift_share=settings.drift_share,
            important_features=list(settings.important_features),
        )
    ranking: tuple[RankedDrift, ...] = ()
    if settings.feature_importance:
        drift, ranking = rank_by_importance(drift, settings.feature_importance)
    multivariate = None
    if settings.multivariate_rows > 0 and reference.rows is not None:
        with _timed(timings, "multivariate"), progress.stage("multivariate drift (domain classifier)"):
            multivariate = _multivariate(reference, current.features, settings, notes)
        if multivariate is None:
            progress.note(notes[-1])
    with _timed(timings, "prediction_label_drift"):
        outputs, labels, n_labeled = _outputs_and_labels(reference.holdout, current)
        prediction_drift = label_drift = None
        if reference.outputs is not None and outputs is not None:
            with progress.stage("prediction drift"):
                prediction_drift = reference.outputs.compare(
                    outputs,
                    alpha=settings.alpha,
                    correction=settings.correction,
                    min_effect=settings.min_effect,
                )
        if reference.labels is not None and labels is not None:
            with progress.stage("label drift"):
                label_drift = reference.labels.compare(
                    labels,
                    alpha=settings.alpha,
                    correction=settings.correction,
                    min_effect=settings.min_effect,
                )
    performance = PerformanceResult()
    if reference.holdout is not None and current.logged is not None:
        _performance(reference.holdout, current, settings, performance, timings)
    groups: tuple[FairnessResult, ...] = ()
    if settings.sensitive_columns and current.logged is not None:
        with _timed(timings, "fairness"), progress.stage("fairness between groups"):
            groups = _fairness(reference.holdout, current, settings, notes)
    return WindowReport(
        n_rows=n_rows,
        n_labeled=n_labeled,
        drift=drift,
        prediction_drift=prediction_drift,
        label_drift=label_drift,
        multivariate=multivariate,
        realized=performance.realized,
        estimated=performance.estimated,
        concept_drift=tuple(performance.concept_drift),
        notes=(*notes, *performance.notes),
        timings=timings,
        drift_by_importance=ranking,
        fairness=groups,
    )


def _outputs_and_labels(
    holdout: Holdout | None, current: Current
) -> tuple[pd.DataFrame | pd.Series | ArrayLike | None, pd.DataFrame | pd.Series | ArrayLike | None, int]:
    """The window's output columns and labels to test, and how many rows are labeled."""
    logged = current.logged
    if logged is None or holdout is None:
        labels = current.labels
        return current.outputs, labels, 0 if labels is None else len(np.asarray(labels))
    labeled = np.flatnonzero(logged.labeled)
    outputs = holdout.output_frame(logged.prediction, logged.probabilities)
    return outputs, holdout.label_frame(logged.label[labeled]) if len(labeled) else None, len(labeled)


def _fairness(
    holdout: Holdout | None, current: Current, settings: AnalysisSettings, notes: list[str]
) -> tuple[FairnessResult, ...]:
    """The fairness of each sensitive column found in the window (a note for each one that is not)."""
    logged = current.logged
    assert logged is not None
    if holdout is not None and holdout.task != "classification":
        notes.append("fairness skipped: it compares the selection rates of a classifier, not a regression")
        return ()
    frame = current.features
    extra = [] if current.context is None else [c for c in current.context.columns if c not in frame.columns]
    if extra:
        assert current.context is not None
        frame = pd.concat(
            [frame.reset_index(drop=True), current.context[extra].reset_index(drop=True)], axis=1
        )
    results, missing, errors = fairness_of_columns(
        logged.label,
        logged.prediction,
        frame,
        settings.sensitive_columns,
        labeled=logged.labeled,
        positive_label=settings.positive_label,
        alpha=settings.alpha,
        tolerance=settings.fairness_tolerance,
        min_group_rows=settings.fairness_min_group_rows,
        seed=settings.seed,
    )
    notes += [
        f"fairness: sensitive column {c!r} is neither a logged feature nor sent as the predict body's context"
        for c in missing
    ]
    notes += [f"fairness of {c!r} skipped: {why}" for c, why in errors.items()]  # the rest still stands
    return tuple(results.values())


def _multivariate(
    reference: Reference, features: pd.DataFrame, settings: AnalysisSettings, notes: list[str]
) -> MultivariateResult | None:
    """The domain classifier on the profiled columns both sides have (None, with a note, when it cannot run)."""
    assert reference.rows is not None
    rows = reference.rows
    columns = [c for c in reference.profile.columns if c in rows.columns and c in features.columns]
    categorical = [c for c in columns if reference.profile.schema[c] == "categorical"]
    try:
        return multivariate_drift(
            rows,
            features,
            columns=columns,
            categorical=categorical,
            alpha=settings.alpha,
            max_rows=settings.multivariate_rows,
            seed=settings.seed,
        )
    except DataError as exc:  # too few rows, or no comparable column: the rest of the report still stands
        notes.append(f"multivariate drift skipped: {exc.message}")
        return None


def _performance(
    holdout: Holdout,
    current: Current,
    settings: AnalysisSettings,
    result: PerformanceResult,
    timings: dict[str, float],
) -> None:
    logged = current.logged
    assert logged is not None
    performance = _estimators(holdout, settings)
    labeled = np.flatnonzero(logged.labeled)
    proba = logged.probabilities
    with _timed(timings, "realized"):
        performance.realized(
            logged.label[labeled],
            logged.prediction[labeled],
            None if proba is None else proba[labeled],
            result,
        )
    with _timed(timings, "estimated"):
        performance.estimated(current.features, logged.prediction, proba, result)


def _estimators(holdout: Holdout, settings: AnalysisSettings) -> Performance:
    return Performance(
        holdout,
        confidence=settings.confidence,
        resample_budget=settings.resample_budget,
        concept_drift_rows=settings.concept_drift_rows,
    )


def relabel(
    report: WindowReport,
    reference: Reference,
    labeled: LoggedOutputs,
    settings: AnalysisSettings,
    labels_as_of: dt.datetime,
    *,
    window: Current | None = None,
) -> WindowReport:
    """``report`` with its realized performance recomputed on ``labeled`` (the window's labeled rows, read
    again because labels arrived after it was analysed); estimates and drift stay as they were. With
    ``window`` (the whole window again, its ``logged`` outputs and labels) and sensitive columns declared,
    the fairness between groups is recomputed too: its equalized-odds gap needs the labels."""
    result = PerformanceResult()
    if reference.holdout is not None:
        _estimators(reference.holdout, settings).realized(
            labeled.label, labeled.prediction, labeled.probabilities, result
        )
    groups, notes = report.fairness, list(result.notes)
    if window is not None and window.logged is not None and settings.sensitive_columns:
        groups = _fairness(reference.holdout, window, settings, notes)
    return dataclasses.replace(
        report,
        n_labeled=len(labeled.label),
        realized=result.realized,
        concept_drift=tuple(result.concept_drift),
        relabel_notes=tuple(notes),
        labels_as_of=labels_as_of,
        fairness=groups,
    )
