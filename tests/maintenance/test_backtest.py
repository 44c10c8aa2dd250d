"""modelward backtest: three policies replayed on a scratch copy through the live loop code; the workspace
is byte-identical after; the JSON has the documented shape; the HTML is self-contained."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from maintenance.loop_support import TRAIN_PY, traffic
from modelward import Workspace
from modelward.cli import app
from modelward.demo import agrawal_frame
from modelward.maintenance.backtest_replay import Replay
from modelward.rollouts import Rollout
from modelward.server.routing import Router

CONFIG = """\
database_url: {database_url}
monitor: {{window: "200", lateness_seconds: 0}}
models:
  credit:
    task: classification
    target: approved
    dataset: agrawal
    entrypoint: train:train
    params: {{n_estimators: 20, max_depth: 6, max_features: null, random_state: 0}}
    loop:
      cooldown: 60
      drift: {{windows: 2}}
      estimated: {{enabled: false}}
      retrain: {{min_new_rows: 100}}
      gate: {{min_rows: 100, bootstrap_resamples: 200}}
      rollout: {{steps: [20, 50, 100], step_seconds: 60, guardrails: {{min_requests: 20}}}}
"""


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def workspace(tmp_path: Path, database_url: str) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "train.py").write_text(TRAIN_PY)
    agrawal_frame(1200, seed=1, function=0).to_csv(root / "agrawal.csv", index=False)
    with Workspace.init(root, config=CONFIG.format(database_url=database_url)) as ws:
        ws.datasets.add(root / "agrawal.csv", "agrawal")
        ws.registry.promote("credit", ws.train("credit").version, reason="test setup")
    return root


@pytest.mark.slow
def test_three_policies_on_a_drift_leave_the_workspace_untouched(workspace: Path, tmp_path: Path) -> None:
    stream = pd.concat([traffic(1200, seed=2), traffic(1200, seed=3, drifted=True)], ignore_index=True)
    stream.to_csv(tmp_path / "stream.csv", index=False)
    before = _files(workspace)
    out, page = tmp_path / "bt.json", tmp_path / "bt.html"
    args = ["backtest", "credit", "--data", str(tmp_path / "stream.csv"), "--label-delay", "100"]
    args += ["--every", "600", "--json", str(out), "--html", str(page), "-w", str(workspace)]
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert _files(workspace) == before  # nothing written, nothing changed: not even __pycache__

    doc = json.loads(out.read_text())
    assert set(doc) == {"policies", "events"}
    assert list(doc["policies"]) == ["never", "scheduled", "loop"]
    keys = {"prequential_accuracy", "retrains", "promotions", "rollbacks", "worse_promotions", "rollout_rows"}
    keys.add("curve")
    assert all(set(p) == keys for p in doc["policies"].values())
    never, scheduled, loop = (doc["policies"][p] for p in ("never", "scheduled", "loop"))

    # never: the champion scores every row; the numbers are the champion's own.
    with Workspace.open(workspace) as ws:
        champion = ws.load_model(ws.registry.get("credit", "champion"))
    right = champion.predict(stream.drop(columns=["approved"])) == stream["approved"].to_numpy()
    assert never["prequential_accuracy"] == pytest.approx(right.mean(), abs=1e-6)
    assert never["curve"] == [
        [end, pytest.approx(right[end - len(block) : end].mean(), abs=1e-6)]
        for end, block in ((1000, range(1000)), (2000, range(1000)), (2400, range(400)))
    ]
    assert (never["retrains"], never["promotions"]) == (0, 0)

    # scheduled: a job at rows 600, 1200 and 1800, each promoted without a gate.
    assert (scheduled["retrains"], scheduled["promotions"]) == (3, 3)
    sched = [e for e in doc["events"] if e["policy"] == "scheduled"]
    assert [e["row"] for e in sched if e["kind"] == "promotion"] == [600, 1200, 1800]
    assert not [e for e in sched if e["kind"] == "gate"]

    # loop: the drift is found, a challenger gated and promoted; after the drift it beats the frozen champion.
    looped = [e for e in doc["events"] if e["policy"] == "loop"]
    kinds = [e["kind"] for e in looped]
    assert "trigger" in kinds and "gate" in kinds and loop["promotions"] >= 1, looped
    assert all(e["row"] > 1200 for e in looped if e["kind"] == "promotion")
    assert loop["retrains"] >= loop["promotions"]
    assert loop["curve"][-1][1] > never["curve"][-1][1] + 0.1
    # ... through its canary (20 -> 50 -> 100 %), replayed: promoted once the sequential test allows it.
    started = {e["version"]: e["row"] for e in looped if e["kind"] == "rollout"}
    promoted = [(e["version"], e["row"]) for e in looped if e["kind"] == "promotion"]
    assert [v for v, _ in promoted] == list(started), looped  # every promotion came out of a rollout
    assert [e["detail"][:4] for e in looped if e["kind"] == "step"][:1] == ["50 %"], looped
    assert loop["rollout_rows"] == sum(row - started[v] for v, row in promoted) > 0
    assert "latency, server errors and input errors are not measured" in " ".join(result.output.split())
    assert all(set(e) == {"row", "time", "policy", "kind", "version", "detail"} for e in doc["events"])

    html = page.read_text()
    assert html.count("<polyline") == 3 and "<svg" in html
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    words = " ".join(result.output.split())  # the table's title wraps
    assert "backtest of credit" in words and "scheduled" in words


@pytest.mark.slow
def test_a_missing_column_is_named(workspace: Path, tmp_path: Path) -> None:
    agrawal_frame(50, seed=4, function=0).drop(columns=["salary"]).to_csv(tmp_path / "d.csv", index=False)
    done = subprocess.run(
        [sys.executable, "-m", "modelward", "backtest", "credit", "--data", str(tmp_path / "d.csv")],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "error: The backtest data lacks column(s) 'salary' that credit@1 needs" in done.stderr
    assert "Traceback" not in done.stderr


def test_rows_arrive_by_their_time_column_and_labels_rows_later(workspace: Path) -> None:
    from modelward.maintenance.backtest import make_stream

    frame = agrawal_frame(6, seed=5, function=0)
    frame["at"] = pd.to_datetime(["2026-01-01T00:00:05Z", "2026-01-01T00:00:01Z", "2026-01-01T00:00:03Z"] * 2)
    with Workspace.open(workspace) as ws:
        stream = make_stream(frame, ws.registry.get("credit", "champion"), label_delay=2, time_column="at")
    order = np.argsort(frame["at"].to_numpy(), kind="stable")
    assert stream.frame["salary"].tolist() == frame["salary"].to_numpy()[order].tolist()
    assert stream.times.is_monotonic_increasing
    assert stream.label_at[:4].tolist() == stream.times.asi8[2:].tolist()
    assert (stream.label_at[4:] == np.iinfo(np.int64).max).all()


def _rollout(mode: str, step: int) -> Rollout:
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return Rollout(
        id=7, model="credit", mode=mode, status="running", champion_version=1, challenger_version=2,
        steps=[5.0, 25.0, 50.0, 100.0] if mode == "canary" else [50.0 if mode == "ab" else 100.0],
        step=step, settings={}, test=None, evaluation=None, job_id=None, reason=None, created_by="loop",
        started_at=at, step_started_at=at, updated_at=at, finished_at=None,
    )  # fmt: skip


@pytest.mark.parametrize(("mode", "step"), [("canary", 0), ("canary", 2), ("ab", 0), ("shadow", 0)])
def test_a_replayed_rollout_routes_each_row_as_the_server_does(mode: str, step: int) -> None:
    """The replay's route of row i (routing key ``row-i``) is the server Router's for that key."""
    rollout = _rollout(mode, step)
    champion, challenger = SimpleNamespace(name="credit", number=1), SimpleNamespace(name="credit", number=2)
    router = Router(SimpleNamespace(rollouts={"credit": (rollout, challenger)}))  # type: ignore[arg-type]
    arms = []
    for i in range(4000):
        route = router.route(champion, "champion", f"row-{i}")  # type: ignore[arg-type]
        shadow = None if route.shadow is None else route.shadow.number
        assert Replay._route(rollout, 1, f"row-{i}") == (route.arm, route.served.number, shadow)
        arms.append(route.arm)
    share = {"canary": [0.05, 0.25, 0.5][step], "ab": 0.5, "shadow": 0.0}[mode]
    got = sum(a != "champion" for a in arms) / len(arms)
    assert abs(got - share) <= 4 * (share * (1 - share) / len(arms)) ** 0.5  # binomial, 4 standard errors
    assert Replay._route(None, 3, "row-1") == ("champion", 3, None)


def test_the_replay_leaves_attribution_drift_out_unless_asked(workspace: Path, tmp_path: Path) -> None:
    """Explaining every simulated window would cost minutes over a replay: its copy's settings turn attribution
    drift off (``--attribution`` keeps the model's own); the workspace's settings are not changed."""
    from modelward.maintenance.backtest import _without_attribution

    with Workspace.open(workspace) as ws:
        off = _without_attribution(ws.settings, "credit")
        assert off.models["credit"].monitor.attribution_rows == 0
        assert ws.settings.models["credit"].monitor.attribution_rows == 300
        with ws.scratch(tmp_path / "copy", settings=off) as copy:
            assert copy.settings.models["credit"].monitor.attribution_rows == 0
            assert copy.settings.database_url == f"sqlite:///{(tmp_path / 'copy' / 'scratch.db').resolve()}"
        with ws.scratch(tmp_path / "same") as copy:
            assert copy.settings.models["credit"].monitor.attribution_rows == 300
