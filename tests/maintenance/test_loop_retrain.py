"""The retraining data recipe: recency weights and the old/new mix, dedup, gate rows never trained on; and the
weight column reaching (or not) the entrypoint."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from maintenance.conftest import T0, Logger
from modelward import Workspace
from modelward.demo import agrawal_frame
from modelward.errors import DataError
from modelward.loop_settings import GateSettings, RetrainSettings
from modelward.maintenance.retrain import (
    ID,
    TS,
    TrainRequest,
    anchor,
    assemble,
    build_training_set,
    change_point,
    rows_needed,
    train_challenger,
)

NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
DAY = 86400.0


def reference(n: int = 100) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(n, dtype=float), "c": ["a"] * n, "y": np.arange(n) % 2})


def production(n: int, *, days_ago: float = 0.0, start: int = 1000) -> pd.DataFrame:
    ts = [NOW - dt.timedelta(days=days_ago) + dt.timedelta(seconds=i) for i in range(n)]
    return pd.DataFrame(
        {
            "x": np.arange(start, start + n, dtype=float),
            "c": ["b"] * n,
            "y": np.arange(n) % 2,
            TS: pd.to_datetime(ts, utc=True),
            ID: [f"p{start + i:05d}" for i in range(n)],
        }
    )


def build(ref: pd.DataFrame, prod: pd.DataFrame, **retrain: object) -> object:
    return build_training_set(
        ref,
        prod,
        features=["x", "c"],
        target="y",
        weight_column="w",
        now=NOW,
        retrain=RetrainSettings.model_validate({"min_new_rows": 10, **retrain}),
        gate=GateSettings(min_rows=30, holdout_share=0.25),
    )


def test_newest_rows_are_held_out_and_never_trained_on() -> None:
    prod = production(200).sample(frac=1.0, random_state=0)  # arrival order is restored from ts
    built = build(reference(), prod)
    assert len(built.holdout) == 50 and list(built.holdout[ID]) == [f"p{i:05d}" for i in range(1150, 1200)]
    assert not set(built.train["x"]) & set(built.holdout["x"])
    assert built.summary["production_rows"] == 150 and built.summary["reference_rows"] == 100
    # A training row equal to a gate row (same features and label) is dropped, whatever the dtype.
    copy = production(1, start=1199).assign(**{TS: pd.Timestamp(NOW - dt.timedelta(days=3)), ID: "old"})
    copy["x"], copy["y"] = copy["x"].astype(int), 1
    built = build(reference(), pd.concat([prod, copy]))
    assert built.summary["equal_to_gate_rows_dropped"] == 1 and 1199.0 not in set(built.train["x"])


def test_weights_halve_every_half_life_and_split_by_the_mix() -> None:
    prod = pd.concat(
        [
            production(40, days_ago=2.0, start=0),
            production(80, days_ago=1.0, start=100),
            production(40, days_ago=0.0, start=200),
        ]
    )
    built = build(reference(60), prod, half_life=DAY, new_share=0.8)
    train, w = built.train, built.train["w"].to_numpy()
    assert len(train) == 60 + 120 and w.mean() == pytest.approx(1.0)
    new = train["c"] == "b"
    assert w[new].sum() / w.sum() == pytest.approx(0.8)
    two_days, one_day = w[(train["x"] < 40) & new], w[(train["x"] >= 100) & (train["x"] < 140) & new]
    assert one_day.mean() / two_days.mean() == pytest.approx(2.0, rel=1e-3)
    assert np.allclose(w[~new], w[~new][0])  # the reference rows share their part equally
    only_reference_weight = build(reference(60), prod, new_share=0.0)
    assert only_reference_weight.train.loc[only_reference_weight.train["c"] == "b", "w"].sum() == 0


def test_duplicates_keep_the_newest_copy() -> None:
    prod = production(100)
    dup = prod.iloc[:5].assign(
        **{TS: pd.Timestamp(NOW - dt.timedelta(days=1)), ID: [f"d{i}" for i in range(5)]}
    )
    built = build(reference(), pd.concat([prod, dup]))
    assert built.summary["duplicates_dropped"] == 5
    assert len(build(reference(), pd.concat([prod, dup]), dedup=False).train) == len(built.train) + 5


def test_too_few_labeled_rows_say_what_is_needed() -> None:
    with pytest.raises(
        DataError, match=r"Too few labeled production rows to retrain: 35 .* 30 of them held out"
    ):
        build(reference(), production(35))


WEIGHTED = """
from sklearn.linear_model import LogisticRegression

def train(train_df, params, *, target, features, sample_weight=None):
    assert sample_weight not in features
    return LogisticRegression().fit(train_df[features], train_df[target], sample_weight=train_df[sample_weight])
"""
UNWEIGHTED = """
from sklearn.linear_model import LogisticRegression

def train(train_df, params, *, target, features):
    assert "w" not in train_df.columns, "the weight column must not reach an unweighted entrypoint"
    return LogisticRegression().fit(train_df[features], train_df[target])
"""


@pytest.mark.parametrize(("code", "weighted"), [(WEIGHTED, True), (UNWEIGHTED, False)])
def test_the_weight_column_reaches_only_an_entrypoint_that_takes_it(
    tmp_path: Path, code: str, weighted: bool
) -> None:
    (tmp_path / "train.py").write_text(code)
    config = "models:\n  m:\n    task: classification\n    target: y\n    entrypoint: train:train\n"
    frame = pd.DataFrame({"x": np.arange(200.0), "y": np.arange(200) % 2, "w": np.linspace(0.5, 1.5, 200)})
    with Workspace.init(tmp_path, config=config) as ws:
        data = ws.datasets.add_frame(frame, "m-retrain")
        result = train_challenger(ws, TrainRequest("m", data.ref, ["x"], "w", "test"))
        mv = ws.registry.get("m", result.version)
        assert result.weighted is weighted and mv.lineage["features"] == ["x"]
        assert mv.lineage["sample_weight"] == ("w" if weighted else None)
        assert ws.model_spec("m").sample_weight is None  # the override did not outlive the call


def test_no_change_point_in_stationary_errors_and_the_rise_is_found() -> None:
    # Under no change the largest standardized rise over every split of 5,000 rows of 5 % errors stays below
    # the default threshold (5) in nearly every stream; a rise from 5 % to 40 % at row 4,000 is found there.
    rng = np.random.default_rng(0)
    found = sum(change_point(rng.random(5_000) < 0.05, z=5.0) is not None for _ in range(200))
    assert found <= 2
    hits = []
    for _ in range(20):
        loss = np.r_[rng.random(4_000) < 0.05, rng.random(1_000) < 0.40]
        got = change_point(loss, z=5.0)
        assert got is not None and got[1] > 20
        hits.append(got[0])
    assert np.median(np.abs(np.array(hits) - 4_000)) <= 10


def test_the_production_rows_start_at_the_regime_change_but_keep_what_training_and_gate_need() -> None:
    rng = np.random.default_rng(1)
    prod = production(1_000)
    wrong = np.r_[rng.random(600) < 0.05, rng.random(400) < 0.5]
    prod["_prediction"] = np.where(wrong, 1 - prod["y"], prod["y"]).astype(float)  # the log gives 1.0 for 1
    prod["y"] = prod["y"].astype(object)  # and labels as JSON values
    gate = GateSettings(min_rows=30, holdout_share=0.25)
    kept, how = anchor(prod, "y", task="classification", retrain=RetrainSettings(), gate=gate)
    assert how["anchored"] and how["rows_before_change_dropped"] == len(prod) - len(kept)
    assert abs(how["rows_before_change_dropped"] - 600) <= 15
    assert kept[ID].tolist() == prod[ID].tolist()[-len(kept) :]
    late = prod.copy()
    y = prod["y"].to_numpy(dtype=float)
    late["_prediction"] = np.where(np.arange(len(prod)) >= len(prod) - 60, 1 - y, y)  # a change 60 rows ago
    kept, how = anchor(late, "y", task="classification", retrain=RetrainSettings(min_new_rows=50), gate=gate)
    assert how["anchored"] and len(kept) == rows_needed(gate, RetrainSettings(min_new_rows=50)) == 80
    off, how = anchor(prod, "y", task="classification", retrain=RetrainSettings(anchor=False), gate=gate)
    assert off is prod and how == {"anchored": False}


@pytest.mark.parametrize("keep", [False, True])
def test_an_anchored_retraining_leaves_the_old_regime_out(
    workspace: Workspace, logger: Logger, keep: bool
) -> None:
    """credit@1 learnt Agrawal function 2; from row 400 of its log on, every label is the opposite of its
    answer (a new rule). Anchored on that change, the training set holds the regime's rows only (the
    reference would contradict them), unless ``anchor_reference`` keeps it with its share of the weight."""
    after = agrawal_frame(600, seed=22, function=2)
    model = logger.trained["credit"]
    after["approved"] = 1 - model.estimator.predict(after[list(model.version.lineage["features"])])
    rows = pd.concat([agrawal_frame(400, seed=21, function=2), after])
    ids = logger.log("credit", rows.reset_index(drop=True), T0)
    now = T0 + dt.timedelta(seconds=1100)
    logger.feedback(ids, rows["approved"].to_numpy(), now=now)
    retrain = RetrainSettings(anchor_reference=keep)
    built = assemble(
        workspace, workspace.registry.get("credit", 1), job=1, trigger_event=None, trigger="manual", now=now,
        retrain=retrain, gate=GateSettings(),
    )  # fmt: skip
    s = built.summary
    assert s["anchored"] and s["reference_left_out"] is not keep, s
    assert 300 <= s["rows_before_change_dropped"] <= 450  # the change is at row 400
    assert (s["reference_rows"] > 0) is keep and s["new_share"] == (retrain.new_share if keep else 1.0)
    train = workspace.datasets.load(built.dataset)
    assert len(train) == s["reference_rows"] + s["production_rows"]
    assert ("loop.retrain.anchor_reference is off" in built.dataset.source) is not keep
