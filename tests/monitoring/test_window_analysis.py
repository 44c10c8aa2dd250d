"""monitoring.analyse: one window analysis for files (modelward drift) and logged predictions (the monitor),
and the typed WindowReport it returns (to_dict / from_dict)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelward.monitoring import (
    AnalysisSettings,
    Current,
    Holdout,
    LoggedOutputs,
    OutputReference,
    Profile,
    Reference,
    WindowReport,
    analyse,
    label_drift,
    prediction_drift,
    relabel,
)

CLASSES = ["no", "yes"]


def _model_data(
    rng: np.random.Generator, n: int, shift: float = 0.0
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features, class labels and the probabilities of a fixed logistic model on them."""
    x = pd.DataFrame({"age": rng.normal(40 + shift, 10, n), "plan": rng.choice(["a", "b", "c"], n)})
    p_yes = 1 / (1 + np.exp(-(x["age"].to_numpy() - 42) / 8))
    labels = np.where(rng.uniform(size=n) < p_yes, "yes", "no").astype(object)
    return x, labels, np.column_stack([1 - p_yes, p_yes])


@pytest.fixture(scope="module")
def reference() -> Reference:
    rng = np.random.default_rng(11)
    train, _, _ = _model_data(rng, 4000)
    x, y, proba = _model_data(rng, 1500)
    y_pred = np.where(proba[:, 1] > 0.5, "yes", "no").astype(object)
    return Reference.of_model(train, Holdout("classification", CLASSES, x, y, y_pred, proba))


def _logged(shift: float, labeled_every: int, n: int = 2000, seed: int = 12) -> Current:
    rng = np.random.default_rng(seed)
    x, y, proba = _model_data(rng, n, shift)
    prediction = np.where(proba[:, 1] > 0.5, "yes", "no").astype(object)
    labeled = np.arange(n) % labeled_every == 0
    label = np.where(labeled, y, None).astype(object)
    return Current(x, logged=LoggedOutputs(prediction, proba, label, labeled))


def test_a_logged_window_gets_every_check(reference: Reference) -> None:
    settings = AnalysisSettings(multivariate_rows=1000, concept_drift_rows=500)
    report = analyse(reference, _logged(shift=8.0, labeled_every=4), settings)
    assert (report.n_rows, report.n_labeled) == (2000, 500)
    assert report.drift is not None and report.drift.drifted_features == ["age"]
    assert report.prediction_drift is not None and report.prediction_drift.task == "classification"
    assert [f.column for f in report.prediction_drift.features] == ["prediction", "proba_yes"]
    assert report.prediction_drift.drifted and report.label_drift is not None and report.label_drift.drifted
    assert report.multivariate is not None and report.multivariate.top_features(1) == ["age"]
    assert set(report.realized) >= {"accuracy", "roc_auc"} and report.realized["accuracy"].n == 500
    assert set(report.estimated) >= {"accuracy", "roc_auc"} and report.estimated["accuracy"].method == "cbpe"
    assert {c.detector for c in report.concept_drift} == {"adwin", "ddm", "page_hinkley"}
    assert list(report.timings) == [
        "drift_quality",
        "multivariate",
        "prediction_label_drift",
        "realized",
        "estimated",
    ]


def test_output_drift_is_the_library_function(reference: Reference) -> None:
    """Files (modelward drift) and the library give the same output/label drift: one implementation."""
    rng = np.random.default_rng(5)
    ref = pd.DataFrame(
        {"x": rng.normal(size=3000), "score": rng.uniform(size=3000), "y": rng.integers(0, 2, 3000)}
    )
    cur = pd.DataFrame(
        {"x": rng.normal(size=3000), "score": rng.uniform(0.1, 1, 3000), "y": rng.integers(0, 2, 3000)}
    )
    baseline = Reference(
        Profile.fit(ref[["x"]]),
        outputs=OutputReference.fit("prediction", ref[["score"]], "regression"),
        labels=OutputReference.fit("label", ref["y"], "classification"),
    )
    report = analyse(
        baseline,
        Current(cur[["x"]], outputs=cur[["score"]], labels=cur["y"]),
        AnalysisSettings(correction="bonferroni", alpha=0.01),
    )
    assert report.prediction_drift is not None and report.label_drift is not None
    assert (
        report.prediction_drift.to_dict()
        == prediction_drift(
            ref[["score"]], cur[["score"]], task="regression", correction="bonferroni", alpha=0.01
        ).to_dict()
    )
    assert (
        report.label_drift.to_dict()
        == label_drift(
            ref["y"], cur["y"], task="classification", correction="bonferroni", alpha=0.01
        ).to_dict()
    )
    assert report.realized == {} and report.estimated == {} and report.n_labeled == 3000


def test_the_domain_classifier_that_cannot_run_is_a_note(reference: Reference) -> None:
    seen: list[str] = []

    class Recorder:
        def __init__(self) -> None:
            self.notes: list[str] = []

        def stage(self, label: str) -> Any:
            import contextlib

            seen.append(label)
            return contextlib.nullcontext()

        def note(self, message: str) -> None:
            self.notes.append(message)

    recorder = Recorder()
    tiny = _logged(shift=0.0, labeled_every=1, n=3)
    report = analyse(reference, tiny, AnalysisSettings(multivariate_rows=100), progress=recorder)
    assert report.multivariate is None and report.drift is not None
    assert recorder.notes == [report.notes[0]] and report.notes[0].startswith("multivariate drift skipped: ")
    assert seen[:4] == [
        "testing 2 columns",
        "multivariate drift (domain classifier)",
        "prediction drift",
        "label drift",
    ]


def _roundtrip(report: WindowReport) -> WindowReport:
    return WindowReport.from_dict(json.loads(json.dumps(report.to_dict(), allow_nan=False)))


def test_window_report_round_trips_through_json(reference: Reference) -> None:
    report = analyse(reference, _logged(shift=8.0, labeled_every=3), AnalysisSettings(multivariate_rows=500))
    back = _roundtrip(report)
    assert back.to_dict() == report.to_dict()
    assert back.drift is not None and report.drift is not None
    assert back.drift.features == report.drift.features and back.drift.quality == report.drift.quality
    assert back.prediction_drift is not None and back.prediction_drift.task == "classification"
    assert back.prediction_drift.target == "prediction" and back.label_drift is not None
    assert back.label_drift.target == "label" and back.label_drift.drifted == report.label_drift.drifted  # type: ignore[union-attr]
    assert back.multivariate == report.multivariate
    assert back.realized == report.realized and back.estimated == report.estimated
    assert back.concept_drift == report.concept_drift and back.notes == report.notes
    assert back.dataset_drift == report.dataset_drift and back.drifted_share == report.drifted_share


def test_relabeled_report_round_trips_and_keeps_estimates(reference: Reference) -> None:
    settings = AnalysisSettings()
    first = analyse(reference, _logged(shift=0.0, labeled_every=10**9), settings)  # row 0 labeled only
    later = _logged(shift=0.0, labeled_every=2)
    assert later.logged is not None
    labeled = later.logged.labeled
    rows = LoggedOutputs(
        later.logged.prediction[labeled],
        later.logged.probabilities[labeled],  # type: ignore[index]
        later.logged.label[labeled],
        labeled[labeled],
    )
    as_of = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    again = relabel(first, reference, rows, settings, as_of)
    assert again.n_labeled == 1000 and again.realized["accuracy"].n == 1000 and again.labels_as_of == as_of
    assert again.estimated == first.estimated and again.drift == first.drift and again.relabel_notes == ()
    doc = again.to_dict()
    assert list(doc)[-2:] == ["relabel_notes", "labels_as_of"] and doc["labels_as_of"] == as_of.isoformat()
    assert _roundtrip(again).to_dict() == doc


def test_undefined_metrics_and_reports_stored_before_the_task_was_recorded(reference: Reference) -> None:
    report = analyse(reference, _logged(shift=0.0, labeled_every=1, n=40), AnalysisSettings())
    nan = dataclasses.replace(report.realized["accuracy"], value=float("nan"))
    odd = dataclasses.replace(report, realized={"accuracy": nan})
    assert odd.to_dict()["realized"]["accuracy"]["value"] is None
    assert np.isnan(_roundtrip(odd).realized["accuracy"].value)
    doc = report.to_dict()
    for key in ("prediction_drift", "label_drift"):
        del doc[key]["task"]  # as stored before the task was recorded
    legacy = WindowReport.from_dict(doc)
    assert legacy.prediction_drift is not None and legacy.prediction_drift.task == "classification"
    assert legacy.label_drift is not None and legacy.label_drift.task == "classification"


def test_an_empty_window_has_no_findings(reference: Reference) -> None:
    empty = Current(
        pd.DataFrame({"age": [], "plan": []}),
        logged=LoggedOutputs(
            np.array([], dtype=object), None, np.array([], dtype=object), np.array([], dtype=bool)
        ),
    )
    report = analyse(reference, empty, AnalysisSettings())
    assert (report.n_rows, report.drift, report.dataset_drift, report.drifted_share) == (0, None, False, None)
    assert report.monitoring_report() is None
    assert WindowReport.from_dict(report.to_dict()) == report
