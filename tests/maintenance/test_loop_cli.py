"""`modelward loop --once`, `modelward gate`, `modelward retrain` and `models history` on a workspace whose log
holds drifted, labeled traffic (SQLite; the loop's store code runs on both backends in the other tests)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from modelward import Workspace
from modelward.predlog import FeedbackItem, PredictionLog, PredictionRecord, new_prediction_id

from .loop_support import make_loop_workspace, traffic


def modelward(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelward", *args, "-w", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def log_traffic(ws: Workspace, root: Path) -> None:
    """600 drifted rows answered by credit@1 and labeled, logged from now on, 10 ms apart."""
    mv = ws.registry.get("credit", "champion")
    model, features = ws.load_model(mv), list(mv.lineage["features"])
    frame = traffic(600, seed=8, drifted=True)
    pred, proba = model.predict(frame[features]), model.predict_proba(frame[features])
    start = dt.datetime.now(dt.UTC)
    plog = PredictionLog(ws.store, spool_dir=root / "spool")
    plog.start()
    records = [
        PredictionRecord(
            new_prediction_id(),
            start + dt.timedelta(milliseconds=10 * i),
            "credit",
            mv.version,
            None,
            None,
            row,
            pred[i].item(),
            proba[i].tolist(),
            1.0,
        )
        for i, row in enumerate(frame[features].to_dict(orient="records"))
    ]
    plog.submit(records).result(timeout=60)
    plog.add_feedback([FeedbackItem(r.id, int(y)) for r, y in zip(records, frame["approved"], strict=True)])
    plog.close()


def test_loop_once_gate_retrain_and_history(tmp_path: Path) -> None:
    root = make_loop_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'ws' / 'mw.db'}")
    with Workspace.open(root) as ws:
        log_traffic(ws, root)

    once = modelward(root, "loop", "--once", "--json")
    assert once.returncode == 0, once.stderr
    result = json.loads(once.stdout)
    assert result["windows"] == {"credit": 3} and result["errors"] == {}
    assert [d["fired"] for d in result["decisions"]] == [True]
    assert [(j["status"], j["challenger_version"]) for j in result["jobs"]] == [("promoted", 2)]

    gate = modelward(root, "gate", "credit", "1", "--json")  # the old champion against the new one
    assert gate.returncode == 0, gate.stderr
    report = json.loads(gate.stdout)
    assert report["decision"] == "reject" and report["recent_rows_from"].startswith("the ")
    assert any(i["name"] == "accuracy" and i["evidence"]["p_value"] is not None for i in report["items"])
    strict = modelward(root, "gate", "credit", "1", "--strict")
    assert strict.returncode == 2 and "FAIL  recent rows: accuracy" in strict.stdout

    cooled = modelward(root, "retrain", "credit")
    assert cooled.returncode == 1 and "Traceback" not in cooled.stderr
    assert "No retrain job started for credit: cooldown" in cooled.stderr

    history = modelward(root, "models", "history", "credit")
    assert history.returncode == 0, history.stderr
    text = history.stdout
    for needle in (
        "the loop's decisions",
        "trigger fired",
        "training data credit-retrain@1",
        "challenger v2 registered",
        "PASS  recent rows: accuracy",
        "promoted v2 (champion was v1)",
        "trigger suppressed (cooldown)",
    ):
        assert needle in text, text

    missing = modelward(root, "retrain", "nosuch")
    assert missing.returncode == 1 and "not declared" in missing.stderr and "Traceback" not in missing.stderr
