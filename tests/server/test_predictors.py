"""The cheaper prediction paths give exactly what scikit-learn gives, and stand aside when they can't."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import ExtraTreesClassifier, GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from modelward import Workspace
from modelward.persistence import dumps
from modelward.server import create_app
from modelward.server.predictors import compile_fast, compile_forest, compile_linear, float_matrix

from .conftest import AppClient

NAMES = [f"x{i}" for i in range(6)]


def _data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(n, len(NAMES))), columns=NAMES)
    y = rng.choice(["a", "b", "c"], size=n)
    return x, y


def _example(n: int = 5) -> list[dict[str, float]]:
    return _data(n, 3)[0].to_dict(orient="records")  # type: ignore[return-value]


@pytest.mark.parametrize("cls", [RandomForestClassifier, ExtraTreesClassifier])
def test_forest_probabilities_are_bit_identical(cls: Any) -> None:
    x, y = _data(400, 0)
    forest = cls(n_estimators=25, max_depth=6, random_state=0).fit(x, y)
    fast = compile_forest(forest, NAMES, _example())
    assert fast is not None
    new, _ = _data(300, 1)
    got = fast(float_matrix(new.to_dict(orient="list"), NAMES, np.float32))
    expected = forest.predict_proba(new)
    assert np.array_equal(got, expected)  # exact, not approximately equal
    assert np.array_equal(forest.classes_[got.argmax(axis=1)], forest.predict(new))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_logistic_regression_predictions_and_probabilities_are_bit_identical(n_classes: int) -> None:
    x, y = _data(400, 0)
    y = np.where(y == "c", "b", y) if n_classes == 2 else y
    model = LogisticRegression(max_iter=500).fit(x, y)
    fast = compile_linear(model, NAMES, _example())
    assert fast is not None
    assert getattr(compile_fast(model, NAMES, _example()), "kind", None) == "linear"
    for n in (1, 5, 300):
        new, _ = _data(n, n)
        preds, proba = fast.predict_columns(new.to_dict(orient="list"))
        assert np.array_equal(proba, model.predict_proba(new))
        assert np.array_equal(preds, model.predict(new))


def test_forest_path_stands_aside() -> None:
    x, y = _data(200, 0)
    assert compile_forest(LogisticRegression().fit(x, y), NAMES, _example()) is None
    assert (
        compile_linear(RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y), NAMES, _example())
        is None
    )
    assert compile_linear(LogisticRegression().fit(x, y), NAMES[::-1], _example()) is None
    boosted = GradientBoostingClassifier(n_estimators=5, random_state=0).fit(x, y)
    assert compile_forest(boosted, NAMES, _example()) is None
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    assert compile_forest(forest, NAMES[::-1], _example()) is None  # columns in another order
    assert compile_forest(forest, NAMES[:-1], _example()) is None
    multi = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, np.c_[y, y])
    assert compile_forest(multi, NAMES, _example()) is None


def test_float_matrix_keeps_order_and_turns_null_into_nan() -> None:
    m = float_matrix({"b": [1.5, None], "a": [2, 3.25]}, ["a", "b"])
    assert m.dtype == np.float64 and m.flags.c_contiguous
    assert m[0].tolist() == [2.0, 1.5] and m[1, 0] == 3.25 and np.isnan(m[1, 1])


def _forest_workspace(root: Path) -> tuple[Workspace, RandomForestClassifier]:
    x, y = _data(500, 0)
    forest = RandomForestClassifier(n_estimators=30, max_depth=8, random_state=0).fit(x, y)
    inputs = [{"name": n, "type": "numeric", "dtype": "float64", "nullable": False} for n in NAMES]
    ws = Workspace.init(root, config="models: {}\n")
    ws.registry.register(
        "forest",
        task="classification",
        artifact=ws.artifacts.put(dumps(forest, "skops")),
        serializer="skops",
        flavor="sklearn",
        signature={"inputs": inputs, "output": {"name": "y", "task": "classification"}},
        input_example=_example(),
        params={},
        metrics={},
        lineage={},
    )
    ws.registry.promote("forest", 1, reason="test")
    return ws, forest


def test_served_forest_answers_exactly_as_sklearn_on_both_routes(tmp_path: Path) -> None:
    ws, forest = _forest_workspace(tmp_path / "ws")
    new, _ = _data(40, 2)
    records = new.to_dict(orient="records")
    expected = forest.predict_proba(new)
    with ws:
        app = create_app(ws)
        with AppClient(app) as client:
            served = app.state.modelward.cache.table[("forest", "champion")]
            assert served.fast_path == "forest"
            # Concurrent single-row requests: merged into micro-batches, each answered with its own row.
            answers = client.run_all(
                [
                    client.client.post(
                        "/v1/models/forest/predict", json={"instances": [r], "return": ["proba"]}
                    )
                    for r in records
                ]
            )
            assert [a.status_code for a in answers] == [200] * len(records)
            got = np.array([a.json()["probabilities"][0] for a in answers])
            assert np.array_equal(got, expected)
            assert [a.json()["predictions"][0] for a in answers] == forest.predict(new).tolist()
            # The same request through FastAPI's own route (used when the hot path is not in front).
            app.predict_path, hot = None, app.predict_path
            try:
                slow = client.post(
                    "/v1/models/forest/predict", json={"instances": records, "return": ["proba"]}
                )
                bad = client.post("/v1/models/forest/predict", json={"instances": [{"x0": "1"}]})
            finally:
                app.predict_path = hot
            assert slow.status_code == 200
            assert np.array_equal(np.array(slow.json()["probabilities"]), expected)
            assert bad.status_code == 422
            assert bad.json()["error"]["details"] | {"expected": None, "got": None} == {
                "reason": "wrong_type",
                "column": "x0",
                "row": 0,
                "expected": None,
                "got": None,
            }
