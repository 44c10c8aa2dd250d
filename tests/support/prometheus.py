"""A real Prometheus (Debian `prometheus`, installed by .ci/run) scraping one target every second."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def prometheus_scraping(
    tmp_path: Path, target_port: int, rule_files: list[Path] | None = None
) -> Iterator[httpx.Client]:
    """Prometheus scraping 127.0.0.1:``target_port`` and evaluating ``rule_files`` every second; yields a
    client of its HTTP API. Fails with an install hint when the binary is missing."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed: `apt-get install prometheus` (Debian; .ci/run installs it)"
    port = _free_port()
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": "modelward", "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}]}
        ],
    }
    if rule_files:
        config["rule_files"] = [str(p) for p in rule_files]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    with (tmp_path / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                yield client
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
