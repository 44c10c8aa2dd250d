"""Importance stored at registration, shown by `models show`; `modelward explain` writes its HTML and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from modelward import Workspace
from modelward.cli import app
from modelward.demo import agrawal_frame
from modelward.training import record_importance

CONFIG = """\
models:
  credit:
    task: classification
    target: approved
    dataset: loans
    entrypoint: modelward.demo:train_random_forest
    params: {n_estimators: 20, max_depth: 6, random_state: 0}
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("explain")
    agrawal_frame(1500, seed=0).to_csv(root / "loans.csv", index=False)
    with Workspace.init(root / "ws", config=CONFIG) as ws:
        ws.datasets.add(root / "loans.csv", "loans")
        ws.train("credit")
    return root


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_registration_stores_importance_and_models_show_prints_it(trained: Path) -> None:
    with Workspace.open(trained / "ws") as ws:
        mv = ws.registry.get("credit", 1)
    imp = mv.importance
    assert imp is not None and imp["method"] == "tree_shap" and imp["output"] == "probability"
    assert imp["permutation_rows"] == 375 and imp["repeats"] == 3 and 100 <= imp["rows"] <= 375
    names = [f["feature"] for f in imp["features"]]
    assert sorted(names) == sorted(c["name"] for c in mv.signature["inputs"])  # input columns, one-hot summed
    shap_order = [f["mean_abs_shap"] for f in imp["features"]]
    assert shap_order == sorted(shap_order, reverse=True)
    out = invoke("models", "show", "credit@1", "-w", str(trained / "ws"))
    assert "importance (holdout)" in out and "tree_shap" in out
    assert names[0] in out.split("importance (holdout)")[1]


def test_explain_writes_self_contained_html_and_additive_json(trained: Path) -> None:
    html, js = trained / "out" / "credit.html", trained / "out" / "credit.json"
    out = invoke(
        "explain",
        "credit",
        "-w",
        str(trained / "ws"),
        "--html",
        str(html),
        "--json",
        str(js),
        "--rows",
        "200",
    )
    assert "credit@1 explained on the holdout of credit@1" in " ".join(out.split())
    page = html.read_text()
    assert page.count("<svg") >= 5  # bars, permutation bars, beeswarm, three dependence plots
    for outside in ("http://", "https://", "<script", "<link", "src="):
        assert outside not in page, outside
    data = json.loads(js.read_text())
    e = data["explanation"]
    assert (e["method"], e["class"]) == ("tree_shap", 1) and len(e["values"]) == len(data["rows"]) == 200
    with Workspace.open(trained / "ws") as ws:
        model = ws.load_model(ws.registry.get("credit", 1))
    frame = pd.DataFrame(data["rows"])[e["features"]]
    total = e["base_value"] + np.asarray(e["values"]).sum(axis=1)
    np.testing.assert_allclose(total, model.predict_proba(frame)[:, 1], rtol=0, atol=1e-6)


def test_explain_with_data_lacking_a_column_says_which(trained: Path, tmp_path: Path) -> None:
    agrawal_frame(50, seed=9).drop(columns=["age"]).to_csv(tmp_path / "rows.csv", index=False)
    result = CliRunner().invoke(
        app, ["explain", "credit", "-w", str(trained / "ws"), "--data", str(tmp_path / "rows.csv")]
    )
    assert result.exit_code != 0  # `modelward` prints the ModelwardError's message without a traceback
    assert "lacks input column(s) age of credit@1" in str(result.exception)


def test_importance_recorded_after_registration_once(trained: Path) -> None:
    """The loop registers from its time-limited training subprocess without importance, then records it."""
    with Workspace.open(trained / "ws") as ws:
        v1 = ws.registry.get("credit", 1)
        v2 = ws.registry.register(
            "credit",
            task=v1.task,
            artifact=v1.artifact,
            serializer=v1.serializer,
            flavor=v1.flavor,
            signature=v1.signature,
            input_example=v1.input_example,
            params=v1.params,
            metrics=v1.metrics,
            lineage=v1.lineage,
            dataset_version_id=v1.dataset_version_id,
        )
        assert v2.importance is None
        recorded = record_importance(ws, v2)
        assert recorded.importance is not None and v1.importance is not None
        # the same model on the same holdout with the same seed: the same permutation importance
        perm = {f["feature"]: f["permutation_mean"] for f in recorded.importance["features"]}
        assert perm == {f["feature"]: f["permutation_mean"] for f in v1.importance["features"]}
        assert not ws.registry.set_importance("credit", 2, {"format": "other"})  # never replaced
        assert ws.registry.get("credit", 2).importance == recorded.importance


def test_a_model_can_register_without_importance(tmp_path: Path) -> None:
    """`importance: false` in the model's entry: nothing computed at registration; `explain` still works."""
    agrawal_frame(600, seed=1).to_csv(tmp_path / "loans.csv", index=False)
    config = CONFIG.replace("    params:", "    importance: false\n    params:")
    with Workspace.init(tmp_path / "ws", config=config) as ws:
        ws.datasets.add(tmp_path / "loans.csv", "loans")
        mv = ws.train("credit", params={"n_estimators": 5})
        assert mv.importance is None and ws.registry.get("credit", mv.version).importance is None
    out = invoke("explain", "credit@1", "-w", str(tmp_path / "ws"), "--json", str(tmp_path / "e.json"))
    assert "SHAP" in out, out
    assert json.loads((tmp_path / "e.json").read_text())["importance"]["features"]
