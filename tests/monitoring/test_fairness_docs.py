"""docs/fairness.md as written: its configuration block is a valid model entry, and its Python example runs
and prints the flagged gap its text describes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from modelward.config import ModelSpec

DOC = Path(__file__).resolve().parents[2] / "docs" / "fairness.md"


def _block(language: str) -> str:
    found = re.findall(
        rf"^```{language}\n(.*?)^```$", DOC.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL
    )
    assert len(found) == 1, f"docs/fairness.md should have one ```{language} block, has {len(found)}"
    return str(found[0])


def test_the_configuration_block_is_a_valid_model_entry() -> None:
    spec = ModelSpec.model_validate(yaml.safe_load(_block("yaml"))["models"]["credit"])
    assert spec.monitor.sensitive_columns == ["elevel"]
    assert (spec.monitor.fairness_tolerance, spec.monitor.fairness_min_group_rows) == (0.05, 30)


def test_the_python_example_runs_as_written(tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(_block("python"))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    first, *groups = done.stdout.splitlines()
    assert first.startswith("demographic parity difference: 0.1") and first.endswith("flagged: True"), first
    assert [g.split()[:2] for g in groups] == [["f", "1000"], ["m", "1000"]]


def test_the_context_body_parses_as_the_server_parses_it() -> None:
    """The body shown for a sensitive column that is not a model input is accepted, one context per row."""
    import json

    from modelward.server.validation import parse_body

    body = json.loads(_block("json"))
    parsed = parse_body(body, max_rows=10)
    assert parsed.rows == 2 and parsed.context == [{"gender": "f"}, {"gender": "m"}]
    assert "gender" not in parsed.columns
