"""schemathesis fuzzes the served OpenAPI schema: no request may cause a 5xx (bounded run).

Every operation is exercised, explain, feedback, admin and the Alertmanager webhook included. The served schema has a typed path
per served model (``/v1/models/credit/predict`` names credit's columns), so schemathesis sends
real columns with numbers drawn across the whole float and integer range; the run must show
some of them refused as ``out_of_range`` (proof that extremes were drawn) and none answered 5xx.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from .conftest import TOKEN, Trained, make_workspace
from .process import ServerProcess, metric


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(tmp_path: Path, trained: dict[str, Trained]) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is a test dependency: pip install -e '.[dev]'"
    url = f"sqlite:///{tmp_path / 'mw.db'}"
    # One bearer token for the admin endpoints and the Alertmanager webhook, so both are fuzzed past auth.
    root = make_workspace(tmp_path / "ws", url, trained, settings=f"hooks: {{token: {TOKEN}}}\n")
    # Path parameters name real models, so requests reach validation instead of a 404.
    (tmp_path / "schemathesis.toml").write_text(
        '[parameters]\n"path.model" = "credit"\n"path.name" = "credit"\n'
    )
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
        with httpx.Client(base_url=server.base_url) as http:
            refused = metric(http, 'modelward_input_errors_total{model="credit",reason="out_of_range"}')
            predicted = metric(http, 'modelward_predictions_total{arm="champion",model="credit",version="1"}')
            feedback = http.get("/metrics").text
    finally:
        out = server.stop()
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
    assert counts, done.stdout[-3000:]
    generated, passed = int(counts[1]), int(counts[2])
    assert generated == passed >= 200, done.stdout[-3000:]  # a real run, every case without a 5xx
    assert "Selected: 17/17" in done.stdout and "Tested: 17" in done.stdout, done.stdout[-3000:]
    assert refused > 0 and predicted > 0, (
        refused,
        predicted,
    )  # extremes drawn and refused; valid rows served
    assert 'modelward_feedback_total{status="not_found"}' in feedback
    operations = re.search(r"Selected: (\d+/\d+)", done.stdout)
    print(
        f"schemathesis: {operations[1] if operations else '?'} operations, {generated} cases generated, "
        f"{passed} without a 5xx; {refused:g} rows refused out_of_range, {predicted:g} served"
    )
    assert "Traceback" not in out, out[-4000:]
