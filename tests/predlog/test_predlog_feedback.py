"""Feedback: idempotent labels, 409 on a different one, 404 on unknown ids; reading the log back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from predlog_helpers import make_record

from modelward.errors import ConflictError, NotFoundError
from modelward.predlog import FeedbackItem, FeedbackResult, PredictionLog, read_predictions
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


def test_unknown_ids_are_404_and_nothing_is_recorded(plog: PredictionLog) -> None:
    known = make_record()
    plog.submit([known]).result(timeout=10)
    with pytest.raises(
        NotFoundError, match=r"No logged prediction with id 'nope-1', 'nope-2'\. Feedback must name"
    ) as err:
        plog.add_feedback([FeedbackItem(known.id, 1), FeedbackItem("nope-2", 1), FeedbackItem("nope-1", 0)])
    assert err.value.status_code == 404
    assert err.value.details == {"prediction_ids": ["nope-1", "nope-2"]}
    assert plog.add_feedback([FeedbackItem(known.id, 1)]) == [FeedbackResult(known.id, "recorded")]


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
