"""docs/operations.md: every bash block runs as written (from the repository's root), and every metric the
table names is one modelward exports (the real exposition is checked in test_dashboards.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "operations.md"


def bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_bash_blocks_run() -> None:
    blocks = bash_blocks()
    assert blocks
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for block in blocks:
        done = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + block],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{block}\n{done.stdout}{done.stderr}"


def test_every_metric_named_is_one_modelward_defines() -> None:
    """Names in the doc appear in the source that exports them (families end in _total or a base name)."""
    source = " ".join(p.read_text() for p in (ROOT / "src" / "modelward").rglob("*.py"))
    named = set(re.findall(r"`(modelward_[a-z_]+)`", DOC.read_text()))
    assert len(named) > 10
    for name in named:
        base = name.removesuffix("_total")
        short = base.removeprefix("modelward_monitor_").removeprefix("modelward_rollout_")
        assert f'"{base}"' in source or f'"{short}"' in source, (
            f"docs/operations.md names {name}: not exported"
        )
