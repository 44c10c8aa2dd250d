"""deploy/prometheus/: promtool checks the rules and runs their unit tests (alerts.test.yml), every alert of
alerts.yml is tested firing, and amtool routes exactly the retraining alerts to modelward's hook.

promtool and amtool ship with Debian's `prometheus` and `prometheus-alertmanager` (.ci/run installs them)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def binary(name: str, package: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not installed: `apt-get install {package}` (Debian; .ci/run installs it)"
    return found


def run(*cmd: str) -> str:
    done = subprocess.run(cmd, cwd=PROMETHEUS, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def alerts(path: Path) -> dict[str, dict[str, object]]:
    rules = [r for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"]]
    return {r["alert"]: r for r in rules}


def test_promtool_checks_the_rules() -> None:
    out = run(binary("promtool", "prometheus"), "check", "rules", "alerts.yml", "rules.yml")
    assert "SUCCESS: 12 rules found" in out and "SUCCESS: 1 rules found" in out, out


def test_the_rules_unit_tests_pass() -> None:
    out = run(binary("promtool", "prometheus"), "test", "rules", "alerts.test.yml")
    assert "SUCCESS" in out, out


def test_every_alert_is_tested_firing_and_quiet() -> None:
    """Each alert of alerts.yml appears in alerts.test.yml both with an expected alert and with none."""
    tests = yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text())["tests"]
    cases = [c for t in tests for c in t["alert_rule_test"]]
    fired = {c["alertname"] for c in cases if c["exp_alerts"]}
    named = set(alerts(PROMETHEUS / "alerts.yml"))
    assert named == fired, f"alerts never tested firing: {sorted(named - fired)}"
    assert not set(alerts(PROMETHEUS / "rules.yml")) & named, (
        "an alert name is in both rules.yml and alerts.yml"
    )


def test_the_retraining_alerts_are_the_model_health_alerts() -> None:
    """Drift and performance ask for retraining; errors, latency, the log and the loop go to people."""
    retrain = {
        name
        for name, rule in alerts(PROMETHEUS / "alerts.yml").items()
        if rule.get("labels", {}).get("modelward_action") == "retrain"  # type: ignore[union-attr]
    }
    assert retrain == {
        "ModelDataDrift",
        "ModelPerformanceBelowThreshold",
        "ModelEstimatedPerformanceBelowThreshold",
    }
    for name, rule in alerts(PROMETHEUS / "alerts.yml").items():
        if name in retrain:  # the hook needs the model's name, so the expression must keep it
            assert re.search(r"by \(model[,)]", str(rule["expr"])), name


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["model=credit", "modelward_action=retrain", "alertname=ModelDataDrift"], "modelward-retrain"),
        (["model=credit", "modelward_action=retrain", "alertname=ModelInputErrors"], "modelward-retrain"),
        (["model=credit", "alertname=ModelServerErrors", "severity=page"], "default"),
        (["model=credit", "alertname=ModelRolloutStuck"], "default"),
        (["modelward_action=retrain", "alertname=NoModelNamed"], "default"),
        (["instance=a", "alertname=PredictionLogSpooling"], "default"),
    ],
)
def test_alertmanager_routes_only_retraining_alerts_to_modelward(labels: list[str], receiver: str) -> None:
    out = run(
        binary("amtool", "prometheus-alertmanager"),
        "config",
        "routes",
        "test",
        "--config.file=alertmanager.yml",
        *labels,
    )
    assert out.splitlines()[0].strip() == receiver, out


def test_alertmanager_sends_to_the_hook_with_the_model_label() -> None:
    config = yaml.safe_load((PROMETHEUS / "alertmanager.yml").read_text())
    route = config["route"]["routes"][0]
    assert route["receiver"] == "modelward-retrain" and "model" in route["group_by"]
    (receiver,) = [r for r in config["receivers"] if r["name"] == "modelward-retrain"]
    (hook,) = receiver["webhook_configs"]
    assert hook["url"].endswith("/v1/hooks/alertmanager")
