"""The README's first page runs as written: its tour and its Python example, in a fresh directory.

The tour's ``bash`` block is read from README.md and run by bash, unchanged but for one thing: port
8000 becomes a free port, because another process on a test machine may hold 8000. The server it
starts in the background is bounded by the block itself (``kill %1``) and, should a line fail, by
the test, which ends the whole process group it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent


def _block(language: str, after: str) -> str:
    """The first fenced ``language`` block after the line ``after`` of README.md."""
    text = README.read_text(encoding="utf-8")
    assert after in text, f"README.md has no {after!r}"
    match = re.search(rf"^```{language}\n(.*?)^```$", text[text.index(after) :], re.MULTILINE | re.DOTALL)
    assert match is not None, f"README.md has no ```{language} block after {after!r}"
    return match.group(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in a process group of its own, with the venv's ``modelward`` on PATH, and end
    the group afterwards (a server the script left running dies with it)."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "COLUMNS": "100"}
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(
            f"{argv[0]} did not finish in {timeout} s.\nstdout:\n{out[-4000:]}\nstderr:\n{err[-4000:]}"
        )
    finally:
        with contextlib.suppress(ProcessLookupError):  # the group is gone: nothing was left running
            os.killpg(proc.pid, signal.SIGTERM)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_tour_and_the_python_example_run_as_written(tmp_path: Path) -> None:
    tour = _block("bash", "## A 60-second tour")
    assert "--port 8000 &" in tour and "http://127.0.0.1:8000/" in tour
    port = _free_port()
    script = tmp_path / "tour.sh"
    script.write_text(tour.replace(":8000/", f":{port}/").replace("--port 8000", f"--port {port}"))

    done = _run(["bash", "-e", "-o", "pipefail", "-x", str(script)], tmp_path, timeout=780)
    assert done.returncode == 0, f"the tour failed:\n{done.stdout[-4000:]}\n{done.stderr[-6000:]}"
    out = " ".join(done.stdout.split())
    for needle in (
        "added loans@1",
        "added loans@2",
        "registered credit@1",
        "registered credit@2",
        "credit@champion: - → 1",
        "credit@champion: 1 → 2",
        "credit@champion: 2 → 1 (rolled back)",
        "credit@2 reproduced: predictions identical",
        '"model":"credit","version":1',
        "200 predictions",
        "HTML report: drift.html",
    ):
        assert needle in out, f"{needle!r} not in the tour's output:\n{done.stdout[-6000:]}"
    project = tmp_path / "my-project"
    answers = json.loads((project / "answers.json").read_text())
    assert len(answers["predictions"]) == 200 and answers["version"] == 1
    assert (project / "drift.html").stat().st_size > 10_000

    example = tmp_path / "example.py"
    example.write_text(_block("python", "The same things from Python"))
    ran = _run([sys.executable, str(example)], tmp_path, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["credit@3", "Pipeline"]


def test_make_demo_says_how_to_get_modelward_on_the_path() -> None:
    done = subprocess.run(["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert ". .venv/bin/activate" in done.stdout and "call .venv/bin/modelward" in done.stdout
    readme = README.read_text(encoding="utf-8")
    assert "`. .venv/bin/activate` (or call `.venv/bin/modelward`)" in readme
