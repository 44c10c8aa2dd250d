"""The typed lineage and the one path from it back to training: rebuild, train, register, reproduce.

Everything runs on real registered versions, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from modelward import Workspace
from modelward.cli import app
from modelward.demo import agrawal_frame
from modelward.maintenance import _reference
from modelward.registry import ModelVersion
from modelward.training import (
    Lineage,
    LineageError,
    Rebuilt,
    _reproduce,
    index_hash,
    rebuild,
    register,
    spec_of,
    train,
)

CONFIG = """\
models:
  credit:
    task: classification
    target: approved
    dataset: agrawal
    entrypoint: modelward.demo:train_random_forest
    params: {n_estimators: 10, max_depth: 5, random_state: 0}
    split: {kind: random, test_size: 0.3, seed: 3}
  weighted:
    task: classification
    target: approved
    dataset: agrawal
    features: [salary, age, loan]
    entrypoint: usercode:weighted
    sample_weight: w
    split: {kind: time, time_column: t, test_size: 0.2}
"""

USERCODE = """
from sklearn.linear_model import LogisticRegression


def weighted(train_df, params, *, target, features, sample_weight):
    model = LogisticRegression(max_iter=500)
    return model.fit(train_df[features], train_df[target], sample_weight=train_df[sample_weight])
"""


@pytest.fixture
def ws(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    """A workspace in a git work tree (so lineages record a commit), with one dataset version."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "usercode.py").write_text(USERCODE)
    git = ["git", "-C", str(root), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "usercode.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "code"], check=True)
    frame = agrawal_frame(600, seed=11)
    frame["w"] = np.linspace(0.5, 1.5, len(frame))
    frame["t"] = np.arange(len(frame))[::-1]
    frame.to_csv(root / "data.csv", index=False)
    workspace = Workspace.init(root, config=CONFIG, database_url=database_url)
    workspace.datasets.add(root / "data.csv", "agrawal")
    yield workspace
    workspace.close()


def test_lineage_round_trips_exactly_what_the_registry_stores(ws: Workspace, tmp_path: Path) -> None:
    git_versions = [ws.train("credit"), ws.train("weighted")]
    (ws.root / "usercode.py").write_text(USERCODE + "\n# not committed\n")
    dirty = ws.train("weighted")
    plain = Workspace.init(
        tmp_path / "no-git",
        config=CONFIG,
        database_url=str(ws.store.url),
        artifacts=str(ws.artifacts.location),
    )
    try:
        source_only = plain.train("credit", force=True)  # outside any git work tree: a source hash only
    finally:
        plain.close()
    for mv in [*git_versions, dirty, source_only]:
        stored = ws.registry.get(mv.name, mv.version).lineage
        lineage = Lineage.from_dict(stored)
        assert lineage.to_dict() == stored
        assert json.dumps(lineage.to_dict(), sort_keys=True) == json.dumps(stored, sort_keys=True)
        assert Lineage.of(mv) == lineage

    credit, weighted = (Lineage.of(mv) for mv in git_versions)
    assert credit.dataset.ref == "agrawal@1" and credit.evaluation.dataset == "agrawal@1"
    assert credit.evaluation.split.seed == 3 and credit.evaluation.rows == 180 and credit.seed == 0
    assert credit.code.kind == "git" and credit.code.commit and credit.code.dirty is False
    assert credit.environment.packages["scikit-learn"]
    assert weighted.features == ("salary", "age", "loan") and weighted.sample_weight == "w"
    assert weighted.evaluation.split.kind == "time" and weighted.evaluation.split.time_column == "t"
    assert Lineage.of(dirty).code.dirty is True
    assert Lineage.of(source_only).code.kind == "source" and Lineage.of(source_only).code.commit is None
    assert "commit" not in source_only.lineage["code"]


def _bare(ws: Workspace, lineage: dict[str, object]) -> ModelVersion:
    return ws.registry.register(
        "bare",
        task="classification",
        artifact="a" * 64,
        serializer="skops",
        flavor="sklearn",
        signature={},
        input_example=[],
        params={},
        metrics={},
        lineage=lineage,
    )


def test_a_version_without_training_lineage_is_a_clear_error(ws: Workspace) -> None:
    mv = ws.train("credit")
    bare = _bare(ws, {})
    with pytest.raises(
        LineageError, match=r"bare@1 has no training lineage \(dataset, evaluation, .* missing\)"
    ):
        Lineage.of(bare)
    with pytest.raises(LineageError, match=r"Register versions with `modelward train`"):
        rebuild(ws, bare)
    incomplete = {**mv.lineage, "code": {"module": "m", "kind": "git", "source_sha256": None}}
    with pytest.raises(LineageError, match="commit, dirty missing from code"):
        Lineage.from_dict(incomplete)
    with pytest.raises(LineageError, match=r"unknown keys \['extra'\]"):
        Lineage.from_dict({**mv.lineage, "extra": 1})
    with pytest.raises(LineageError, match="split is not valid"):
        Lineage.from_dict({**mv.lineage, "evaluation": {**mv.lineage["evaluation"], "split": {"kind": "x"}}})


def test_rebuild_gives_the_recorded_spec_and_split(ws: Workspace) -> None:
    for name in ("credit", "weighted"):
        mv = ws.train(name)
        rebuilt = rebuild(ws, mv)
        declared = ws.model_spec(name)
        for key in ("task", "target", "entrypoint", "params", "split", "sample_weight", "serializer"):
            assert getattr(rebuilt.spec, key) == getattr(declared, key), key
        assert rebuilt.spec == spec_of(mv)
        assert rebuilt.dataset is not None and rebuilt.dataset.id == mv.dataset_version_id
        assert rebuilt.source == "agrawal@1" and len(rebuilt.frame) == 600
        # The same evaluation rows the version was evaluated on, checked by the recorded fingerprint.
        assert index_hash(rebuilt.holdout.index) == rebuilt.lineage.evaluation.index_sha256
        assert len(rebuilt.holdout) == rebuilt.lineage.evaluation.rows
        assert set(rebuilt.prepared.train.index).isdisjoint(rebuilt.holdout.index)


def test_reproduce_and_the_monitoring_reference_take_the_same_holdout_from_rebuild(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    mv = ws.train("credit")
    calls: list[tuple[str, Rebuilt]] = []

    def spy(caller: str):  # type: ignore[no-untyped-def]
        def wrapped(ctx, version):  # type: ignore[no-untyped-def]
            out = rebuild(ctx, version)
            calls.append((caller, out))
            return out

        return wrapped

    monkeypatch.setattr(_reproduce, "rebuild", spy("reproduce"))
    monkeypatch.setattr(_reference, "rebuild", spy("reference"))
    report = ws.reproduce("credit", 1)
    data = _reference.training_data(ws, mv)
    assert [caller for caller, _ in calls] == ["reproduce", "reference"]
    from_reproduce, from_reference = (rebuilt for _, rebuilt in calls)
    assert report.identical and report.rows_compared == len(from_reproduce.holdout) == 180
    assert (
        list(from_reproduce.holdout.index) == list(from_reference.holdout.index) == list(data.holdout.index)
    )
    assert index_hash(data.holdout.index) == mv.lineage["evaluation"]["index_sha256"]
    pd.testing.assert_frame_equal(data.frame, from_reproduce.frame)
    assert data.features == list(from_reproduce.prepared.features) and data.target == "approved"


def test_rebuild_reads_the_lineage_snapshot_when_no_dataset_version_is_recorded(ws: Workspace) -> None:
    mv = ws.train("credit")
    copy = ws.registry.register(
        "copied",
        task=mv.task,
        artifact=mv.artifact,
        serializer=mv.serializer,
        flavor=mv.flavor,
        signature=mv.signature,
        input_example=mv.input_example,
        params=mv.params,
        metrics=mv.metrics,
        lineage=mv.lineage,
    )
    rebuilt = rebuild(ws, copy)
    assert rebuilt.dataset is None and rebuilt.source == "agrawal@1"
    assert list(rebuilt.holdout.index) == list(rebuild(ws, mv).holdout.index)


def test_train_registers_nothing_and_register_is_a_separate_step(ws: Workspace) -> None:
    """Retraining a champion's recipe on another dataset version, weighted, as the loop will."""
    champion = ws.train("credit")
    ws.registry.promote("credit", champion.version)
    frame = ws.datasets.load(ws.datasets.get("agrawal", 1))
    frame["recency"] = np.linspace(0.1, 1.0, len(frame))
    newer = ws.datasets.add_frame(frame, "agrawal")
    recipe = rebuild(ws, ws.registry.get("credit", "champion")).spec

    trained = train(ws, recipe, newer, sample_weight="recency")
    assert [v.version for v in ws.registry.versions("credit")] == [1]  # nothing registered yet
    assert trained.spec.sample_weight == "recency" and recipe.sample_weight is None
    assert trained.result.lineage.sample_weight == "recency"
    assert trained.result.lineage.dataset.ref == "agrawal@2"
    assert "recency" not in trained.prepared.features
    assert set(trained.result.metrics) >= {"accuracy", "roc_auc"}

    challenger = register(ws, "credit", trained, tags={"trigger": "test"})
    assert challenger.created and challenger.ref == "credit@2" and challenger.tags == {"trigger": "test"}
    assert challenger.artifact == trained.artifact and challenger.dataset_version_id == newer.id
    assert Lineage.of(challenger) == trained.result.lineage
    again = register(ws, "credit", trained)
    assert not again.created and again.ref == "credit@2"
    assert register(ws, "credit", trained, force=True).ref == "credit@3"
    assert ws.registry.get("credit", "champion").version == 1


def test_models_show_says_when_a_version_has_no_lineage(ws: Workspace) -> None:
    ws.train("credit")
    _bare(ws, {"benchmark": "x"})
    runner = CliRunner()
    where = ["-w", str(ws.root), "--database-url", str(ws.store.url)]
    shown = runner.invoke(app, ["models", "show", "credit@1", *where], catch_exceptions=False)
    assert shown.exit_code == 0 and "lineage" in shown.output and "agrawal@1" in shown.output
    bare = runner.invoke(app, ["models", "show", "bare@1", *where], catch_exceptions=False)
    assert bare.exit_code == 0, bare.output
    assert "lineage: none recorded (not registered by `modelward train`)" in bare.output
