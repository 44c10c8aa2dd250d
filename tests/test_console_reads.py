"""The bounded reads the web console pages with, on SQLite and PostgreSQL: one page of versions, events, runs,
metric rows, dataset versions, and a latency sample per window, each equal to the matching slice of the
unbounded read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelward import Workspace
from modelward.demo import agrawal_frame
from modelward.errors import NotFoundError
from modelward.predlog import (
    PredictionLog,
    PredictionRecord,
    Window,
    count_predictions,
    latency_samples,
    new_prediction_id,
    parse_window,
)
from modelward.results import ReferenceSource
from support.registry import register_stub_versions
from test_results import _reference, _window_report

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


@pytest.fixture
def ws(tmp_path: Path, database_url: str) -> Iterator[Workspace]:
    with Workspace.init(tmp_path / "ws", database_url=database_url) as workspace:
        yield workspace


def _register(ws: Workspace, n: int) -> None:
    register_stub_versions(ws, "m", n)


def test_pages_of_versions_models_and_events_are_slices_of_the_whole(ws: Workspace) -> None:
    _register(ws, 7)
    for version in (2, 3, 5):
        ws.registry.promote("m", version, reason=f"to {version}")
    page, total = ws.registry.versions_page("m", offset=2, limit=3)
    assert total == 7 and [v.version for v in page] == [5, 4, 3]
    assert page[0].aliases == ["champion"] and page[0] == ws.registry.get("m", 5)
    assert ws.registry.versions_page("m", offset=6, limit=3)[0][0].version == 1
    with pytest.raises(NotFoundError, match="No model named 'nope'"):
        ws.registry.versions_page("nope")

    ws.registry.register(  # a second model, for the model list
        "a",
        task="classification",
        artifact="1" * 64,
        serializer="skops",
        flavor="sklearn",
        signature={},
        input_example=[],
        params={},
        metrics={},
        lineage={},
    )
    assert ws.registry.count_models() == 2
    assert [m.name for m in ws.registry.list_models(offset=1, limit=5)] == ["m"]
    [one] = ws.registry.list_models(name="m")
    assert (one.versions, one.latest_version, one.aliases) == (7, 7, {"champion": 5})
    assert ws.registry.list_models(name="nope") == []

    everything = list(reversed(ws.registry.events("m")))
    newest = ws.registry.events_page("m", limit=4)
    assert newest == everything[:4]
    older = ws.registry.events_page("m", before=newest[-1].id, limit=4)
    assert older == everything[4:8]
    aliases = ws.registry.events_page("m", kinds=["alias_set"], limit=10)
    assert [e.payload["to"] for e in aliases] == [5, 3, 2]
    quiet = ws.registry.events_page("m", exclude=["version_registered", "model_created"], limit=50)
    assert {e.kind for e in quiet} == {"alias_set"}


def test_pages_of_runs_and_their_metric_rows(ws: Workspace) -> None:
    results = ws.monitoring_results
    ref = results.add_reference("m", 1, _reference(1), ReferenceSource("y", "data@1", 600))
    _current, report = _window_report(ref.reference, labeled_every=4)
    spec = parse_window("1h")
    ids = [
        results.save_run(
            "m",
            Window(spec, 1, T0 + dt.timedelta(hours=h), T0 + dt.timedelta(hours=h + 1)),
            ref.id,
            report,
            T0,
        )
        for h in range(5)
    ]
    page, total = results.runs_page("m", offset=1, limit=2)
    assert total == 5 and [r.id for r in page] == [ids[3], ids[2]]
    assert page == results.runs("m")[1:3]
    assert results.runs_page("m", limit=0) == ([], 5)
    assert results.run(ids[0]) == results.runs("m")[-1]
    with pytest.raises(NotFoundError, match="No monitoring run 999999"):
        results.run(999_999)
    rows = results.metrics_of(ids[:2], kinds=["drift", "realized"])
    history = results.history("m", kinds=["drift", "realized"])
    expected = history[history.run_id.isin(ids[:2])]
    assert len(rows) == len(expected) > 0
    assert {r["kind"] for r in rows} == {"drift", "realized"} and {r["run_id"] for r in rows} == set(ids[:2])
    assert results.metrics_of([]) == []


def test_dataset_versions_page(ws: Workspace) -> None:
    frame = agrawal_frame(50, seed=0)
    for i in range(4):
        ws.datasets.add_frame(frame.assign(salary=frame["salary"] + i), "d")
    page, total = ws.datasets.versions_page("d", offset=1, limit=2)
    assert total == 4 and [(v.version, v.parent_version) for v in page] == [(3, 2), (2, 1)]
    assert page == [ws.datasets.get("d", 3), ws.datasets.get("d", 2)]
    with pytest.raises(NotFoundError, match="No dataset named 'nope'"):
        ws.datasets.versions_page("nope")


def test_datasets_page(ws: Workspace) -> None:
    frame = agrawal_frame(30, seed=0)
    for name in ("e", "c", "a", "d", "b"):
        ws.datasets.add_frame(frame, name)
    ws.datasets.add_frame(frame.assign(salary=frame["salary"] + 1), "c")
    everything = ws.datasets.list_datasets()
    assert [(d.name, d.version) for d in everything] == [("a", 1), ("b", 1), ("c", 2), ("d", 1), ("e", 1)]
    assert ws.datasets.list_datasets(offset=1, limit=2) == everything[1:3]
    assert ws.datasets.list_datasets(offset=4, limit=2) == everything[4:]
    assert ws.datasets.count_datasets() == 5


def test_prediction_volume_and_latency_samples_per_window(ws: Workspace) -> None:
    plog = PredictionLog(ws.store, spool_dir=ws.root / "spool")
    plog.start()
    records = [
        PredictionRecord(
            new_prediction_id(),
            T0 + dt.timedelta(seconds=i),
            "m",
            1 + (i >= 60),
            "champion",
            None,
            {"x": i},
            0,
            None,
            float(i),
        )
        for i in range(100)
    ]
    plog.submit(records).result(timeout=30)
    plog.close()
    assert count_predictions(ws.store, "m", since=T0 + dt.timedelta(seconds=90)) == 10
    assert count_predictions(ws.store, "other", since=T0) == 0
    windows = [
        (T0, T0 + dt.timedelta(seconds=9), 1),  # rows 0-9
        (T0 + dt.timedelta(seconds=50), T0 + dt.timedelta(seconds=99), 2),  # v2's rows 60-99
        (T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=2), 1),  # nothing logged
    ]
    samples = latency_samples(ws.store, "m", windows, per_window=25)
    assert sorted(samples[0]) == [float(i) for i in range(10)]
    assert len(samples[1]) == 25 and all(60 <= v < 100 for v in samples[1])
    assert samples[2] == [] and latency_samples(ws.store, "m", []) == []
