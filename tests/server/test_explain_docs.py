"""The shell commands of docs/explain.md run as written: the modelward commands in a fresh directory,
then the curl commands against `modelward serve` on the workspace they made (port substituted)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from support.docs import console_commands

from .process import ServerProcess

DOC = Path(__file__).resolve().parents[2] / "docs" / "explain.md"


def commands() -> list[str]:
    return console_commands(DOC)


@pytest.mark.slow
def test_the_docs_commands_work_as_written(tmp_path: Path) -> None:
    found = commands()
    kinds = [c.split()[0] for c in found]
    assert kinds == ["curl", "curl", "modelward", "cd", "modelward", "modelward"], found
    cwd = tmp_path
    for command in [c for c in found if not c.startswith("curl")]:
        args = shlex.split(command)
        if args[0] == "cd":
            cwd = cwd / args[1]
            continue
        done = subprocess.run(
            [sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
        if args[1:3] == ["models", "show"]:
            assert "importance (holdout)" in done.stdout and "tree_shap" in done.stdout, done.stdout
    page = (cwd / "credit-explained.html").read_text()
    assert "<svg" in page and "https://" not in page
    assert json.loads((cwd / "credit-explained.json").read_text())["explanation"]["method"] == "tree_shap"
    server = ServerProcess(cwd, f"sqlite:///{cwd / '.modelward' / 'modelward.db'}")
    try:
        server.wait_ready()
        for command in [c for c in found if c.startswith("curl")]:
            done = subprocess.run(
                ["bash", "-c", command.replace("localhost:8000", f"localhost:{server.port}")],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, (command, done.stderr)
            answer = json.loads(done.stdout)
            assert "error" not in answer, (command, answer)
            e = answer["explanations"]
            assert (e["method"], e["output"]) == ("tree_shap", "probability")
            rows = [r for row in e["rows"] for r in (row if isinstance(row, list) else [row])]
            for r in rows:  # local accuracy, as the doc says
                assert r["base_value"] + sum(r["attributions"].values()) == pytest.approx(
                    r["value"], abs=1e-6
                )
    finally:
        out = server.stop()
    assert "Traceback" not in out, out[-3000:]
