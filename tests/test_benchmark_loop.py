"""benchmarks/loop.py, reduced: one Agrawal 0 -> 2 stream of 6,000 rows (drift at 3,000), one seed, small
forests, labels 100 rows late, 500-row monitor windows and 2-minute canary steps; the loop promoting at once
must beat the frozen champion and match the scheduled retraining with at most 4 retrains; with its canary it
must still beat the frozen champion, having run the canary before promoting; neither promotes a worse model."""

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
    run = bench.one(
        "agrawal-abrupt", 0, 6_000, 3_000, 1, tmp_path, extra=bench.QUICK, model_extra=bench.QUICK_MODEL, delay=100,
        trees=20,
    )  # fmt: skip
    never, scheduled, loop, now, river = (run["policies"][p] for p in bench.ROWS)
    assert never["post"] < 0.6  # the drift is real: the frozen champion is near chance on the new rule
    assert now["overall"] >= never["overall"] + 0.05, run["events_now"]
    assert now["overall"] >= scheduled["overall"] - 0.01, run["events_now"]
    assert now["worse"] == 0 and 1 <= now["retrains"] <= 4 and now["rollout_rows"] == 0
    assert loop["overall"] >= never["overall"] + 0.03, run["events"]
    assert loop["worse"] == 0 and 1 <= loop["retrains"] <= 4 and loop["rollout_rows"] > 0, run["events"]
    assert 0.5 < river["overall"] <= 1.0
