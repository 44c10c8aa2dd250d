"""The backtest commands of docs/loop.md run as written, in a workspace like the README's tour."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from modelward import Workspace
from modelward.demo import agrawal_frame

DOC = Path(__file__).resolve().parents[2] / "docs" / "loop.md"

CONFIG = """\
models:
  credit:
    task: classification
    target: approved
    dataset: loans
    entrypoint: modelward.demo:train_random_forest
    params: {n_estimators: 20, random_state: 0}
    split: {kind: random, test_size: 0.25, seed: 0}
"""


def backtest_block() -> str:
    section = DOC.read_text().split("## Backtest", 1)[1]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, blocks
    return str(blocks[0])


@pytest.mark.slow
def test_the_docs_backtest_commands_run_as_written(tmp_path: Path) -> None:
    root = tmp_path / "my-project"
    root.mkdir()
    agrawal_frame(5000, seed=42).to_csv(root / "loans.csv", index=False)
    with Workspace.init(root, config=CONFIG) as ws:
        ws.datasets.add(root / "loans.csv", "loans")
        ws.registry.promote("credit", ws.train("credit").version, reason="first model")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", backtest_block()],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads((root / "backtest.json").read_text())
    assert [c[0] for c in doc["policies"]["never"]["curve"]] == [1000, 2000, 3000, 4000]
    assert doc["policies"]["scheduled"]["retrains"] == 3  # rows 1,000, 2,000 and 3,000
    never = doc["policies"]["never"]["curve"]
    assert never[0][1] > never[-1][1] + 0.2  # the rule changed at row 2,000: the frozen champion suffers
    assert (root / "backtest.html").read_text().count("<polyline") == 3
    assert "backtest of credit" in done.stdout
