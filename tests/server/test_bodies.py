"""Feedback and admin bodies: JSON whatever the content type, bounded, labels checked; CSV on /invocations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from modelward import Workspace
from modelward.server import create_app

from .conftest import TOKEN, AppClient, Trained, make_workspace, register, rows

FORM = {"Content-Type": "application/x-www-form-urlencoded"}  # what `curl -d` sends


@pytest.fixture
def small(tmp_path: Path, trained: dict[str, Trained]) -> Any:
    """A server with small limits: 20,000-byte bodies, 50 feedback items."""
    url = f"sqlite:///{tmp_path / 'mw.db'}"
    settings = "serve:\n  max_body_bytes: 20000\n  max_feedback_items: 50\n  default_model: credit\n"
    root = make_workspace(tmp_path / "ws", url, trained, settings)
    with Workspace.open(root, database_url=url) as ws, AppClient(create_app(ws)) as client:
        yield client


def _ids(client: AppClient, n: int) -> list[str]:
    answer = client.post("/v1/models/credit/predict", json={"instances": rows(n)})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["prediction_ids"])


def test_feedback_and_admin_take_json_sent_as_a_form_as_curl_does(
    small: AppClient, trained: dict[str, Trained]
) -> None:
    [pid] = _ids(small, 1)
    answer = small.post(
        "/v1/feedback", content=orjson.dumps({"prediction_id": pid, "label": 1}), headers=FORM
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"results": [{"prediction_id": pid, "status": "recorded"}]}
    text = small.post(
        "/v1/feedback",
        content=b'[{"prediction_id": "%s", "label": 1}]' % pid.encode(),
        headers={"Content-Type": "text/plain"},
    )
    assert text.json() == {"results": [{"prediction_id": pid, "status": "unchanged"}]}
    register(small.app.state.modelward.ws, trained["credit"])  # credit@2
    auth = {**FORM, "Authorization": f"Bearer {TOKEN}"}
    promote = small.post(
        "/v1/admin/models/credit/promote", content=b'{"version": 2, "reason": "curl"}', headers=auth
    )
    assert promote.status_code == 200, promote.text
    assert promote.json()["to_version"] == 2 and promote.json()["reason"] == "curl"
    back = small.post("/v1/admin/models/credit/rollback", content=b"{}", headers=auth)
    assert back.status_code == 200 and back.json()["to_version"] == 1


def test_bad_feedback_bodies_get_clear_4xx(small: AppClient) -> None:
    not_json = small.post("/v1/feedback", content=b"prediction_id=abc&label=1", headers=FORM)
    assert not_json.status_code == 400
    assert not_json.json()["error"]["message"].startswith("The request body is not valid JSON (")
    assert (
        'Send a JSON body such as {"prediction_id": "...", "label": 1}.'
        in not_json.json()["error"]["message"]
    )
    shape = small.post("/v1/feedback", json={"label": 1})
    assert shape.status_code == 422
    assert shape.json()["error"]["message"] == (
        "Invalid request at body.prediction_id: Field required. See /docs for the expected body."
    )
    huge_number = small.post("/v1/feedback", content=b'{"prediction_id": "x", "label": 1e400}')
    assert (
        huge_number.status_code == 422 and huge_number.json()["error"]["details"]["reason"] == "out_of_range"
    )


def test_feedback_is_bounded_by_body_size_and_item_count(small: AppClient) -> None:
    big = small.post("/v1/feedback", content=b"[" + b" " * 25000 + b"]")
    assert big.status_code == 413
    assert big.json()["error"]["details"]["max_body_bytes"] == 20000
    many = [{"prediction_id": f"p{i}", "label": 1} for i in range(51)]
    over = small.post("/v1/feedback", json=many)
    assert over.status_code == 413
    assert over.json()["error"]["message"] == (
        "51 feedback items in one request; at most 50 are accepted (serve.max_feedback_items). Split the list."
    )
    ids = _ids(small, 50)
    at_limit = small.post("/v1/feedback", json=[{"prediction_id": p, "label": 0} for p in ids])
    assert at_limit.status_code == 200 and len(at_limit.json()["results"]) == 50


def test_labels_are_checked_against_the_model_that_made_the_prediction(small: AppClient) -> None:
    credit = _ids(small, 3)
    price = small.post(
        "/v1/models/price/predict",
        json={"instances": [{k: r[k] for k in ("age", "loan", "hvalue", "car")} for r in rows(1)]},
    ).json()["prediction_ids"][0]
    for label in ("yes", 7, True, "1", 0.5, None):
        answer = small.post("/v1/feedback", json={"prediction_id": credit[0], "label": label})
        assert answer.status_code == 422, (label, answer.text)
    message = small.post("/v1/feedback", json={"prediction_id": credit[0], "label": "yes"}).json()["error"][
        "message"
    ]
    assert (
        message
        == f"Label 'yes' of prediction '{credit[0]}' is not a class of credit@1 (classes: 0, 1). Send one of the classes."
    )
    ok = small.post(
        "/v1/feedback",
        json=[{"prediction_id": credit[0], "label": 1.0}, {"prediction_id": price, "label": 51000.5}],
    )
    assert ok.status_code == 200, ok.text
    # the true label still goes in after a refused one (nothing was stored for it)
    assert small.post("/v1/feedback", json={"prediction_id": credit[1], "label": 0}).status_code == 200
    bad_price = small.post("/v1/feedback", json={"prediction_id": price, "label": "high", "overwrite": True})
    assert bad_price.status_code == 422 and "is a regressor: send a finite number" in bad_price.text
    stored = pd.DataFrame(
        small.app.state.modelward.predlog.read(small.app.state.modelward.ws.store, "credit")
    )
    assert stored.set_index("id").loc[credit[0], "label"] == 1


def test_invocations_accept_text_csv_with_the_same_validation(
    small: AppClient, trained: dict[str, Trained]
) -> None:
    frame = pd.DataFrame(rows(3, seed=2))
    csv = frame.to_csv(index=False).encode()
    answer = small.post("/invocations", content=csv, headers={"Content-Type": "text/csv; charset=utf-8"})
    assert answer.status_code == 200, answer.text
    expected = trained["credit"].estimator.predict(frame).tolist()
    assert answer.json()["predictions"] == expected
    bad = frame.astype({"age": object})
    bad.loc[1, "age"] = "old"
    refused = small.post(
        "/invocations", content=bad.to_csv(index=False).encode(), headers={"Content-Type": "text/csv"}
    )
    assert refused.status_code == 422
    # pandas reads a column holding a word as text, every cell of it (as MLflow's server does)
    assert refused.json()["error"]["message"].startswith(
        f"Column 'age' expected an integer, got '{frame.loc[0, 'age']}' in row 0 of 3."
    )
    empty = small.post("/invocations", content=b"", headers={"Content-Type": "text/csv"})
    assert empty.status_code == 400 and "could not be read" in empty.json()["error"]["message"]


def test_fuzzed_labels_never_cause_a_5xx_and_only_classes_are_stored(small: AppClient) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    ids = _ids(small, 40)
    labels = st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.booleans(),
        st.none(),
        st.text(max_size=20),
        st.sampled_from([0, 1, 0.0, 1.0, 2**63, -(2**63) - 1, 1.7976931348623157e308, 5e-324]),
    )
    seen: list[int] = []

    @settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(i=st.integers(min_value=0, max_value=len(ids) - 1), label=labels, overwrite=st.booleans())
    def check(i: int, label: object, overwrite: bool) -> None:
        answer = small.post(
            "/v1/feedback", json={"prediction_id": ids[i], "label": label, "overwrite": overwrite}
        )
        seen.append(answer.status_code)
        assert answer.status_code in (200, 409, 422), (label, answer.status_code, answer.text)
        if answer.status_code == 200:
            assert label in (0, 1) and not isinstance(label, bool), label

    check()
    stored = small.app.state.modelward.predlog.read(small.app.state.modelward.ws.store, "credit")["label"]
    assert set(stored.dropna().tolist()) <= {0, 1}
    assert {200, 422} <= set(seen)
