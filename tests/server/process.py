"""Start `modelward serve` as a user would: a subprocess with a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from .conftest import free_port


class ServerProcess:
    """One `modelward serve` subprocess on a free port."""

    def __init__(self, root: Path, database_url: str, *extra: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "modelward", "serve", "-w", str(root), "--database-url", database_url]
        # Output goes to a file, not a pipe: an unread pipe fills up and blocks the server's writes.
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed by stop()/kill9()
        self.proc = subprocess.Popen(
            [*cmd, "--port", str(self.port), *extra], stdout=self._log, stderr=subprocess.STDOUT, text=True
        )
        self.output = ""

    def _read_output(self) -> str:
        self._log.seek(0)
        self.output = self._log.read()
        return self.output

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError(f"server exited with {self.proc.returncode}:\n{self._read_output()}")
                try:
                    if client.get("/readyz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"server did not become ready within {timeout} s"
                time.sleep(0.1)

    def kill9(self) -> None:
        """Crash: SIGKILL, no chance to drain anything."""
        self.proc.kill()
        self.proc.wait(timeout=30)
        self._read_output()
        self._log.close()

    def stop(self) -> str:
        """Graceful: SIGINT drains the prediction log. Returns what the server printed."""
        if self._log.closed:
            return self.output
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        out = self._read_output()
        self._log.close()
        return out


@contextmanager
def serving(root: Path, database_url: str, *extra: str) -> Iterator[httpx.Client]:
    server = ServerProcess(root, database_url, *extra)
    client = httpx.Client(base_url=server.base_url, timeout=10)
    try:
        server.wait_ready()
        yield client
    finally:
        client.close()
        out = server.stop()
        assert "Traceback" not in out, out


def metric(client: httpx.Client, key: str) -> float:
    """The value of one sample line of ``/metrics`` (0 when absent)."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(key + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
