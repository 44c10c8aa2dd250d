"""docs/loop.md's sections "One leader" and "Alertmanager" as written: their YAML is what the code reads and
what the Alertmanager end-to-end test runs (deploy/prometheus/), and their commands run against a real
`modelward serve` (unchanged but for the port)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from modelward import Workspace
from modelward.config import load_settings
from modelward.loop_settings import LeaseSettings
from server.process import ServerProcess

from .loop_support import make_loop_workspace, wait_for

ROOT = Path(__file__).resolve().parents[2]
LOOP_MD = ROOT / "docs" / "loop.md"
BIN = Path(sys.executable).parent
TOKEN = "docs-hooks-token"


def section(title: str) -> str:
    text = LOOP_MD.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.DOTALL)


def test_the_docs_show_the_samples_the_end_to_end_test_runs() -> None:
    shown = blocks(section("Alertmanager"), "yaml")
    for sample in ("rules.yml", "alertmanager.yml"):
        text = (ROOT / "deploy" / "prometheus" / sample).read_text()
        assert text in shown, f"docs/loop.md does not show deploy/prometheus/{sample} as it is"
        yaml.safe_load(text)


def test_the_lease_settings_shown_are_the_defaults(tmp_path: Path) -> None:
    (snippet,) = blocks(section("One leader"), "yaml")
    (tmp_path / "modelward.yaml").write_text(snippet)
    settings = load_settings(tmp_path)
    assert settings.loop.lease == LeaseSettings() and (
        settings.loop.lease.ttl_seconds,
        settings.loop.lease.renew_seconds,
    ) == (30, 10)


def run_block(block: str, cwd: Path, port: int) -> str:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "MODELWARD_HOOKS__TOKEN": TOKEN,
        "COLUMNS": "200",
    }
    script = "set -euo pipefail\n" + block.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    done = subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.mark.slow
def test_the_commands_of_one_leader_and_alertmanager_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mw.db'}"
    root = make_loop_workspace(tmp_path / "ws", url)
    with (root / "modelward.yaml").open("a") as config:
        config.write(f"hooks: {{token: {TOKEN}}}\n")
    server = ServerProcess(root, url)
    try:
        server.wait_ready()
        with Workspace.open(root, database_url=url) as ws:
            leader = wait_for("serve's loop to lead", ws.leases.current, timeout=30)
        (leading,) = blocks(section("One leader"), "bash")
        out = run_block(leading, root, server.port)
        assert f"this process does not lead the loop: {leader.holder} does (lease epoch 1" in out, out
        assert '"leading": false' in out and f'"holder": "{leader.holder}"' in out, out
        (by_hand,) = blocks(section("Alertmanager"), "bash")
        answer = json.loads(run_block(by_hand, root, server.port))
        (result,) = answer["results"]  # no labeled rows yet: the trigger waits for them, and says so
        assert result["model"] == "credit" and result["suppressed_by"] == "labels", answer
    finally:
        out = server.stop()
    assert "Traceback" not in out, out[-4000:]
