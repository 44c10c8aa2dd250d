"""The commands of docs/rollout.md run as written: the `modelward rollout` commands in the workspace, the
curl commands against `modelward serve` (port substituted); none answers an error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from modelward import Workspace
from support.docs import console_commands

from .conftest import TOKEN, Trained, make_workspace, register
from .process import ServerProcess

DOC = Path(__file__).resolve().parents[2] / "docs" / "rollout.md"


def commands() -> list[str]:
    return console_commands(DOC)


def _run(command: str, root: Path, env: dict[str, str], port: int) -> str:
    done = subprocess.run(
        ["bash", "-c", command.replace("localhost:8000", f"localhost:{port}")],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, (command, done.stdout, done.stderr)
    return done.stdout


@pytest.mark.slow
def test_the_docs_commands_work_as_written(tmp_path: Path, trained: dict[str, Trained]) -> None:
    found = commands()
    assert [c.split()[0] for c in found] == ["modelward"] * 3 + ["curl"] * 4, found
    url = f"sqlite:///{tmp_path / 'mw.db'}"
    root = make_workspace(tmp_path / "ws", url, trained)
    with Workspace.open(root, database_url=url) as ws:
        register(ws, trained["credit"])  # credit@2, which the examples roll out
    env = {
        **os.environ,
        "TOKEN": TOKEN,
        "MODELWARD_DATABASE_URL": url,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    outputs = [_run(c, root, env, 0) for c in found[:3]]
    assert "started rollout 1 of credit: v2 vs champion v1, canary" in outputs[0]
    assert "aborted" in outputs[2] and "holding the release" in outputs[2]
    server = ServerProcess(root, url)
    try:
        server.wait_ready()
        answers = [orjson.loads(_run(c, root, env, server.port)) for c in found[3:]]
    finally:
        out = server.stop()
    assert all("error" not in a for a in answers), answers
    assert answers[0]["rollout"]["mode"] == "ab" and answers[1]["rollout"]["status"] == "running"
    assert answers[2]["version"] in (1, 2) and answers[3]["rollout"]["status"] == "aborted"
    assert "Traceback" not in out, out[-3000:]
