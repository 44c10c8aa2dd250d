"""modelward monitor over the real prediction log, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from maintenance.conftest import T0, Logger, data
from modelward import Workspace
from modelward.maintenance import Monitor
from modelward.predlog import parse_window

HOUR = dt.timedelta(hours=1)


def test_once_stores_one_run_per_hour_and_names_the_drifted_feature(
    workspace: Workspace, logger: Logger
) -> None:
    frames = [data(400, seed) for seed in (1, 2, 3)]
    frames[2]["age"] = frames[2]["age"] + 15  # upstream shift in the third hour
    ids = [logger.log("credit", f, T0 + k * HOUR, spacing_s=5) for k, f in enumerate(frames)]
    logger.feedback(ids[0][:200], frames[0]["approved"].to_numpy()[:200])

    monitor = Monitor(workspace, "credit", window=parse_window("1h"))
    done = monitor.run_once(now=T0 + 4 * HOUR)

    assert [(w.window.start_ts, w.report.n_rows) for w in done.windows] == [
        (T0 + k * HOUR, 400) for k in range(3)
    ]
    drifted = [w.report.drift.drifted_features for w in done.windows if w.report.drift]
    assert drifted == [[], [], ["age"]]
    first = done.windows[0].report
    assert first.n_labeled == 200
    pred = logger.trained["credit"].estimator.predict(
        frames[0][logger.trained["credit"].version.lineage["features"]]
    )
    expected = accuracy_score(frames[0]["approved"].to_numpy()[:200], pred[:200])
    assert first.realized["accuracy"].value == pytest.approx(expected, abs=1e-12)
    assert first.realized["accuracy"].n == 200
    assert {r.detector for r in first.concept_drift} == {"adwin", "ddm", "page_hinkley"}
    assert all(r.n == 200 for r in first.concept_drift)
    # every metric realized on labels is also estimated without them (CBPE), log loss included
    assert all(
        set(w.report.estimated) == {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}
        for w in done.windows
    )

    runs = workspace.monitoring_results.runs("credit")
    assert len(runs) == 3 and [r.n_rows for r in runs] == [400, 400, 400]
    series = workspace.monitoring_results.history("credit")
    age = series[(series.kind == "drift") & (series.name == "drifted") & (series.feature == "age")]
    assert age["value"].tolist() == [0.0, 0.0, 1.0]
    side = series[(series.name == "accuracy") & (series.run_id == runs[-1].id)]
    assert set(side["kind"]) == {"realized", "estimated"}


def test_restart_neither_repeats_nor_skips(workspace: Workspace, logger: Logger) -> None:
    logger.log("credit", data(100, 1), T0, spacing_s=30)
    logger.log("credit", data(100, 2), T0 + HOUR, spacing_s=30)
    assert (
        len(Monitor(workspace, "credit", window=parse_window("1h")).run_once(now=T0 + 3 * HOUR).windows) == 2
    )
    again = Monitor(workspace, "credit", window=parse_window("1h")).run_once(now=T0 + 3 * HOUR)
    assert again.windows == []
    logger.log("credit", data(100, 3), T0 + 2 * HOUR, spacing_s=30)
    logger.log("credit", data(100, 4), T0 + 5 * HOUR, spacing_s=30)
    later = Monitor(workspace, "credit", window=parse_window("1h")).run_once(
        now=T0 + 6 * HOUR + dt.timedelta(minutes=5)
    )
    assert [w.window.start_ts for w in later.windows] == [T0 + 2 * HOUR, T0 + 5 * HOUR]
    assert len(workspace.monitoring_results.runs("credit")) == 4


def test_incomplete_window_waits_for_its_end_and_lateness(workspace: Workspace, logger: Logger) -> None:
    logger.log("credit", data(50, 1), T0, spacing_s=10)
    monitor = Monitor(workspace, "credit", window=parse_window("1h"))
    assert monitor.run_once(now=T0 + HOUR).windows == []  # lateness (60 s) not over yet
    assert len(monitor.run_once(now=T0 + HOUR + dt.timedelta(seconds=61)).windows) == 1


def test_labels_arriving_later_update_realized_and_keep_estimated(
    workspace: Workspace, logger: Logger
) -> None:
    frame = data(300, 5)
    ids = logger.log("credit", frame, T0, spacing_s=5)
    monitor = Monitor(workspace, "credit", window=parse_window("1h"))
    first = monitor.run_once(now=T0 + 2 * HOUR)
    assert first.windows[0].report.n_labeled == 0 and first.windows[0].report.realized == {}
    estimated = first.windows[0].report.estimated["accuracy"].value
    logger.feedback(ids[:150], frame["approved"].to_numpy()[:150])
    second = monitor.run_once(now=T0 + 2 * HOUR)
    assert second.windows == [] and len(second.relabeled) == 1
    assert second.relabeled[0].n_labeled == 150
    series = workspace.monitoring_results.history("credit")
    acc = series[series.name == "accuracy"].set_index("kind")["value"]
    assert acc["estimated"] == pytest.approx(estimated)
    assert acc["realized"] == pytest.approx(second.relabeled[0].realized["accuracy"].value)
    assert workspace.monitoring_results.runs("credit")[0].n_labeled == 150
    assert monitor.run_once(now=T0 + 2 * HOUR).relabeled == []  # nothing new: nothing recomputed


def test_on_a_simulated_clock_labels_stamped_in_simulated_time_are_seen(
    workspace: Workspace, logger: Logger
) -> None:
    # The backtest's replay: the monitor's clock and the feedback's stamps are both simulated (months
    # before the wall clock), so a window's labels_as_of mark must come from the same clock.
    frame = data(300, 5)
    ids = logger.log("credit", frame, T0, spacing_s=5)
    sim = [T0 + 2 * HOUR]
    monitor = Monitor(workspace, "credit", window=parse_window("1h"), clock=lambda: sim[0])
    assert len(monitor.run_once().windows) == 1
    assert workspace.monitoring_results.runs("credit")[0].labels_as_of == sim[0]
    logger.feedback(ids[:150], frame["approved"].to_numpy()[:150], now=sim[0] + dt.timedelta(minutes=1))
    sim[0] += dt.timedelta(minutes=2)
    second = monitor.run_once()
    assert [r.n_labeled for r in second.relabeled] == [150]
    assert monitor.run_once().relabeled == []
    logger.feedback(ids[150:], frame["approved"].to_numpy()[150:], now=sim[0] + dt.timedelta(minutes=1))
    sim[0] += dt.timedelta(minutes=2)
    assert [r.n_labeled for r in monitor.run_once().relabeled] == [300]


def test_count_windows_tumbling_and_sliding(workspace: Workspace, logger: Logger) -> None:
    logger.log("credit", data(1000, 1), T0, spacing_s=1)
    tumbling = Monitor(workspace, "credit", window=parse_window(300)).run_once()
    assert [w.report.n_rows for w in tumbling.windows] == [300, 300, 300]
    sliding = Monitor(workspace, "credit", window=parse_window(300, 100)).run_once()
    starts = [w.window.start_ts for w in sliding.windows]
    assert starts == [T0 + dt.timedelta(seconds=s) for s in range(0, 701, 100)]
    logger.log("credit", data(200, 2), T0 + dt.timedelta(seconds=1000), spacing_s=1)
    more = Monitor(workspace, "credit", window=parse_window(300)).run_once()
    assert [(w.window.start_ts, w.report.n_rows) for w in more.windows] == [
        (T0 + dt.timedelta(seconds=900), 300)
    ]


def test_window_spanning_a_version_change_is_split_by_version(workspace: Workspace, logger: Logger) -> None:
    from maintenance.conftest import register

    register(workspace, logger.trained["credit"])  # credit@2
    logger.log("credit", data(100, 1), T0, spacing_s=10, version=1)
    logger.log("credit", data(100, 2), T0 + dt.timedelta(minutes=30), spacing_s=10, version=2)
    done = Monitor(workspace, "credit", window=parse_window("1h")).run_once(now=T0 + 2 * HOUR)
    assert sorted((w.version, w.window.start_ts, w.report.n_rows) for w in done.windows) == [
        (1, T0, 100),
        (2, T0, 100),
    ]


def test_regression_model_gets_dle_estimates(workspace: Workspace, logger: Logger) -> None:
    frame = data(300, 3)
    ids = logger.log("price", frame, T0, spacing_s=5)
    logger.feedback(ids[:100], frame["salary"].to_numpy()[:100])
    done = Monitor(workspace, "price", window=parse_window("1h")).run_once(now=T0 + 2 * HOUR)
    perf = done.windows[0].report
    assert set(perf.estimated) >= {"mae", "rmse"} and perf.estimated["mae"].method == "dle"
    pred = logger.trained["price"].estimator.predict(frame[["age", "loan", "hvalue", "car"]])
    assert perf.realized["mae"].value == pytest.approx(
        float(np.mean(np.abs(frame["salary"].to_numpy()[:100] - pred[:100]))), rel=1e-9
    )


def test_reference_is_built_once_and_reused(workspace: Workspace, logger: Logger) -> None:
    import sqlalchemy as sa

    from modelward.store.schema import monitoring_references

    logger.log("credit", data(50, 1), T0, spacing_s=10)
    logger.log("credit", data(50, 2), T0 + HOUR, spacing_s=10)
    Monitor(workspace, "credit", window=parse_window("1h")).run_once(now=T0 + HOUR + dt.timedelta(minutes=5))
    with workspace.store.read() as conn:
        first = conn.execute(sa.select(monitoring_references)).all()
    Monitor(workspace, "credit", window=parse_window("1h")).run_once(now=T0 + 3 * HOUR)
    with workspace.store.read() as conn:
        second = conn.execute(sa.select(monitoring_references)).all()
    assert len(first) == 1 and [tuple(r) for r in first] == [tuple(r) for r in second]
    assert workspace.artifacts.exists(first[0].artifact)
    assert first[0].details["reference_rows"] == 2000


def test_upstream_changes_in_the_log_are_named(workspace: Workspace, logger: Logger) -> None:
    """A unit change (x1000) and a dropped column upstream: quality findings name column and change."""
    frame = data(400, 9)
    logger.log("credit", data(400, 8), T0, spacing_s=5)
    frame["loan"] = frame["loan"] * 1000
    plog_rows = frame.drop(columns=["hyears"])
    t = logger.trained["credit"]
    features = [f for f in t.version.lineage["features"] if f != "hyears"]
    from modelward.predlog import PredictionRecord, new_prediction_id

    records = [
        PredictionRecord(
            new_prediction_id(),
            T0 + HOUR + dt.timedelta(seconds=5 * i),
            "credit",
            1,
            None,
            None,
            row,
            0,
            [0.5, 0.5],
            1.0,
        )
        for i, row in enumerate(plog_rows[features].to_dict(orient="records"))
    ]
    logger.plog.submit(records).result(timeout=60)
    done = Monitor(workspace, "credit", window=parse_window("1h")).run_once(now=T0 + 3 * HOUR)
    findings = {(q.check, q.column) for q in done.windows[1].report.drift.quality}
    assert ("unit_change", "loan") in findings and ("missing_column", "hyears") in findings
    assert not {q.check for q in done.windows[0].report.drift.quality} & {"unit_change", "missing_column"}
    unit = next(q for q in done.windows[1].report.drift.quality if q.check == "unit_change")
    assert "1000" in unit.message
    series = workspace.monitoring_results.history("credit", kinds=["quality"])
    assert {("unit_change", "loan"), ("missing_column", "hyears")} <= set(
        zip(
            series[series.run_id == done.windows[1].run_id].name,
            series[series.run_id == done.windows[1].run_id].feature,
            strict=True,
        )
    )


def test_restarted_monitor_restores_the_latest_gauges(workspace: Workspace, logger: Logger) -> None:
    from modelward.maintenance import MonitorGauges

    logger.log("credit", data(200, 1), T0, spacing_s=5)
    Monitor(workspace, "credit", window=parse_window("1h")).run_once(now=T0 + 2 * HOUR)
    gauges = MonitorGauges()
    Monitor(workspace, "credit", window=parse_window("1h"), gauges=gauges).restore_gauges()
    values = {(m.name, tuple(sorted(s.labels.items()))): s.value for m in gauges.collect() for s in m.samples}
    assert values[("modelward_monitor_window_rows", (("model", "credit"),))] == 200
    assert (
        values[("modelward_monitor_window_end_timestamp_seconds", (("model", "credit"),))]
        == (T0 + HOUR).timestamp()
    )


def test_concept_drift_detectors_see_at_most_the_configured_rows(
    workspace: Workspace, logger: Logger
) -> None:
    from modelward.config import MonitorSettings

    frame = data(300, 4)
    ids = logger.log("credit", frame, T0, spacing_s=5)
    logger.feedback(ids[:120], frame["approved"].to_numpy()[:120])
    settings = MonitorSettings(concept_drift_rows=50)
    done = Monitor(workspace, "credit", window=parse_window("1h"), settings=settings).run_once(
        now=T0 + 2 * HOUR
    )
    perf = done.windows[0].report
    assert {r.n for r in perf.concept_drift} == {50}
    assert any("last 50 of 120 labeled rows" in note for note in perf.notes)
    assert perf.realized["accuracy"].n == 120


def test_sliding_time_windows_overlap_by_the_slide(workspace: Workspace, logger: Logger) -> None:
    logger.log("credit", data(240, 1), T0, spacing_s=30)  # 00:00 to 02:00, one row every 30 s
    spec = parse_window("1h", "30m")
    done = Monitor(workspace, "credit", window=spec).run_once(now=T0 + 3 * HOUR)
    got = [(w.window.start_ts, w.window.end_ts, w.report.n_rows) for w in done.windows]
    half = HOUR / 2
    # every window that holds rows and is complete: starts at -30m (rows from 00:00 only) ... 01:30
    assert got == [
        (T0 + k * half, T0 + k * half + HOUR, n)
        for k, n in zip(range(-1, 4), (60, 120, 120, 120, 60), strict=True)
    ]
    assert Monitor(workspace, "credit", window=spec).run_once(now=T0 + 3 * HOUR).windows == []


def test_opt_in_multivariate_drift_names_the_separating_feature(workspace: Workspace, logger: Logger) -> None:
    from modelward.config import MonitorSettings

    shifted = data(600, 6)
    shifted["age"] = shifted["age"] + 15
    logger.log("credit", shifted, T0, spacing_s=5)
    settings = MonitorSettings(multivariate_rows=500)
    done = Monitor(workspace, "credit", window=parse_window("1h"), settings=settings).run_once(
        now=T0 + 2 * HOUR
    )
    mv = done.windows[0].report.multivariate
    assert mv is not None and mv.drifted and mv.n_current == 500 and mv.top_features(1) == ["age"]
    series = workspace.monitoring_results.history("credit", kinds=["multivariate"])
    assert series[series.name == "drifted"]["value"].tolist() == [1.0]
    assert done.windows[0].summary()["multivariate"]["top_features"][0] == "age"
    plain = Monitor(workspace, "credit", window=parse_window("1h", "30m")).run_once(now=T0 + 2 * HOUR)
    assert all(w.report.multivariate is None for w in plain.windows)


def test_version_without_lineage_is_a_clear_error(workspace: Workspace, logger: Logger) -> None:
    from modelward.errors import ModelwardError

    t = logger.trained["credit"]
    mv = t.version
    bare = workspace.registry.register(
        "bare",
        task=mv.task,
        artifact=workspace.artifacts.put(t.blob),
        serializer=mv.serializer,
        flavor=mv.flavor,
        signature=mv.signature,
        input_example=mv.input_example,
        params={},
        metrics={},
        lineage={},
    )
    from modelward.predlog import PredictionRecord, new_prediction_id

    row = data(1, 2)[mv.lineage["features"]].to_dict(orient="records")[0]
    logger.plog.submit(
        [PredictionRecord(new_prediction_id(), T0, "bare", bare.version, None, None, row, 0, None, 1.0)]
    ).result(timeout=30)
    with pytest.raises(ModelwardError, match=r"bare@1 has no training lineage .*modelward train"):
        Monitor(workspace, "bare", window=parse_window("1h")).run_once(now=T0 + 2 * HOUR)
    with pytest.raises(ModelwardError, match="No model named 'nobody'"):
        Monitor(workspace, "nobody")


def test_windows_are_read_in_chunks_with_identical_results(
    workspace: Workspace, logger: Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    import modelward.predlog._read as reader

    frame = data(300, 12)
    ids = logger.log("credit", frame, T0, spacing_s=1)
    logger.feedback(ids[::3], frame["approved"].to_numpy()[::3])
    whole = reader.read_window(workspace.store, "credit", version=1)
    monkeypatch.setattr(reader, "_CHUNK_ROWS", 64)  # 5 chunks (server-side cursor on PostgreSQL)
    chunked = reader.read_window(workspace.store, "credit", version=1)
    assert list(chunked.ids) == list(whole.ids) == ids
    assert chunked.features.equals(whole.features)  # key order: as stored (JSONB sorts keys)
    assert sorted(chunked.features.columns) == sorted(frame.columns[:-1])
    assert (chunked.ts == whole.ts).all() and str(chunked.ts.tz) == "UTC"
    assert np.array_equal(chunked.prediction, whole.prediction)
    assert whole.probabilities is not None and np.array_equal(chunked.probabilities, whole.probabilities)
    assert list(chunked.label) == list(whole.label) and int(chunked.labeled.sum()) == 100
    assert list(chunked.label[:3]) == [frame["approved"].iat[0], None, None]


def test_important_feature_drift_is_dataset_drift(workspace: Workspace, logger: Logger) -> None:
    from modelward.config import MonitorSettings

    shifted = data(400, 13)
    shifted["age"] = shifted["age"] + 15
    logger.log("credit", shifted, T0, spacing_s=5)
    default = Monitor(workspace, "credit", window=parse_window("1h")).run_once(now=T0 + 2 * HOUR)
    assert default.windows[0].report.drift is not None
    assert (
        default.windows[0].report.drift.drifted_features == ["age"]
        and not default.windows[0].report.dataset_drift
    )
    settings = MonitorSettings(important_features=["age", "not_a_feature_of_credit"])
    again = Monitor(workspace, "credit", window=parse_window("1h", "30m"), settings=settings).run_once(
        now=T0 + 2 * HOUR
    )
    assert [w.report.dataset_drift for w in again.windows] == [True, True, True]  # 3 half-hour-offset windows
    assert "age" in again.windows[0].report.drift.dataset_reason  # type: ignore[union-attr]


def test_a_sensitive_column_gets_its_fairness_checked_stored_and_exported(
    workspace: Workspace, logger: Logger, database_url: str
) -> None:
    """models.NAME.monitor.sensitive_columns: each window compares the column's groups; the result is the
    pure check's, survives the store, and is exported as gauges."""
    from prometheus_client import generate_latest

    from modelward.maintenance._exporter import MonitorGauges, WindowGauges
    from modelward.monitoring import render_html
    from modelward.monitoring.fairness import fairness

    config = workspace.root / "modelward.yaml"
    config.write_text(
        config.read_text().replace(
            "    params: {max_iter: 300}\n",
            "    params: {max_iter: 300}\n    monitor: {sensitive_columns: [car, nosuch], fairness_min_group_rows: 20}\n",
        )
    )
    frame = data(600, 11)
    ids = logger.log("credit", frame, T0, spacing_s=5)
    logger.feedback(ids[:400], frame["approved"].to_numpy()[:400])
    with Workspace.open(workspace.root, database_url=database_url) as ws:
        (window,) = Monitor(ws, "credit", window=parse_window("1h")).run_once(now=T0 + 2 * HOUR).windows
        (result,) = window.report.fairness
        assert (
            "fairness: sensitive column 'nosuch' is neither a logged feature nor sent as the predict body's context"
            in window.report.notes
        )
        prediction = logger.trained["credit"].estimator.predict(
            frame[logger.trained["credit"].version.lineage["features"]]
        )
        labeled = np.arange(600) < 400
        expected = fairness(
            frame["approved"].to_numpy(),
            prediction,
            frame["car"].to_numpy(),
            labeled=labeled,
            column="car",
            tests=2,
            min_group_rows=20,
        )
        assert result.to_dict() == expected.to_dict()
        assert sum(g.rows for g in result.groups) == 600 and sum(g.labeled for g in result.groups) == 400
        (stored,) = ws.monitoring_results.runs("credit")
        assert ws.monitoring_results.report(stored.id).fairness == (result,)
        gauges = MonitorGauges()
        gauges.update(WindowGauges.from_report("credit", 1, T0 + HOUR, T0 + 2 * HOUR, window.report))
        text = generate_latest(gauges.registry).decode()
        dp = result.demographic_parity
        assert (
            f'modelward_monitor_fairness_gap{{bound="lower",column="car",gap="demographic_parity",model="credit"}} '
            f"{dp.lower!r}" in text
        )
        assert 'modelward_monitor_fairness_flagged{column="car",gap="equalized_odds",model="credit"}' in text
        page = render_html(window.report.monitoring_report())
        assert "Fairness between groups" in page and "<h3>car</h3>" in page and "selection rate" in page
        assert window.report.monitoring_report().to_dict()["fairness"] == [result.to_dict()]
