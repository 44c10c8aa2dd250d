"""docs/console.md as written: its one command brings the console up alone on a workspace built like the demo's
(``demo-workspace`` beside ``.venv/``), read-only, with the loop's timeline on the model's page."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from modelward import Workspace
from server.conftest import free_port

DOC = Path(__file__).resolve().parents[2] / "docs" / "console.md"


def commands() -> list[str]:
    """Every ``$ …`` command of the doc's console blocks."""
    return [
        line[2:]
        for block in re.findall(r"```console\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
        for line in block.splitlines()
        if line.startswith("$ ")
    ]


def test_the_doc_shows_its_screenshots() -> None:
    text = DOC.read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\((images/[^)]+\.png)\)", text)
    assert len(images) >= 3, images
    for image in images:
        png = DOC.parent / image
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", image


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_docs_command_serves_the_console_read_only_with_the_loop_timeline(
    tmp_path: Path, console_root: Path
) -> None:
    assert commands() == [".venv/bin/modelward ui demo-workspace"], commands()
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "modelward").symlink_to(Path(sys.executable).parent / "modelward")
    (tmp_path / "demo-workspace").symlink_to(console_root)
    with Workspace.open(console_root) as ws:
        champion = ws.registry.get("credit", "champion").version
    port = free_port()
    log = tmp_path / "ui.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["bash", "-c", f"exec {commands()[0]} --port {port}"],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, log.read_text()
                try:
                    if http.get("/ui").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            page = http.get("/ui/models/credit")
            assert page.status_code == 200
            for kind in ("loop_trigger_fired", "loop_gate_decided", "loop_promoted"):
                assert f'data-kind="{kind}"' in page.text, kind
            assert "read-only console" in page.text
            assert 'method="post"' not in page.text and "Sign in" not in page.text
            assert http.get("/ui/login").status_code == 404
            for action in ("promote", "rollback", "rollout", "rollout/abort", "retrain"):
                refused = http.post(f"/ui/models/credit/{action}", data={"version": "1"})
                assert refused.status_code in (404, 405), (action, refused.status_code)
            assert http.get("/", follow_redirects=False).headers["location"] == "/ui"
            assert http.get("/openapi.json").status_code == 404
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    output = log.read_text()
    assert f"http://127.0.0.1:{port}/ui" in output and "Traceback" not in output, output
    with Workspace.open(console_root) as ws:
        assert ws.registry.get("credit", "champion").version == champion
