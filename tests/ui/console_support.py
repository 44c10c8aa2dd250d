"""A small workspace built like the demo's, for the console's tests: credit@1 trained and promoted with its
global importance, ``elevel`` declared sensitive, logged traffic (labeled, the later half drifted), monitored
windows (drift ranked by importance, fairness between education levels), and one retrain job run by the loop
(its trigger, data, training, challenger, gate and promotion are events), so every page has something to
show."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from maintenance.loop_support import TOKEN, make_loop_workspace, traffic
from modelward import Workspace
from modelward.maintenance import Loop, request_retrain
from modelward.maintenance.trainer import InProcessTrainer
from modelward.predlog import FeedbackItem, PredictionLog, PredictionRecord, new_prediction_id
from modelward.training import record_importance

__all__ = ["TOKEN", "build_console_workspace", "log_traffic"]


def log_traffic(
    ws: Workspace, *, n: int, seed: int, drifted: bool, start: dt.datetime, version: int = 1
) -> None:
    """``n`` labeled predictions of credit@``version`` from ``start``, a second apart, through the real log;
    the model's answers are the model's own (loaded from the registry)."""
    model = ws.load_model(ws.registry.get("credit", version))
    frame = traffic(n, seed=seed, drifted=drifted)
    features = frame.drop(columns=["approved"])
    predicted = model.predict(features)
    probabilities = model.predict_proba(features)
    rng = np.random.default_rng(seed)
    plog = PredictionLog(ws.store, spool_dir=ws.root / ".modelward" / "spool-test")
    plog.start()
    try:
        records, labels = [], []
        for i, (row, pred, proba, label) in enumerate(
            zip(features.to_dict(orient="records"), predicted, probabilities, frame["approved"], strict=True)
        ):
            pid = new_prediction_id()
            records.append(
                PredictionRecord(
                    pid,
                    start + dt.timedelta(seconds=i),
                    "credit",
                    version,
                    "champion",
                    None,
                    row,
                    int(pred),
                    [float(p) for p in proba],
                    float(rng.gamma(2.0, 3.0)),
                )
            )
            labels.append(FeedbackItem(pid, int(label)))
        plog.submit(records).result(timeout=60)
        plog.add_feedback(labels)
    finally:
        plog.close()


def declare_fairness(root: Path) -> None:
    """``elevel`` (five education levels, ~40 rows each in a window of 200) is a sensitive column of credit.
    The gate's fairness margin is wide: the console's tests need the loop's promotion, not its fairness rule
    (tests/maintenance judge that)."""
    config = root / "modelward.yaml"
    text = config.read_text()
    edited = text.replace(
        "    importance: false",
        "    monitor: {sensitive_columns: [elevel], fairness_min_group_rows: 20}\n    importance: false",
        1,
    ).replace(
        "behavioral_tests: behavioral.yaml}", "behavioral_tests: behavioral.yaml, fairness_margin: 1.0}", 1
    )
    assert edited.count("sensitive_columns") == 1 and "fairness_margin: 1.0" in edited, edited
    config.write_text(edited)


def build_console_workspace(root: Path) -> Path:
    """The workspace at ``root`` (SQLite), with its windows and one loop job; returns ``root``."""
    make_loop_workspace(root, f"sqlite:///{root / 'mw.db'}")
    declare_fairness(root)
    with Workspace.open(root) as ws:
        record_importance(ws, ws.registry.get("credit", 1))  # the windows rank their drift by it
        start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        log_traffic(ws, n=600, seed=1, drifted=False, start=start)
        log_traffic(ws, n=600, seed=2, drifted=True, start=start + dt.timedelta(seconds=600))
        # the training runs in this process: the console's tests need the job's events, not its subprocess
        loop = Loop(ws, models=["credit"], trainer=InProcessTrainer())
        loop.run_once()  # monitors the six windows; the drift trigger may open a job and run it
        if not [e for e in ws.registry.events("credit") if e.kind == "loop_gate_decided"]:
            asked = request_retrain(
                ws, "credit", actor="test", reason="console test", force=True, owner=loop.owner
            )
            assert asked.job is not None, asked.decision.reason
            loop.runner.run(asked.job)
        record_importance(ws, ws.registry.get("credit", "champion"))  # the model page draws the champion's
    return root
