"""The loop's metrics file (modelward.maintenance.loop_metrics): what a follower and the leader write, read
back with prometheus-client's own parser. A real `modelward serve` exports it in tests/deploy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from modelward import Workspace
from modelward.maintenance.loop_metrics import EVENTS, LoopMetrics

from .loop_support import make_loop_workspace

pytestmark = pytest.mark.slow  # each trains a model in a new workspace (about 5 s on 2 shared cores)


def samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(path.read_text())
        for s in family.samples
    }


def test_a_follower_says_only_that_it_does_not_lead(tmp_path: Path) -> None:
    root = make_loop_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'mw.db'}")
    path = tmp_path / "loop.prom"
    with Workspace.open(root) as ws:
        LoopMetrics(path).export(ws, ["credit"], leading=False, passed=None)
    assert samples(path) == {("modelward_loop_leader", ()): 0.0}


def test_the_leader_exports_rollouts_event_counts_and_limits(tmp_path: Path) -> None:
    root = make_loop_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'mw.db'}")
    path = tmp_path / "loop.prom"
    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    with Workspace.open(root) as ws:
        metrics = LoopMetrics(path)
        metrics.export(ws, ["credit"], leading=True, passed=None)
        first = samples(path)
        assert first[("modelward_loop_leader", ())] == 1.0
        assert ("modelward_loop_last_pass_timestamp_seconds", ()) not in first  # no pass yet
        counts = {k[1][0][1]: v for k, v in first.items() if k[0] == "modelward_loop_events_total"}
        assert counts == dict.fromkeys(EVENTS, 0.0)  # every kind from zero
        assert first[("modelward_rollout_active", (("model", "credit"),))] == 0.0
        ws.jobs.record("credit", "loop_trigger_fired", {"signals": []}, now=now)
        ws.jobs.record("credit", "loop_trigger_fired", {"signals": []}, now=now)
        ws.jobs.record("credit", "not_a_loop_event", {}, now=now)
        # As the loop judges the champion: realized performance against the gate's rows, the estimate against
        # the holdout its estimator is calibrated on.
        baselines = {
            "credit": ("classification", {"realized": {"accuracy": 0.8}, "estimated": {"accuracy": 0.7}})
        }
        metrics.export(ws, ["credit"], leading=True, passed=now, baselines=baselines)
        after = samples(path)
    fired = ("modelward_loop_events_total", (("event", "loop_trigger_fired"), ("model", "credit")))
    assert after[fired] == 2.0
    assert after[("modelward_loop_last_pass_timestamp_seconds", ())] == now.timestamp()
    limit = (
        "modelward_loop_performance_limit",
        (("direction", "min"), ("kind", "realized"), ("metric", "accuracy"), ("model", "credit")),
    )
    assert after[limit] == 0.8 * (1 - 0.05)  # loop.performance.drop's default; estimated is disabled
    assert not [
        k for k in after if k[0] == "modelward_loop_performance_limit" and ("kind", "estimated") in k[1]
    ]
