"""benchmarks/serving.py --explain, reduced: the ratios count 2xx answers only, an answer without
explanations stops the run, and one real run (modelward serve + wrk, 1 s per request kind) measures
predict, /explain and predict with explanations on the same server without an error."""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import httpx
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "serving.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_serving", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_serving"] = module
    spec.loader.exec_module(module)
    return module


def _cell(bench: ModuleType, request: str, rps: float, p99: float, non_2xx: int = 0) -> object:
    return bench.Cell(
        "modelward", "rf", 8, requests=1000, seconds=5.0, rps=rps, p50_ms=1.0, p99_ms=p99,
        non_2xx=non_2xx, socket_errors=0, load_before=0.0, request=request,
    )  # fmt: skip


def test_the_explain_ratios_count_only_2xx_answers() -> None:
    bench = _bench()
    cells = [
        _cell(bench, "predict", 200.0, 10.0),
        _cell(bench, "explain", 100.0, 40.0, non_2xx=500),  # half the answers were errors
        _cell(bench, "predict+explanations", 50.0, 20.0),
    ]
    table, ratios = bench.explain_report(cells)
    by_request = {r["request"]: r for r in ratios}
    assert by_request["predict"]["ok_rps_ratio_to_predict"] == 1.0
    assert by_request["explain"]["ok_rps"] == 50.0 and by_request["explain"]["errors"] == 500
    assert by_request["explain"]["ok_rps_ratio_to_predict"] == 0.25
    assert by_request["explain"]["p99_ratio_to_predict"] == 4.0
    assert by_request["predict+explanations"]["ok_rps_ratio_to_predict"] == 0.25
    assert "| modelward | rf | 8 | explain | 100.0 | 50.0 | 1.0 | 40.0 | 500 | 0 | 0.250 | 4.00 |" in table


def test_an_answer_without_explanations_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = _bench()
    server = SimpleNamespace(tail=lambda: "server log")
    url = "http://127.0.0.1:1/v1/models/rf/explain"
    answers = iter([httpx.Response(200, json={"predictions": [1]}), httpx.Response(500, json={"error": {}})])
    monkeypatch.setattr(bench.httpx, "post", lambda *a, **k: next(answers))
    with pytest.raises(RuntimeError, match="answered 200"):
        bench.check_answer(server, url, b"{}", explained=True)
    with pytest.raises(RuntimeError, match="answered 500"):
        bench.check_answer(server, url, b"{}", explained=False)


@pytest.mark.slow
def test_one_short_explain_run_measures_the_three_requests() -> None:
    assert shutil.which("wrk"), "wrk is needed: apt-get install -y wrk (.ci/run installs it)"
    bench = _bench()
    args = argparse.Namespace(
        explain=True,
        servers=["modelward"],
        models=["rf"],
        concurrency=[2],
        also_workers=[],
        warmup=1,
        duration=1,
    )
    cells = bench.measure(args)
    assert [c.request for c in cells] == ["predict", "explain", "predict+explanations"]
    for c in cells:
        assert c.requests > 0 and c.rps > 0 and c.p99_ms > 0, c
        assert c.non_2xx == 0 and c.socket_errors == 0, c
    _, ratios = bench.explain_report(cells)
    assert all(r["ok_rps_ratio_to_predict"] > 0 for r in ratios)
