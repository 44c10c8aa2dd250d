"""The predict body's ``"context"``: columns logged beside the inputs but never passed to the model (a
sensitive column the fairness check needs). Parsed and refused with a clear error; logged per row; read
back with each window; the monitor's fairness check finds the column there, and checks it again when
late labels arrive."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelward import Workspace
from modelward.demo import agrawal_frame
from modelward.maintenance import Monitor
from modelward.monitoring.fairness import fairness
from modelward.predlog import parse_window, read_predictions, read_window
from modelward.server import create_app
from modelward.server.context import MAX_CONTEXT_KEYS
from modelward.server.validation import InputError, parse_body

from .conftest import AppClient, Trained, make_workspace, rows


def _parse(body: dict[str, Any]) -> Any:
    return parse_body(body, max_rows=100)


def test_one_object_is_every_rows_context_and_a_list_is_one_per_row() -> None:
    records = [{"a": 1}, {"a": 2}, {"a": 3}]
    assert _parse({"dataframe_records": records}).context is None
    shared = _parse({"dataframe_records": records, "context": {"gender": "f", "site": 3}}).context
    assert shared == [{"gender": "f", "site": 3}] * 3
    each = [{"gender": "f"}, {"gender": None}, {"gender": "m", "vip": True}]
    assert _parse({"dataframe_records": records, "context": each}).context == each


@pytest.mark.parametrize(
    ("context", "status", "reason", "column", "words"),
    [
        ("f", 400, "malformed", None, "must be an object or a list of objects"),
        ([{"g": "f"}], 400, "malformed", None, "1 object(s) for 3 row(s)"),
        ([{"g": "f"}, 2, {"g": "m"}], 400, "malformed", None, "item 1 must be an object"),
        ({"g": {"nested": 1}}, 422, "wrong_type", "context.g", "strings, numbers, booleans or null"),
        ({"g": [1, 2]}, 422, "wrong_type", "context.g", "is a JSON array"),
        ({"g": "x" * 201}, 422, "out_of_range", "context.g", "at most 200"),
        ({"a": "f"}, 422, "unexpected_column", "context.a", "sends as an input column"),
        ({f"k{i}": i for i in range(MAX_CONTEXT_KEYS + 1)}, 400, "malformed", None, "at most 20"),
        ({"": 1}, 400, "malformed", None, "a key of 0 characters"),
        ({"g": "a\x00b"}, 422, "out_of_range", "context.g", "NUL character"),
        ({"g\x00": "f"}, 422, "out_of_range", "context.g\x00", "NUL character"),
    ],
)
def test_a_bad_context_is_refused_naming_what_and_how(
    context: Any, status: int, reason: str, column: str | None, words: str
) -> None:
    with pytest.raises(InputError) as info:
        _parse({"dataframe_records": [{"a": 1}, {"a": 2}, {"a": 3}], "context": context})
    err = info.value
    assert (err.status_code, err.reason, err.details["column"]) == (status, reason, column)
    assert words in err.message, err.message


def _workspace(root: Path, database_url: str, trained: dict[str, Trained]) -> Path:
    """credit served, windows of 300 rows, ``gender`` declared sensitive (it is not an input of credit)."""
    make_workspace(root, database_url, trained, 'monitor: {window: "300", lateness_seconds: 0}\n')
    config = root / "modelward.yaml"
    text = config.read_text()
    assert "    params: {max_iter: 300}\n" in text
    config.write_text(
        text.replace(
            "    params: {max_iter: 300}\n",
            "    params: {max_iter: 300}\n"
            "    monitor: {sensitive_columns: [gender], fairness_min_group_rows: 20}\n",
            1,
        )
    )
    return root


def test_context_is_logged_read_back_and_checked_for_fairness_again_when_labels_arrive(
    tmp_path: Path, database_url: str, trained: dict[str, Trained]
) -> None:
    root = _workspace(tmp_path / "ws", database_url, trained)
    frame = agrawal_frame(300, seed=21)
    inputs = frame.drop(columns=["approved"]).to_dict(orient="records")
    gender = np.where(np.arange(300) % 3 == 0, "f", "m").astype(object)
    ids: list[str] = []
    predictions: list[Any] = []
    with Workspace.open(root, database_url=database_url) as ws, AppClient(create_app(ws)) as client:
        for start in range(0, 300, 50):
            body: dict[str, Any] = {"dataframe_records": inputs[start : start + 50]}
            chunk = gender[start : start + 50]
            # one object for all rows when they share it, else one per row
            body["context"] = {"gender": chunk[0]} if len(set(chunk)) == 1 else [{"gender": g} for g in chunk]
            resp = client.post("/v1/models/credit/predict", json=body)
            assert resp.status_code == 200, resp.text
            ids += resp.json()["prediction_ids"]
            predictions += resp.json()["predictions"]
        # a refused context logs nothing, and does not disturb the requests around it
        bad = client.post(
            "/v1/models/credit/predict",
            json={"dataframe_records": rows(2), "context": [{"gender": "f"}]},
        )
        assert bad.status_code == 400 and "1 object(s) for 2 row(s)" in bad.json()["error"]["message"]
        labels = frame["approved"].tolist()
        first = [{"prediction_id": i, "label": y} for i, y in zip(ids[:150], labels[:150], strict=True)]
        resp = client.post("/v1/feedback", json=first)
        assert resp.status_code == 200, resp.text

    with Workspace.open(root, database_url=database_url) as ws:
        logged = read_predictions(ws.store, "credit")
        assert len(logged) == 300  # the refused request logged nothing
        assert [c["gender"] for c in logged["context"]] == list(gender)
        assert all(set(f) == set(inputs[0]) for f in logged["features"])  # the context never joins the inputs
        window = read_window(ws.store, "credit")
        assert list(window.context.columns) == ["gender"] and list(window.context["gender"]) == list(gender)

        (done,) = Monitor(ws, "credit", window=parse_window("300")).run_once().windows
        (result,) = done.report.fairness
        labeled = np.arange(300) < 150
        expected = fairness(
            np.asarray(labels, dtype=object),
            np.asarray(predictions),
            gender,
            labeled=labeled,
            column="gender",
            tests=2,
            min_group_rows=20,
        )
        assert result.to_dict() == expected.to_dict()
        assert {g.group: (g.rows, g.labeled) for g in result.groups} == {"f": (100, 50), "m": (200, 100)}
        assert ws.monitoring_results.report(ws.monitoring_results.runs("credit")[0].id).fairness == (result,)

    # Late labels: the window's fairness is computed again on every label (the equalized-odds gap needs them).
    with Workspace.open(root, database_url=database_url) as ws, AppClient(create_app(ws)) as client:
        items = [{"prediction_id": i, "label": y} for i, y in zip(ids[150:], labels[150:], strict=True)]
        assert client.post("/v1/feedback", json=items).status_code == 200
    with Workspace.open(root, database_url=database_url) as ws:
        later = Monitor(ws, "credit", window=parse_window("300")).run_once(
            now=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        )
        assert later.windows == [] and [r.n_labeled for r in later.relabeled] == [300]
        report = ws.monitoring_results.report(ws.monitoring_results.runs("credit")[0].id)
        (again,) = report.fairness
        expected = fairness(
            np.asarray(labels, dtype=object),
            np.asarray(predictions),
            gender,
            column="gender",
            tests=2,
            min_group_rows=20,
        )
        assert again.to_dict() == expected.to_dict()
        assert {g.group: g.labeled for g in again.groups} == {"f": 100, "m": 200}


def test_a_window_without_context_has_an_empty_context_frame(
    tmp_path: Path, database_url: str, trained: dict[str, Trained]
) -> None:
    root = make_workspace(tmp_path / "ws", database_url, trained)
    with Workspace.open(root, database_url=database_url) as ws, AppClient(create_app(ws)) as client:
        assert (
            client.post("/v1/models/credit/predict", json={"dataframe_records": rows(4)}).status_code == 200
        )
    with Workspace.open(root, database_url=database_url) as ws:
        window = read_window(ws.store, "credit")
        assert len(window) == 4 and window.context.shape == (4, 0)
        assert read_predictions(ws.store, "credit")["context"].tolist() == [None] * 4
    assert isinstance(window.context, pd.DataFrame)


def test_a_spooled_line_keeps_its_context_and_an_older_line_reads_as_none() -> None:
    """The spool holds JSON lines: a record's context survives the round trip, and a line spooled by a
    version without the context key still replays (its context is None)."""
    import orjson

    from modelward.predlog import PredictionRecord
    from modelward.predlog._records import decode_line, encode_record

    record = PredictionRecord(
        "0190a0b0-0000-7000-8000-000000000001",
        dt.datetime.now(dt.UTC),
        "credit",
        1,
        "champion",
        None,
        {"age": 41},
        1,
        None,
        2.5,
        {"gender": "f", "site": 3},
    )
    line = encode_record(record)
    assert decode_line(line)["context"] == {"gender": "f", "site": 3}
    old = orjson.loads(line)
    del old["context"]
    assert decode_line(orjson.dumps(old))["context"] is None


def test_a_nul_character_is_refused_alone_and_fails_nobody_else(
    tmp_path: Path, database_url: str, trained: dict[str, Trained]
) -> None:
    """PostgreSQL stores no NUL in JSON, and a micro-batch is logged at once: a NUL in a context value or in
    a free string input is refused (422) before it reaches the log, and the requests batched beside it are
    answered and logged."""
    root = make_workspace(tmp_path / "ws", database_url, trained, "serve:\n  unknown_categories: allow\n")
    good = rows(3)
    in_context = {"dataframe_records": rows(1), "context": {"gender": "f\x00"}}
    in_input = {"dataframe_records": [{**rows(1)[0], "car": "make01\x00"}]}
    with Workspace.open(root, database_url=database_url) as ws, AppClient(create_app(ws)) as client:
        answers = client.run_all(
            [
                client.client.post("/v1/models/credit/predict", json=body)
                for body in ({"dataframe_records": good}, in_context, in_input, {"dataframe_records": good})
            ]
        )
        assert [a.status_code for a in answers] == [200, 422, 422, 200], [a.text for a in answers]
        assert answers[1].json()["error"]["details"]["column"] == "context.gender"
        assert answers[2].json()["error"]["details"] == {
            "reason": "out_of_range",
            "column": "car",
            "row": 0,
        }
        logged = read_predictions(ws.store, "credit")
    assert sorted(logged["id"]) == sorted(
        answers[0].json()["prediction_ids"] + answers[3].json()["prediction_ids"]
    )
