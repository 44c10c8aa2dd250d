"""`modelward serve` as the demo runs it: a real server subprocess on a free 127.0.0.1 port.

The demo talks to the product the way a user's client would, over HTTP, so the server is not started in
process: it is ``python -m modelward serve`` in a session of its own (a Ctrl-C in the terminal reaches the
demo, which then stops the server with one SIGINT, its graceful shutdown that drains the prediction log).
Should the demo die without that (``kill -9``), Linux sends the server a SIGTERM, as graceful
(``PR_SET_PDEATHSIG``): no server outlives the demo. Its output goes to a file in the workspace, shown when
it fails.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from modelward.errors import ModelwardError

__all__ = ["DemoServer", "free_port"]


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop_with_parent() -> None:
    """Run in the child before exec: a SIGTERM (a graceful stop too) when its parent dies (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class DemoServer:
    """One ``modelward serve`` subprocess over the workspace ``root`` (a context manager that stops it)."""

    def __init__(
        self, root: Path, log_path: Path, *, database_url: str, env: dict[str, str] | None = None
    ) -> None:
        self.root, self.log_path, self.database_url = root, log_path, database_url
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._env = {**os.environ, **(env or {})}
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> DemoServer:
        """Start the server and wait until ``/readyz`` answers 200."""
        cmd = [
            *(sys.executable, "-m", "modelward", "serve", "-w", str(self.root), "--port", str(self.port)),
            *("--database-url", self.database_url),
        ]
        with self.log_path.open("wb") as log:  # the child keeps its own handle
            self._proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
                start_new_session=True,
                preexec_fn=_stop_with_parent,  # before the traffic thread starts: no other thread runs
            )
        self._wait_ready(timeout)
        return self

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def _wait_ready(self, timeout: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            while True:
                if self._proc.poll() is not None:
                    raise ModelwardError(
                        f"modelward serve exited with status {self._proc.returncode} before it was ready. "
                        f"Its output:\n{self.output(40)}"
                    )
                try:
                    if client.get("/readyz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise ModelwardError(
                        f"modelward serve was not ready within {timeout:g} s on {self.base_url}. "
                        f"Its output:\n{self.output(40)}"
                    )
                time.sleep(0.1)

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def output(self, lines: int | None = None) -> str:
        """What the server printed (its last ``lines`` lines)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return text if lines is None else "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 30.0) -> int | None:
        """Stop gracefully (SIGINT: the prediction log is drained), kill after ``timeout``; the exit status."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        return proc.returncode

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
