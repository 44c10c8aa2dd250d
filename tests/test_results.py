"""ws.monitoring_results: the owner of the monitoring tables, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelward import Workspace
from modelward.monitoring import (
    AnalysisSettings,
    Current,
    Holdout,
    LoggedOutputs,
    Reference,
    WindowReport,
    analyse,
    relabel,
)
from modelward.predlog import Window, parse_window
from modelward.results import ReferenceSource

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


@pytest.fixture
def ws(tmp_path: Path, database_url: str) -> Iterator[Workspace]:
    with Workspace.init(tmp_path / "ws", database_url=database_url) as workspace:
        yield workspace


def _reference(seed: int) -> Reference:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"x": rng.normal(size=600), "c": rng.choice(["a", "b"], 600)})
    y = rng.integers(0, 2, 600)
    proba = np.column_stack([1 - x["x"].abs() / 4, x["x"].abs() / 4]).clip(0, 1)
    return Reference.of_model(
        x, Holdout("classification", [0, 1], x.head(300), y[:300], y[:300] ^ 1, proba[:300])
    )


def _window_report(reference: Reference, labeled_every: int) -> tuple[Current, WindowReport]:
    rng = np.random.default_rng(3)
    features = pd.DataFrame({"x": rng.normal(0.5, 1, 400), "c": rng.choice(["a", "b"], 400)})
    proba = np.column_stack([np.full(400, 0.4), np.full(400, 0.6)])
    labeled = np.arange(400) % labeled_every == 0
    label = np.where(labeled, rng.integers(0, 2, 400), None).astype(object)
    current = Current(features, logged=LoggedOutputs(np.ones(400), proba, label, labeled))
    return current, analyse(reference, current, AnalysisSettings())


def test_a_reference_is_stored_once(ws: Workspace) -> None:
    results = ws.monitoring_results
    assert results.reference("m", 1) is None
    first = results.add_reference("m", 1, _reference(1), ReferenceSource("y", "data@1", 600))
    again = results.add_reference(
        "m", 1, _reference(2), ReferenceSource("y", "data@2", 600)
    )  # a second builder
    loaded = results.reference("m", 1)
    assert loaded is not None and (again.id, again.artifact) == (first.id, first.artifact) == (
        loaded.id,
        loaded.artifact,
    )
    assert loaded.details == {
        "source": "data@1",
        "reference_rows": 600,
        "evaluation_rows": 300,
        "features": ["x", "c"],
    }
    original = _reference(1)
    assert loaded.reference.profile.schema == original.profile.schema
    assert loaded.holdout.features.equals(original.holdout.features)  # type: ignore[union-attr]
    assert np.array_equal(loaded.holdout.proba, original.holdout.proba)  # type: ignore[union-attr, arg-type]
    assert loaded.reference.outputs is not None and list(loaded.reference.outputs.profile.columns) == [
        "prediction",
        "proba_1",
    ]


def test_runs_reports_and_the_time_series(ws: Workspace) -> None:
    results = ws.monitoring_results
    ref = results.add_reference("m", 1, _reference(1), ReferenceSource("y", "data@1", 600))
    current, report = _window_report(ref.reference, labeled_every=4)
    spec = parse_window("1h")
    window = Window(spec, 1, T0, T0 + dt.timedelta(hours=1))
    run_id = results.save_run("m", window, ref.id, report, T0)
    assert results.save_run("m", window, ref.id, report, T0) == run_id  # same window: replaced
    [run] = results.runs("m")
    assert (run.id, run.window, run.n_rows, run.n_labeled, run.labels_as_of) == (run_id, window, 400, 100, T0)
    assert results.last_run("m", 1, spec.key) == run and results.last_run("m", 2, spec.key) is None
    assert results.report(run_id).to_dict() == report.to_dict()
    series = results.history("m")
    assert len(series) == len(series.drop_duplicates(["kind", "name", "feature"]))  # not stored twice
    assert {"window", "drift", "quality", "prediction_drift", "label_drift", "realized", "estimated"} <= set(
        series.kind
    )

    later = T0 + dt.timedelta(days=1)
    assert [r.id for r in results.runs_ending_after("m", spec.key, T0)] == [run_id]
    assert results.runs_ending_after("m", spec.key, later) == []
    results.mark_labels_checked("m", spec.key, T0, later)
    assert results.runs("m")[0].labels_as_of == later
    assert current.logged is not None
    half = np.arange(400) % 2 == 0  # labels arrived for every other row
    labeled = LoggedOutputs(
        current.logged.prediction[half],
        current.logged.probabilities[half],  # type: ignore[index]
        np.resize(np.array([0, 1], dtype=object), 200),
        np.ones(200, dtype=bool),
    )
    updated = relabel(results.report(run_id), ref.reference, labeled, AnalysisSettings(), later)
    results.update_realized(run, updated)
    [run] = results.runs("m")
    assert (run.n_labeled, run.labels_as_of) == (200, later)
    stored = results.report(run_id)
    assert stored.to_dict() == updated.to_dict() and stored.estimated == report.estimated
    realized = results.history("m", kinds=["realized"])
    assert realized[realized.name == "accuracy"]["n"].tolist() == [200]
    assert results.history("m", kinds=["window"]).set_index("name")["value"].to_dict() == {
        "n_rows": 400,
        "n_labeled": 200,
    }
