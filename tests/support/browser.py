"""A real headless browser for the HTML pages: Debian's ``chromium`` (.ci/run installs it).

:func:`open_page` loads a file and returns the DOM Chromium built and every message the page wrote to its
console (a script error, a blocked resource): Chromium logs them as ``INFO:CONSOLE`` lines on stderr
with ``--enable-logging=stderr``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_CONSOLE = re.compile(r":INFO:CONSOLE[^\]]*\] (.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Page:
    dom: str
    console: list[str]
    stderr: str


def open_page(file: Path, timeout: float = 120) -> Page:
    """Open ``file`` in headless Chromium (no network, no GPU) and return its DOM and console messages."""
    assert shutil.which("chromium"), "chromium is missing: apt-get install -y chromium (.ci/run does)"
    with tempfile.TemporaryDirectory(prefix="mw-chromium-") as profile:  # two test workers, two profiles
        done = _chromium(file, profile, timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return Page(done.stdout, _CONSOLE.findall(done.stderr), done.stderr)


def _chromium(file: Path, profile: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "chromium",
            "--headless",
            f"--user-data-dir={profile}",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            file.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
