"""benchmarks/loop.py, reduced: one Agrawal 0 -> 2 stream of 6,000 rows (drift at 3,000), one seed, small
forests, labels 100 rows late and 500-row monitor windows; the loop must beat the frozen champion and match
the scheduled retraining with at most 4 retrains, and never promote a worse model."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "loop.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_loop", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_loop"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_loop_recovers_after_an_abrupt_drift(tmp_path: Path) -> None:
    bench = _bench()
    run = bench.one("agrawal-abrupt", 0, 6_000, 3_000, 1, tmp_path, extra=bench.QUICK, delay=100, trees=20)
    never, scheduled, loop, river = (run["policies"][p] for p in ("never", "scheduled", "loop", "river"))
    assert never["post"] < 0.6  # the drift is real: the frozen champion is near chance on the new rule
    assert loop["overall"] >= never["overall"] + 0.05, run["events"]
    assert loop["overall"] >= scheduled["overall"] - 0.01, run["events"]
    assert loop["worse"] == 0 and 1 <= loop["retrains"] <= 4
    assert 0.5 < river["overall"] <= 1.0
