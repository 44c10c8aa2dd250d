"""Console benchmark: the server time of every page of the web console with 1,000 versions and 10,000 monitored
windows of one model in the store.

    .venv/bin/python benchmarks/console.py                  # 1,000 versions, 10,000 windows, 10 repeats
    .venv/bin/python benchmarks/console.py --versions 200 --windows 2000 --repeat 3

Setup (untimed): a SQLite workspace in a temporary directory; a seeded Agrawal dataset of 2,000 rows; ``bench``
v1 trained on it with ``Workspace.train`` and promoted; 2,000 predictions of v1 written through the real
``PredictionLog`` writer, with feedback, the later half drifted, and monitored by the real ``Monitor``
(windows of 200 rows: 10 real runs with their reports and metric rows). Then, to reach the sizes: the other
versions registered through ``Registry.register`` (v1's record; every 10th promoted, so the alias history
is long too), the 10 real runs copied (report and metric rows) into older windows until ``--windows`` runs
exist (bulk SQL, the benchmark's only shortcut: running the monitor 10,000 times would take hours and store
the same rows), 500 loop events through ``JobStore.record``, a canary rollout with 500 counter rows, and 20
versions of the dataset. The sizes printed are counted in the store afterwards.

Measured: each page requested ``--repeat`` times (after one warm-up) through the console's ASGI app in this
process (``httpx.ASGITransport``); the server time is the page's own ``Server-Timing: render;dur=`` header
(queries + template, measured by the handler around its work) and the client time what httpx saw. Prints the
median, 95th percentile and maximum of each, the load average and the CPU seconds used (the machine is shared:
wall time above CPU time means waiting for a core). Nothing is hard-coded.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa

from modelward import Workspace
from modelward.demo import agrawal_frame
from modelward.maintenance import Monitor
from modelward.predlog import FeedbackItem, PredictionLog, PredictionRecord, new_prediction_id, parse_window
from modelward.store.schema import events, model_versions, monitoring_metrics, monitoring_runs, rollout_counts
from modelward.ui import create_console_app

CONFIG = """\
models:
  bench:
    task: classification
    target: approved
    dataset: bench
    entrypoint: modelward.demo:train_logistic_regression
    params: {max_iter: 300}
"""
BUDGET_MS = 200.0


def _log(ws: Workspace, n: int, start: dt.datetime) -> None:
    model = ws.load_model(ws.registry.get("bench", 1))
    frame = agrawal_frame(n, seed=7, function=0)
    later = frame.index >= n // 2
    frame.loc[later, "salary"] = frame.loc[later, "salary"] * 1.6
    features = frame.drop(columns=["approved"])
    predicted, proba = model.predict(features), model.predict_proba(features)
    rng = np.random.default_rng(0)
    plog = PredictionLog(ws.store, spool_dir=ws.root / "spool")
    plog.start()
    records, labels = [], []
    for i, row in enumerate(features.to_dict(orient="records")):
        pid = new_prediction_id()
        records.append(
            PredictionRecord(
                pid,
                start + dt.timedelta(seconds=i),
                "bench",
                1,
                "champion",
                None,
                row,
                int(predicted[i]),
                [float(p) for p in proba[i]],
                float(rng.gamma(2.0, 3.0)),
            )
        )
        labels.append(FeedbackItem(pid, int(frame["approved"].iloc[i])))
    plog.submit(records).result(timeout=120)
    plog.add_feedback(labels)
    plog.close()


def _copy_runs(ws: Workspace, target: int) -> None:
    """Copy the real runs (report + metric rows) into older windows until ``target`` runs exist."""
    r, m = monitoring_runs, monitoring_metrics
    with ws.store.read() as conn:
        runs = [dict(row._mapping) for row in conn.execute(sa.select(r).order_by(r.c.start_ts))]
        metrics = {
            run["id"]: [
                {k: v for k, v in row._mapping.items() if k not in ("id", "run_id")}
                for row in conn.execute(sa.select(m).where(m.c.run_id == run["id"]))
            ]
            for run in runs
        }
    span = runs[-1]["end_ts"] - runs[0]["start_ts"] + dt.timedelta(seconds=1)
    needed, copy = target - len(runs), 0
    while needed > 0:
        copy += 1
        batch = runs[: min(needed, len(runs))]
        with ws.store.write() as conn:
            for run in batch:
                values = {k: v for k, v in run.items() if k != "id"}
                shift = span * copy
                values.update(
                    start_ts=run["start_ts"] - shift,
                    end_ts=run["end_ts"] - shift,
                    start_id=f"{run['start_id'][:30]}{copy:06d}",
                )
                key = conn.execute(r.insert().values(**values)).inserted_primary_key
                assert key is not None
                conn.execute(m.insert(), [{**row, "run_id": int(key[0])} for row in metrics[run["id"]]])
        needed -= len(batch)


def build(root: Path, versions: int, windows: int) -> Workspace:
    ws = Workspace.init(root, config=CONFIG)
    ws.datasets.add_frame(agrawal_frame(2000, seed=1, function=0), "bench")
    v1 = ws.train("bench")
    ws.registry.promote("bench", v1.version, reason="benchmark setup")
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    _log(ws, 2000, start)
    Monitor(ws, "bench", window=parse_window("200")).run_once()
    for i in range(2, versions + 1):
        ws.registry.register(
            "bench",
            task=v1.task,
            artifact=v1.artifact,
            serializer=v1.serializer,
            flavor=v1.flavor,
            signature=v1.signature,
            input_example=v1.input_example,
            params=v1.params,
            metrics=v1.metrics,
            lineage=v1.lineage,
            trusted_types=v1.trusted_types,
            dataset_version_id=v1.dataset_version_id,
        )
        if i % 10 == 0:
            ws.registry.promote("bench", i, alias="challenger", reason=f"benchmark {i}")
    _copy_runs(ws, windows)
    now = dt.datetime.now(dt.UTC)
    for i in range(500):
        ws.jobs.record(
            "bench", "loop_trigger_suppressed", {"suppressed_by": "cooldown", "reason": f"#{i}"}, now=now
        )
    rollout = ws.rollouts.start(
        "bench", champion=1, challenger=versions, mode="canary", steps=[5, 25, 100], settings={}, now=start
    )
    ws.rollouts.add_counts([(rollout.id, "champion", 100, 1, 0)] * 250, source="bench", now=start)
    ws.rollouts.add_counts([(rollout.id, "canary", 5, 0, 1)] * 250, source="bench", now=now)
    base = agrawal_frame(500, seed=3, function=0)
    for i in range(2, 21):
        ws.datasets.add_frame(base.assign(salary=base["salary"] * (1 + i / 100)), "bench")
    return ws


def _sizes(ws: Workspace) -> dict[str, int]:
    def count(table: sa.Table) -> int:
        with ws.store.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

    return {
        "model versions": count(model_versions),
        "monitoring windows": count(monitoring_runs),
        "monitoring metric rows": count(monitoring_metrics),
        "events": count(events),
        "rollout counter rows": count(rollout_counts),
        "dataset versions": ws.datasets.get("bench").version,
    }


async def measure(ws: Workspace, repeat: int) -> list[tuple[str, list[float], list[float], list[float]]]:
    app = create_console_app(ws)
    mid = ws.registry.events_page("bench", limit=1)[0].id // 2
    run = ws.monitoring_results.runs("bench", limit=1)[0].id
    vpages = -(-ws.registry.versions_page("bench", limit=1)[1] // 20)  # the last page, rounded up
    wpages = -(-ws.monitoring_results.runs_page("bench", limit=0)[1] // 20)
    pages = {
        "models": "/ui",
        "model": "/ui/models/bench",
        "model, last page of versions": f"/ui/models/bench?versions={vpages}",
        "model, last page of windows": f"/ui/models/bench?windows={wpages}",
        "model, older timeline": f"/ui/models/bench?before={mid}",
        "window report": f"/ui/models/bench/windows/{run}",
        "datasets": "/ui/datasets",
        "dataset, v1 vs v20 diff": "/ui/datasets/bench?a=1&b=20",
    }
    out = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        for name, path in pages.items():
            server, wall, cpu = [], [], []
            for i in range(repeat + 1):
                started, cpu0 = time.perf_counter(), time.process_time()
                answer = await client.get(path)
                elapsed = (time.perf_counter() - started) * 1000
                used = (time.process_time() - cpu0) * 1000
                assert answer.status_code == 200, (path, answer.status_code, answer.text[:500])
                timing = answer.headers["server-timing"]
                if i:  # the first is the warm-up (template compiled, caches filled)
                    server.append(float(timing.split("dur=")[1]))
                    wall.append(elapsed)
                    cpu.append(used)
            out.append((f"{name} ({path})", server, wall, cpu))
    return out


def _p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--windows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument(
        "--store", type=Path, help="Fill the store in this directory and keep it; measure it again if filled."
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        if args.store is not None and (args.store / "modelward.yaml").exists():
            ws = Workspace.open(args.store)
            print(f"the store filled before in {args.store} (SQLite, {sys.platform}, {os.cpu_count()} cores)")
        else:
            ws = build(args.store or Path(tmp), args.versions, args.windows)
            print(
                f"store filled in {time.perf_counter() - t0:.0f} s (SQLite, {sys.platform}, {os.cpu_count()} cores)"
            )
        for what, n in _sizes(ws).items():
            print(f"  {what:24} {n:>9,}")
        cpu0 = time.process_time()
        t1 = time.perf_counter()
        results = asyncio.run(measure(ws, args.repeat))
        wall_all, cpu_all = time.perf_counter() - t1, time.process_time() - cpu0
        print(
            f"\nper page, {args.repeat} requests after one warm-up; milliseconds (budget {BUDGET_MS:.0f} ms server time; CPU: this process, client included)"
        )
        print(
            f"{'page':70} {'server median':>13} {'p95':>7} {'max':>7} {'client median':>13} {'CPU median':>10}  verdict"
        )
        worst = 0.0
        for name, server, wall, cpu in results:
            worst = max(worst, max(server))
            verdict = "ok" if _p95(server) < BUDGET_MS else "OVER BUDGET"
            print(
                f"{name[:70]:70} {statistics.median(server):13.1f} {_p95(server):7.1f} {max(server):7.1f} "
                f"{statistics.median(wall):13.1f} {statistics.median(cpu):10.1f}  {verdict}"
            )
        load = os.getloadavg()
        print(
            f"\nworst single page: {worst:.1f} ms; measuring took {wall_all:.1f} s wall, {cpu_all:.1f} s CPU; "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        )
        ws.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
