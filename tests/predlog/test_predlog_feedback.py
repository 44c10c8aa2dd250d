"""Feedback: idempotent labels, 409 on a different one, 404 on unknown ids; reading the log back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from predlog_helpers import make_record

from modelward.errors import ConflictError, DataError, NotFoundError
from modelward.predlog import FeedbackItem, FeedbackResult, PredictionLog, count_labeled, read_predictions
from modelward.store import Store


@pytest.fixture
def plog(store: Store, spool_dir: Path) -> PredictionLog:
    log = PredictionLog(store, spool_dir=spool_dir)
    log.start()
    yield log  # type: ignore[misc]
    log.close()


def test_feedback_is_idempotent_and_conflicts_need_overwrite(plog: PredictionLog) -> None:
    a, b = make_record(i=1), make_record(i=2)
    plog.submit([a, b]).result(timeout=10)
    assert plog.add_feedback([FeedbackItem(a.id, 1), FeedbackItem(b.id, {"y": "spam"})]) == [
        FeedbackResult(a.id, "recorded"),
        FeedbackResult(b.id, "recorded"),
    ]
    assert plog.add_feedback([FeedbackItem(a.id, np.int64(1))]) == [FeedbackResult(a.id, "unchanged")]
    with pytest.raises(
        ConflictError, match=rf"Prediction '{a.id}' already has label 1; got 0\. Send overwrite: true"
    ) as err:
        plog.add_feedback([FeedbackItem(a.id, 0)])
    assert err.value.status_code == 409
    assert err.value.details == {"prediction_id": a.id, "stored_label": 1, "label": 0}
    assert plog.add_feedback([FeedbackItem(a.id, 0, overwrite=True)]) == [FeedbackResult(a.id, "overwritten")]
    assert plog.add_feedback([FeedbackItem(a.id, 0, overwrite=True)]) == [FeedbackResult(a.id, "unchanged")]
    frame = PredictionLog.read(plog.store, "m")
    assert dict(zip(frame["id"], frame["label"], strict=True)) == {a.id: 0, b.id: {"y": "spam"}}


def test_feedback_is_stamped_with_the_given_time(plog: PredictionLog) -> None:
    a, b = make_record(i=1), make_record(i=2)
    plog.submit([a, b]).result(timeout=10)
    then = dt.datetime(2020, 5, 1, 12, 0, tzinfo=dt.UTC)
    plog.add_feedback([FeedbackItem(a.id, 1)], now=then)
    plog.add_feedback([FeedbackItem(b.id, 0)])
    stamps = dict(zip(*[PredictionLog.read(plog.store, "m")[c] for c in ("id", "label_ts")], strict=True))
    assert stamps[a.id] == then
    assert stamps[b.id] > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)


def test_labeled_predictions_are_counted_by_version_and_time(plog: PredictionLog) -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    records = [make_record(i=i, ts=t0 + dt.timedelta(minutes=i), version=1 + i // 3) for i in range(6)] + [
        make_record("other", i=9, ts=t0)
    ]
    plog.submit(records).result(timeout=10)
    plog.add_feedback([FeedbackItem(r.id, 1) for r in records if r.features["x"] != 4.0])
    assert count_labeled(plog.store, "m") == 5
    assert count_labeled(plog.store, "m", version=2) == 2
    assert count_labeled(plog.store, "m", since=t0 + dt.timedelta(minutes=2)) == 3
    assert count_labeled(plog.store, "nobody") == 0


def test_unknown_ids_are_404_and_nothing_is_recorded(plog: PredictionLog) -> None:
    known = make_record()
    plog.submit([known]).result(timeout=10)
    with pytest.raises(NotFoundError) as err:
        plog.add_feedback([FeedbackItem(known.id, 1), FeedbackItem("nope-2", 1), FeedbackItem("nope-1", 0)])
    assert err.value.message == (
        "2 of 3 prediction ids were never logged: 'nope-1', 'nope-2'. Feedback must name an id from the "
        "prediction_ids of a predict response; nothing was recorded."
    )
    assert err.value.status_code == 404
    assert err.value.details == {"prediction_ids": ["nope-1", "nope-2"], "missing": 2}
    assert plog.add_feedback([FeedbackItem(known.id, 1)]) == [FeedbackResult(known.id, "recorded")]


def test_a_404_names_at_most_20_unknown_ids_and_counts_them(plog: PredictionLog) -> None:
    known = make_record()
    plog.submit([known]).result(timeout=10)
    ghosts = [f"ghost-{i:05d}" for i in range(2500)]  # more ids than one statement takes (chunked)
    with pytest.raises(NotFoundError) as err:
        plog.add_feedback([FeedbackItem(known.id, 1), *(FeedbackItem(g, 1) for g in ghosts)])
    assert err.value.message.startswith("2500 of 2501 prediction ids were never logged: 'ghost-00000', ")
    assert "'ghost-00019' and 2480 more. Feedback must name" in err.value.message
    assert err.value.details == {"prediction_ids": ghosts[:20], "missing": 2500}
    assert len(err.value.message) < 600


def test_many_labels_in_one_call_are_chunked(plog: PredictionLog) -> None:
    records = [make_record(i=i) for i in range(2300)]
    plog.submit(records).result(timeout=30)
    results = plog.add_feedback([FeedbackItem(r.id, i % 2) for i, r in enumerate(records)])
    assert [r.status for r in results] == ["recorded"] * 2300
    again = plog.add_feedback([FeedbackItem(r.id, i % 2) for i, r in enumerate(records)])
    assert {r.status for r in again} == {"unchanged"}
    assert PredictionLog.read(plog.store, "m")["label"].tolist() == [i % 2 for i in range(2300)]


def test_null_and_nan_labels_are_refused_and_block_nothing(plog: PredictionLog) -> None:
    a = make_record()
    plog.submit([a]).result(timeout=10)
    for bad, shown in ((None, "null"), (float("nan"), "null"), (np.float64("nan"), "null")):
        with pytest.raises(DataError) as err:
            plog.add_feedback([FeedbackItem(a.id, bad)])
        assert err.value.message == (
            f"Label of prediction '{a.id}' is {shown}; send the true label (a class of the model, or a "
            "number for a regressor)."
        )
        assert err.value.status_code == 422
    assert plog.add_feedback([FeedbackItem(a.id, 1)]) == [FeedbackResult(a.id, "recorded")]


SPECS = {
    ("m", 1): {"task": "classification", "classes": [0, 1]},
    ("b", 1): {"task": "classification", "classes": [False, True]},
    ("s", 1): {"task": "classification", "classes": ["no", "yes"]},
    ("r", 1): {"task": "regression"},
}


@pytest.mark.parametrize(
    ("model", "label", "stored"),
    [
        ("m", 1, 1),
        ("m", 1.0, 1),
        ("m", 0.0, 0),
        ("b", True, True),
        ("s", "yes", "yes"),
        ("r", 3, 3),
        ("r", -2.5, -2.5),
    ],
)
def test_labels_that_are_classes_of_the_model_are_stored_as_the_class(
    plog: PredictionLog, model: str, label: object, stored: object
) -> None:
    record = make_record(model)
    plog.submit([record]).result(timeout=10)
    results = plog.add_feedback([FeedbackItem(record.id, label)], outputs=lambda m, v: SPECS[(m, v)])
    assert results == [FeedbackResult(record.id, "recorded")]
    frame = PredictionLog.read(plog.store, model)
    assert frame["label"].tolist() == [stored] and type(frame["label"].iloc[0]) is type(stored)


@pytest.mark.parametrize(
    ("model", "label", "message"),
    [
        (
            "m",
            "yes",
            "Label 'yes' of prediction '{id}' is not a class of m@1 (classes: 0, 1). Send one of the classes.",
        ),
        (
            "m",
            7,
            "Label 7 of prediction '{id}' is not a class of m@1 (classes: 0, 1). Send one of the classes.",
        ),
        (
            "m",
            True,
            "Label True of prediction '{id}' is not a class of m@1 (classes: 0, 1). Send one of the classes.",
        ),
        (
            "m",
            "1",
            "Label '1' of prediction '{id}' is not a class of m@1 (classes: 0, 1). Send one of the classes.",
        ),
        (
            "m",
            0.5,
            "Label 0.5 of prediction '{id}' is not a class of m@1 (classes: 0, 1). Send one of the classes.",
        ),
        (
            "b",
            1,
            "Label 1 of prediction '{id}' is not a class of b@1 (classes: False, True). Send one of the classes.",
        ),
        (
            "s",
            1,
            "Label 1 of prediction '{id}' is not a class of s@1 (classes: 'no', 'yes'). Send one of the classes.",
        ),
        (
            "r",
            "3",
            "Label '3' of prediction '{id}' is not a number; r@1 is a regressor: send a finite number.",
        ),
        (
            "r",
            True,
            "Label True of prediction '{id}' is not a number; r@1 is a regressor: send a finite number.",
        ),
    ],
)
def test_labels_the_model_cannot_have_are_refused(
    plog: PredictionLog, model: str, label: object, message: str
) -> None:
    record, other = make_record(model), make_record(model)
    plog.submit([record, other]).result(timeout=10)
    with pytest.raises(DataError) as err:
        good = 1 if model != "s" else "no"
        plog.add_feedback(
            [FeedbackItem(other.id, good if model != "b" else True), FeedbackItem(record.id, label)],
            outputs=lambda m, v: SPECS[(m, v)],
        )
    assert err.value.message == message.format(id=record.id)
    assert err.value.status_code == 422
    assert PredictionLog.read(plog.store, model)["label"].isna().all()  # all or nothing


def test_a_conflict_in_a_list_records_nothing(plog: PredictionLog) -> None:
    a, b = make_record(), make_record()
    plog.submit([a, b]).result(timeout=10)
    plog.add_feedback([FeedbackItem(a.id, "cat")])
    with pytest.raises(ConflictError, match=a.id):
        plog.add_feedback([FeedbackItem(b.id, "dog"), FeedbackItem(a.id, "dog")])
    assert plog.add_feedback([FeedbackItem(b.id, "cow")]) == [FeedbackResult(b.id, "recorded")]


def test_repeated_ids_in_one_call_are_applied_in_order(plog: PredictionLog) -> None:
    a = make_record()
    plog.submit([a]).result(timeout=10)
    results = plog.add_feedback(
        [FeedbackItem(a.id, 1), FeedbackItem(a.id, 1), FeedbackItem(a.id, 2, overwrite=True)]
    )
    assert [r.status for r in results] == ["recorded", "unchanged", "overwritten"]
    assert PredictionLog.read(plog.store, "m")["label"].tolist() == [2]


def test_feedback_for_a_prediction_still_queued_waits_for_it(store: Store, spool_dir: Path) -> None:
    plog = PredictionLog(store, spool_dir=spool_dir, durability="async")
    plog.start()
    record = make_record()
    plog.submit([record])  # answered at once; the row may not be written yet
    assert plog.add_feedback([FeedbackItem(record.id, 1)]) == [FeedbackResult(record.id, "recorded")]
    plog.close()


def test_read_filters_by_model_and_time_and_keeps_the_latest(plog: PredictionLog, store: Store) -> None:
    t0 = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    records = [make_record("iris", i=i, ts=t0 + dt.timedelta(minutes=i)) for i in range(6)]
    plog.submit([*records, make_record("other")]).result(timeout=10)
    plog.add_feedback([FeedbackItem(records[4].id, "virginica")])

    frame = read_predictions(store, "iris")
    assert frame["id"].tolist() == [r.id for r in records]
    assert str(frame["ts"].dtype) == "datetime64[ns, UTC]" or str(frame["ts"].dtype).endswith(", UTC]")
    window = read_predictions(
        store, "iris", since=t0 + dt.timedelta(minutes=1), until=t0 + dt.timedelta(minutes=4)
    )
    assert window["id"].tolist() == [r.id for r in records[1:4]]
    latest = read_predictions(store, "iris", limit=2)
    assert latest["id"].tolist() == [r.id for r in records[4:]]
    assert latest["label"].tolist() == ["virginica", None]
    assert latest["label_ts"].notna().tolist() == [True, False]
    assert latest["features"].iloc[0] == {"x": 4.0, "city": "Oslo"}

    empty = read_predictions(store, "nobody")
    assert empty.empty and list(empty.columns) == list(frame.columns)


def test_a_query_the_database_refuses_is_not_an_outage() -> None:
    import sqlite3

    import psycopg
    import sqlalchemy as sa

    from modelward.predlog._log import is_unavailable

    def op(orig: Exception) -> sa.exc.OperationalError:
        return sa.exc.OperationalError("SELECT 1", None, orig)

    assert not is_unavailable(op(sqlite3.OperationalError("too many SQL variables")))
    assert not is_unavailable(op(sqlite3.OperationalError("no such table: feedback")))
    assert is_unavailable(op(sqlite3.OperationalError("unable to open database file")))
    assert is_unavailable(op(sqlite3.OperationalError("database is locked")))
    assert is_unavailable(op(psycopg.OperationalError("connection refused")))
    assert not is_unavailable(sa.exc.IntegrityError("INSERT", None, sqlite3.IntegrityError("UNIQUE")))
