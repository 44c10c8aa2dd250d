"""The gate's fairness rule: with sensitive columns declared, a challenger whose gap has an upper bound more
than loop.gate.fairness_margin above the champion's is refused; the numbers are the monitor's check
(monitoring.fairness) on the gate's rows; groups too small to compare are shown, never failed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelward import Workspace
from modelward.config import ModelMonitorSpec
from modelward.demo import agrawal_frame
from modelward.loop_settings import GateSettings, RetrainSettings
from modelward.maintenance.gate import fairness_items, run_gate
from modelward.maintenance.retrain import assemble, load_holdout, production_rows
from modelward.monitoring.fairness import fairness
from support.configs import register

from .conftest import Logger

MONITOR = ModelMonitorSpec(sensitive_columns=["group", "absent"])


def _rows(seed: int, n: int = 2000) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Two groups; a fair champion (both selected at 50 %) and an unfair challenger (55 % vs 40 %)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"group": np.where(np.arange(n) % 2 == 0, "a", "b")})
    y = (rng.random(n) < 0.5).astype(int)
    fair = (rng.random(n) < 0.5).astype(int)
    unfair = (rng.random(n) < np.where(frame["group"] == "a", 0.55, 0.40)).astype(int)
    return frame, y, fair, unfair


def test_a_challenger_that_opens_a_gap_is_refused_and_one_that_closes_it_passes() -> None:
    frame, y, fair, unfair = _rows(1)
    notes: list[str] = []
    worse = fairness_items(frame, y, (fair, unfair), MONITOR, GateSettings(), notes)
    assert notes == ["fairness: sensitive column 'absent' is not in the gate's rows"]
    assert [(i.name, i.kind, judged) for i, judged in worse] == [
        ("group: demographic parity difference", "fairness", True),
        ("group: equalized odds difference", "fairness", True),
    ]
    assert not any(i.passed for i, _ in worse)
    assert "refused above" in worse[0][0].reason
    expected = fairness(y, unfair, frame["group"].to_numpy(dtype=object), column="group", tests=2)
    assert worse[0][0].evidence["challenger"] == expected.demographic_parity.to_dict()
    better = fairness_items(frame, y, (unfair, fair), MONITOR, GateSettings(), [])
    assert all(i.passed for i, _ in better)
    # a margin wide enough lets the wider gap through: the rule is on the bounds, as configured
    assert all(
        i.passed
        for i, _ in fairness_items(frame, y, (fair, unfair), MONITOR, GateSettings(fairness_margin=0.5), [])
    )


def test_groups_too_small_to_compare_are_shown_not_judged() -> None:
    frame, y, fair, unfair = _rows(2, n=40)  # 20 rows a group, under the 30 needed
    items = fairness_items(frame, y, (fair, unfair), MONITOR, GateSettings(), [])
    assert [(i.passed, judged) for i, judged in items] == [(True, False), (True, False)]
    assert "not computed on these rows (fewer than two groups large enough to compare)" in items[0][0].reason


def test_run_gate_judges_fairness_on_the_recent_rows(tmp_path: Path) -> None:
    config = """\
models:
  credit:
    task: classification
    target: approved
    dataset: agrawal
    entrypoint: modelward.demo:train_logistic_regression
    params: {max_iter: 300}
    importance: false
    monitor: {sensitive_columns: [elevel]}
"""
    agrawal_frame(1500, seed=3).to_csv(tmp_path / "agrawal.csv", index=False)
    with Workspace.init(tmp_path / "ws", config=config) as ws:
        ws.datasets.add(tmp_path / "agrawal.csv", "agrawal")
        champion, challenger = ws.train("credit"), ws.train("credit", params={"max_iter": 300, "C": 0.01})
        recent = agrawal_frame(1000, seed=4)
        report = run_gate(ws, champion, challenger, recent=recent, gate=GateSettings(min_rows=30))
        items = [i for i in report.items if i["kind"] == "fairness"]
        assert [(i["section"], i["name"], i["judged"]) for i in items] == [
            ("recent rows", "elevel: demographic parity difference", True),
            ("recent rows", "elevel: equalized odds difference", True),
        ]
        x = recent[list(champion.lineage["features"])]
        predicted = ws.load_model(challenger).predict(x)
        expected = fairness(recent["approved"], predicted, recent["elevel"], column="elevel", tests=2)
        assert items[0]["evidence"]["challenger"] == expected.demographic_parity.to_dict()
        assert not report.promote or all(i["passed"] for i in items)  # a failed fairness item refuses


def test_a_sensitive_column_sent_as_context_reaches_the_gate_rows_but_never_training(
    workspace: Workspace, logger: Logger, database_url: str
) -> None:
    """``gender`` is not an input of credit: callers send it as the predict body's context. The retrain job
    keeps it with the rows it holds out for the gate (mixed types stored as strings), never in the training
    data, and the gate judges the challenger's fairness on it."""
    config = workspace.root / "modelward.yaml"
    config.write_text(
        config.read_text().replace(
            "    params: {max_iter: 300}\n",
            "    params: {max_iter: 300}\n    monitor: {sensitive_columns: [gender]}\n",
            1,
        )
    )
    frame = agrawal_frame(900, seed=12)
    genders: list[Any] = ["f" if i % 2 else "m" for i in range(900)]
    genders[5] = 1  # a caller sent a number once: a group of its own, as a string
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ids = logger.log("credit", frame, start, spacing_s=0.1, context=[{"gender": g} for g in genders])
    logger.feedback(ids, frame["approved"].to_numpy())
    with Workspace.open(workspace.root, database_url=database_url) as ws:
        champion = ws.registry.get("credit", 1)
        assert ws.settings.models["credit"].monitor.sensitive_columns == ["gender"]
        rows = production_rows(
            ws,
            "credit",
            list(champion.lineage["features"]),
            "approved",
            since=start,
            max_rows=10_000,
            context=["gender"],
        )
        assert rows["gender"].tolist() == [str(g) for g in genders]
        built = assemble(
            ws,
            champion,
            job=1,
            trigger_event=None,
            trigger="manual",
            now=dt.datetime.now(dt.UTC),
            retrain=RetrainSettings(recent=3600, min_new_rows=100),
            gate=GateSettings(min_rows=300),
        )
        holdout = load_holdout(ws, built.holdout)
        assert len(holdout) == 300 and holdout["gender"].tolist() == [str(g) for g in genders[-300:]]
        training = ws.datasets.load(built.dataset)
        assert "gender" not in training.columns
        challenger = register(ws, logger.trained["credit"])
        report = run_gate(ws, champion, challenger, recent=holdout, gate=GateSettings(min_rows=30))
        items = [i for i in report.items if i["kind"] == "fairness"]
        assert [(i["name"], i["judged"]) for i in items] == [
            ("gender: demographic parity difference", True),
            ("gender: equalized odds difference", True),
        ]
        predicted = ws.load_model(challenger).predict(holdout[list(champion.lineage["features"])])
        expected = fairness(holdout["approved"], predicted, holdout["gender"], column="gender", tests=2)
        assert items[0]["evidence"]["challenger"] == expected.demographic_parity.to_dict()
