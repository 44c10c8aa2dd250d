"""Train → register → load → reproduce, through the Workspace API, on both backends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelward import Workspace
from modelward.demo import agrawal_frame
from modelward.errors import TrainingError, UntrustedModelError

CONFIG = """\
models:
  credit:
    task: classification
    target: approved
    dataset: agrawal
    entrypoint: modelward.demo:train_random_forest
    params: {n_estimators: 20, max_depth: 6, random_state: 0}
  price:
    task: regression
    target: salary
    dataset: agrawal
    features: [age, loan, hvalue, car]
    entrypoint: modelward.demo:train_random_forest_regressor
    params: {n_estimators: 10, random_state: 0}
  broken:
    task: classification
    target: approved
    dataset: agrawal
    entrypoint: usercode:explode
  custom:
    task: classification
    target: approved
    dataset: agrawal
    entrypoint: usercode:majority
  forest:
    task: classification
    target: approved
    dataset: agrawal
    entrypoint: usercode:forest
    params: {n_estimators: 10, random_state: 1}
  labels:
    task: regression
    target: zipcode
    dataset: agrawal
    entrypoint: modelward.demo:train_random_forest_regressor
  missing:
    task: classification
    target: nope
    dataset: agrawal
    entrypoint: modelward.demo:train_random_forest
"""

USERCODE = """
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


def _inner(df):
    return df["no_such_column"]


def explode(train_df, params):
    return _inner(train_df)


class Majority(ClassifierMixin, BaseEstimator):
    def fit(self, x, y):
        self.classes_ = np.unique(y)
        self.value_ = int(np.bincount(np.asarray(y)).argmax())
        return self

    def predict(self, x):
        return np.full(len(x), self.value_)


def forest(train_df, params, *, target):
    from modelward.demo import train_random_forest

    return train_random_forest(train_df, params, target=target)


def majority(train_df, params, *, target):
    return Majority().fit(train_df.drop(columns=[target]), train_df[target])
"""


@pytest.fixture(scope="module")
def demo_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "agrawal.csv"
    agrawal_frame(1500, seed=7).to_csv(path, index=False)
    return path


@pytest.fixture
def ws(tmp_path: Path, database_url: str, demo_csv: Path):  # type: ignore[no-untyped-def]
    root = tmp_path / "ws"
    root.mkdir()
    (root / "usercode.py").write_text(USERCODE)
    workspace = Workspace.init(root, config=CONFIG, database_url=database_url)
    workspace.datasets.add(demo_csv, "agrawal")
    yield workspace
    workspace.close()


def test_train_registers_version_with_metrics_and_lineage(ws: Workspace) -> None:
    mv = ws.train("credit")
    assert mv.ref == "credit@1"
    assert set(mv.metrics) == {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}
    assert 0.8 < mv.metrics["accuracy"] <= 1.0 and 0.5 < mv.metrics["roc_auc"] <= 1.0
    lin = mv.lineage
    assert lin["dataset"]["name"] == "agrawal" and lin["dataset"]["version"] == 1
    assert lin["entrypoint"] == "modelward.demo:train_random_forest"
    assert lin["code"]["source_sha256"] and lin["code"]["kind"] in ("git", "source")
    assert lin["environment"]["packages"]["scikit-learn"]
    assert lin["seed"] == 0 and lin["evaluation"]["rows"] == 375
    assert mv.params == {"n_estimators": 20, "max_depth": 6, "random_state": 0}
    inputs = {c["name"]: c for c in mv.signature["inputs"]}
    assert inputs["car"]["type"] == "categorical" and "make01" in inputs["car"]["categories"]
    assert inputs["salary"]["type"] == "numeric"
    assert "approved" not in inputs and mv.signature["output"]["classes"] == [0, 1]
    assert len(mv.input_example) == 5 and set(mv.input_example[0]) == set(inputs)

    model = ws.load_model(ws.registry.get("credit", 1))
    frame = pd.DataFrame(mv.input_example)
    assert model.predict(frame).shape == (5,)


def test_an_identical_training_registers_nothing_unless_forced(ws: Workspace, demo_csv: Path) -> None:
    """Same data, code, entrypoint, params and seed, and the same model bytes: the existing version."""
    first = ws.train("credit")
    assert first.created and first.ref == "credit@1"
    again = ws.train("credit", description="a second run")
    assert not again.created and again.ref == "credit@1" and again.artifact == first.artifact
    assert [v.version for v in ws.registry.versions("credit")] == [1]
    assert [e.kind for e in ws.registry.events("credit")].count("version_registered") == 1
    forced = ws.train("credit", force=True)
    assert forced.created and forced.ref == "credit@2" and forced.artifact == first.artifact
    assert ws.train("credit").ref == "credit@1"  # the oldest identical version is named
    other_params = ws.train("credit", params={"max_depth": 5})
    assert other_params.created and other_params.ref == "credit@3"
    assert ws.train("credit", params={"max_depth": 5}).ref == "credit@3"

    # The same model bytes from edited code are a new version: the code reference differs.
    forest = ws.train("forest")
    usercode = ws.root / "usercode.py"
    usercode.write_text(usercode.read_text() + "\n# edited\n")
    edited = ws.train("forest")
    assert edited.created and edited.version == forest.version + 1 and edited.artifact == forest.artifact


def test_param_override_and_regression(ws: Workspace) -> None:
    mv = ws.train("price", params={"max_depth": 3})
    assert mv.params["max_depth"] == 3
    assert set(mv.metrics) == {"mae", "rmse", "r2"} and mv.metrics["mae"] > 0
    assert [c["name"] for c in mv.signature["inputs"]] == ["age", "loan", "hvalue", "car"]


def test_reproduce_seeded_random_forest_is_identical(ws: Workspace) -> None:
    ws.train("credit")
    report = ws.reproduce("credit", 1)
    assert report.identical and report.max_abs_difference == 0.0
    assert report.rows_compared == 375
    assert report.differences == {}
    assert report.metrics_reproduced == report.metrics_original


def test_reproduce_reports_nondeterminism_and_lineage_drift(ws: Workspace) -> None:
    mv = ws.train("credit", params={"random_state": None})
    report = ws.reproduce("credit", mv.version)
    assert not report.identical and 0 < report.max_abs_difference <= 1

    forest = ws.train("forest")
    usercode = ws.root / "usercode.py"
    usercode.write_text(usercode.read_text() + "\n# edited after training\n")
    report = ws.reproduce("forest", forest.version)
    assert report.identical  # same data, params and seed
    assert set(report.differences) == {"code.source_sha256"}
    assert report.differences["code.source_sha256"]["recorded"] == forest.lineage["code"]["source_sha256"]


def test_training_failure_registers_nothing(ws: Workspace) -> None:
    with pytest.raises(TrainingError) as info:
        ws.train("broken")
    msg = info.value.message
    assert "usercode:explode failed: KeyError" in msg and "Nothing was registered" in msg
    assert "usercode.py" in msg and "_inner" in msg  # the user's traceback, summarised
    assert ws.registry.list_models() == []


def test_missing_target_and_non_numeric_regression_target(ws: Workspace) -> None:
    with pytest.raises(TrainingError, match="Target column 'nope' is not in agrawal@1. Columns: salary"):
        ws.train("missing")
    with pytest.raises(TrainingError, match=r"Regression target 'zipcode' must be numeric.*'zip"):
        ws.train("labels")
    assert ws.registry.list_models() == []


def test_a_holdout_under_30_rows_is_refused_with_the_count_and_the_fix(ws: Workspace, tmp_path: Path) -> None:
    """100 rows at test_size 0.25 leave 25 evaluation rows: no model is registered on metrics that thin."""
    small = tmp_path / "small.csv"
    agrawal_frame(100, seed=3).to_csv(small, index=False)
    dv = ws.datasets.add(small, "small")
    with pytest.raises(TrainingError) as info:
        ws.train("credit", data=dv.ref)
    assert info.value.message == (
        "The split leaves 25 evaluation rows of the 100 rows of small@1 (split.test_size 0.25); at least 30 are "
        "needed for metrics that mean anything, so nothing was trained or registered. To fix it, raise "
        "`split.test_size` in modelward.yaml to 0.3, or train on more data (at least 117 rows at test_size 0.25)."
    )
    tiny = tmp_path / "tiny.csv"
    agrawal_frame(8, seed=3).to_csv(tiny, index=False)
    with pytest.raises(
        TrainingError,
        match=r"leaves 2 evaluation rows of the 8 rows of tiny@1 .* To fix it, train "
        r"on more data \(at least 117 rows at test_size 0.25\)\.$",
    ):
        ws.train("credit", data=ws.datasets.add(tiny, "tiny").ref)
    assert ws.registry.list_models() == []
    assert ws.train("credit", data="agrawal@1").version == 1  # 1500 rows leave 375


def test_a_time_split_holdout_under_30_rows_is_refused() -> None:
    from modelward.config import ModelSpec
    from modelward.training import prepare

    frame = agrawal_frame(140, seed=3).assign(t=range(140))
    spec = ModelSpec(
        task="classification",
        target="approved",
        entrypoint="m:f",
        split={"kind": "time", "time_column": "t", "test_size": 0.2},
    )
    with pytest.raises(
        TrainingError,
        match=r"^The split leaves 28 evaluation rows of the 140 rows of d@1 "
        r"\(split.test_size 0.2\).* raise `split.test_size` in modelward.yaml to 0.22, or train on "
        r"more data \(at least 148 rows at test_size 0.2\)\.$",
    ):
        prepare(frame, spec, dataset="d@1")
    assert len(prepare(agrawal_frame(148, seed=3).assign(t=range(148)), spec, dataset="d@1").test) == 30


def test_custom_class_model_is_refused_before_registration(ws: Workspace) -> None:
    with pytest.raises(UntrustedModelError, match="usercode.Majority"):
        ws.train("custom")
    assert ws.registry.list_models() == []


def test_identical_predictions_helper_handles_labels() -> None:
    from modelward.training._reproduce import _compare

    assert _compare(np.array(["a", "b"]), np.array(["a", "b"])) == (True, 0.0)
    assert _compare(np.array(["a", "b"]), np.array(["a", "c"]))[0] is False
    assert _compare(np.array([0.1, 0.2]), np.array([0.1, 0.25]))[1] == pytest.approx(0.05)


LINEAGE_CONFIG = """\
models:
  weighted:
    task: classification
    target: approved
    dataset: agrawal
    entrypoint: usercode:weighted
    sample_weight: w
    split: {kind: time, time_column: t, test_size: 0.2}
  pickled:
    task: classification
    target: approved
    dataset: agrawal
    entrypoint: usercode:majority
    serializer: pickle
  trusted:
    task: classification
    target: approved
    dataset: agrawal
    entrypoint: usercode:majority
    trusted_types: [usercode.Majority]
"""

WEIGHTED = """
from sklearn.linear_model import LogisticRegression


def weighted(train_df, params, *, target, features, sample_weight):
    assert sample_weight == "w" and "w" not in features and "t" not in features
    model = LogisticRegression(max_iter=500)
    return model.fit(train_df[features], train_df[target], sample_weight=train_df[sample_weight])
"""


def test_git_lineage_time_split_weights_and_serializers(tmp_path: Path, demo_csv: Path) -> None:
    import subprocess

    root = tmp_path / "repo"
    root.mkdir()
    (root / "usercode.py").write_text(USERCODE + WEIGHTED)
    frame = pd.read_csv(demo_csv)[["salary", "age", "loan", "approved"]]
    frame["w"] = 1.0
    frame["t"] = np.arange(len(frame))[::-1]  # time runs backwards: the holdout is the first rows
    frame.to_csv(root / "data.csv", index=False)
    git = ["git", "-C", str(root), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "usercode.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "code"], check=True)
    commit = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()

    with Workspace.init(root, config=LINEAGE_CONFIG) as ws:
        ws.datasets.add(root / "data.csv", "agrawal")
        mv = ws.train("weighted")
        code = mv.lineage["code"]
        assert (code["kind"], code["commit"], code["dirty"]) == ("git", commit, False)
        assert [c["name"] for c in mv.signature["inputs"]] == ["salary", "age", "loan"]
        assert mv.lineage["evaluation"]["rows"] == 300 and mv.lineage["sample_weight"] == "w"

        (root / "usercode.py").write_text((root / "usercode.py").read_text() + "\n# uncommitted\n")
        assert ws.train("weighted").lineage["code"]["dirty"] is True

        pickled = ws.train("pickled")
        assert pickled.serializer == "pickle"
        assert ws.load_model(pickled).predict(frame.head(2)[["salary", "age", "loan"]]).shape == (2,)
        trusted = ws.train("trusted")
        assert trusted.trusted_types == ["usercode.Majority"]
        assert type(ws.load_model(trusted)).__name__ == "Majority"
