"""The curl commands of docs/serving.md run as written against `modelward serve` (port substituted)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import orjson

from support.docs import console_commands

from .conftest import TOKEN, Trained, make_workspace, register
from .process import ServerProcess

DOC = Path(__file__).resolve().parents[2] / "docs" / "serving.md"


def curl_commands() -> list[str]:
    return [c for c in console_commands(DOC) if c.startswith("curl ")]


def test_the_docs_curl_commands_work_as_written(tmp_path: Path, trained: dict[str, Trained]) -> None:
    commands = curl_commands()
    assert len(commands) == 4, commands  # predict, feedback, promote, rollback
    url = f"sqlite:///{tmp_path / 'mw.db'}"
    root = make_workspace(tmp_path / "ws", url, trained)
    from modelward import Workspace

    with Workspace.open(root, database_url=url) as ws:
        register(ws, trained["credit"])  # credit@2, which the promote example names
    server = ServerProcess(root, url)
    env = {**os.environ, "TOKEN": TOKEN}
    try:
        server.wait_ready()
        for command in commands:
            done = subprocess.run(
                ["bash", "-c", command.replace("localhost:8000", f"localhost:{server.port}")],
                capture_output=True,
                text=True,
                env=env,
                timeout=30,
                check=False,
            )
            assert done.returncode == 0, (command, done.stderr)
            answer = orjson.loads(done.stdout)
            assert "error" not in answer, (command, answer)
            if "prediction_ids" in answer:
                env["PREDICTION_ID"] = answer["prediction_ids"][0]
            if "results" in answer:
                assert answer["results"][0]["status"] == "recorded", answer
    finally:
        out = server.stop()
    assert "Traceback" not in out, out[-3000:]
