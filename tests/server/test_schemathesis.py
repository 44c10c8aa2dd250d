"""schemathesis fuzzes the served OpenAPI schema: no request may cause a 5xx (bounded run)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import TOKEN, Trained, make_workspace
from .process import ServerProcess


def test_schemathesis_finds_no_server_error(tmp_path: Path, trained: dict[str, Trained]) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is a test dependency: pip install -e '.[dev]'"
    url = f"sqlite:///{tmp_path / 'mw.db'}"
    root = make_workspace(tmp_path / "ws", url, trained)
    server = ServerProcess(root, url)
    try:
        server.wait_ready()
        done = subprocess.run(
            [
                st,
                "run",
                f"{server.base_url}/openapi.json",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "30",
                "--seed",
                "1",
                "--workers",
                "1",  # hypothesis' lambda introspection is not thread-safe (a runtime error, not ours)
                "--max-time",
                "45",
                "--header",
                f"Authorization: Bearer {TOKEN}",
                "--generation-database",
                "none",
                "--report-dir",
                str(tmp_path / "report"),
            ],
            capture_output=True,
            text=True,
            timeout=240,
            cwd=tmp_path,
        )
    finally:
        out = server.stop()
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
    assert counts, done.stdout[-3000:]
    generated, passed = int(counts[1]), int(counts[2])
    assert generated == passed >= 200, done.stdout[-3000:]  # a real run, every case without a 5xx
    assert "Traceback" not in out, out[-4000:]
