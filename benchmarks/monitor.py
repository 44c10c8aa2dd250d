"""Monitor benchmark: one window of 100,000 logged predictions processed end to end, split by stage.

    .venv/bin/python benchmarks/monitor.py                  # 100k rows, 20 features, 3 repeats
    .venv/bin/python benchmarks/monitor.py --rows 20000 --repeat 1

Setup (untimed except where printed): a SQLite workspace in a temporary directory (PostgreSQL with
``--postgres URL``); a seeded dataset of 20,000 rows (15 numeric + 5 categorical features, binary target)
registered as a dataset version; a
LogisticRegression pipeline trained on it with ``Workspace.train`` (lineage recorded); ``--rows``
predictions of that model (2 numeric features shifted, so the window drifts) written through the real
``PredictionLog`` writer, the way the server logs them; feedback for 30% of them.

Measured: ``Monitor(ws, model, window=<rows> rows).run_once()`` — planning queries, bulk read and decode
of the window (features JSON → frame), drift + data quality on 20 features, prediction and label drift,
realized metrics on the labeled rows, the CBPE estimate on all rows, and storing the run and its metrics.
The reference (profile + model outputs on the holdout) is built once beforehand and timed separately; each
measured pass loads it from the artifact store like a fresh ``modelward monitor --once`` process does.
Between repeats the stored run is deleted so the same window is processed again. Prints the per-stage
seconds of each repeat, the median, the CPU seconds of this process and the load average (the machine is
shared: wall time above CPU time means waiting for a core). Nothing is hard-coded.

``--peers``: the same window given to Evidently 0.7.23 (``DataDriftPreset``, defaults) and NannyML 0.13.1
(univariate KS + chi-square drift in one chunk, and CBPE fitted on the same holdout) in their own virtualenvs
(``benchmarks/_peers.py``, the venvs of ``benchmarks/drift.py``), from Parquet files: their seconds exclude
reading the log, which modelward's end-to-end figure includes. The ratio compares each with the matching
stages of modelward's pass.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from modelward import Workspace
from modelward.maintenance import Monitor, get_reference
from modelward.predlog import FeedbackItem, PredictionLog, PredictionRecord, new_prediction_id, parse_window
from modelward.store.schema import monitoring_metrics, monitoring_runs

CONFIG = """\
models:
  bench:
    task: classification
    target: y
    dataset: bench
    entrypoint: modelward.demo:train_logistic_regression
    params: {max_iter: 500}
"""
NUMERIC = [f"n{i:02d}" for i in range(15)]
CATEGORICAL = [f"c{i}" for i in range(5)]


EVIDENTLY_REQ = ["evidently==0.7.23", "pandas<3"]  # the same venvs as benchmarks/drift.py
NANNYML_REQ = ["nannyml==0.13.1", "statsmodels"]

PEER_SCRIPT = r"""
import json, os, sys, time, warnings
os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"; os.environ["DO_NOT_TRACK"] = "1"
warnings.filterwarnings("ignore")
import pandas as pd
tool, folder, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
reference = pd.read_parquet(os.path.join(folder, "reference.parquet"))   # training features
holdout = pd.read_parquet(os.path.join(folder, "holdout.parquet"))       # features, y, y_pred, proba
window = pd.read_parquet(os.path.join(folder, "window.parquet"))         # features, y_pred, proba
features = [c for c in reference.columns]
categorical = [c for c in features if not str(reference[c].dtype).startswith(("float", "int"))]

if tool == "evidently":
    from evidently import Report
    from evidently.presets import DataDriftPreset
    def run(ref, cur):
        t = time.perf_counter()
        Report([DataDriftPreset()]).run(cur[features], ref[features]).dict()
        return {"drift": time.perf_counter() - t}
else:
    import nannyml as nml
    def run(ref, cur):
        t = time.perf_counter()
        calc = nml.UnivariateDriftCalculator(column_names=features, treat_as_categorical=categorical,
            continuous_methods=["kolmogorov_smirnov"], categorical_methods=["chi2"], chunk_number=1)
        calc.fit(ref[features]); calc.calculate(cur[features]).to_df()
        drift = time.perf_counter() - t
        t = time.perf_counter()
        est = nml.CBPE(metrics=["roc_auc", "f1", "precision", "recall", "accuracy"], y_pred_proba="proba",
                       y_pred="y_pred", y_true="y", problem_type="classification_binary", chunk_number=1)
        est.fit(holdout); est.estimate(cur).to_df()
        return {"drift": drift, "cbpe": time.perf_counter() - t}

run(reference.head(2000), window.head(2000))   # warm-up: lazy imports inside the library, untimed
runs = [run(reference, window) for _ in range(repeat)]
print(json.dumps(runs))
"""


def run_peers(ws: Workspace, root: Path, args: argparse.Namespace) -> dict[str, list[dict[str, float]]]:
    """Evidently (DataDriftPreset, defaults) and NannyML (univariate drift + CBPE) on the same window, from
    Parquet files in their own virtualenvs; seconds measured inside the peer process, imports excluded."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _peers import peer_python

    from modelward.predlog import read_window
    from modelward.training import Lineage

    mv = ws.registry.get("bench")
    ref = get_reference(ws, mv).holdout
    folder = root / "peers"
    folder.mkdir(exist_ok=True)
    dataset = ws.datasets.load_snapshot(Lineage.of(mv).dataset.artifact)
    dataset[NUMERIC + CATEGORICAL].to_parquet(folder / "reference.parquet")
    holdout = ref.features.copy()
    holdout["y"], holdout["y_pred"] = ref.y, ref.y_pred
    assert ref.proba is not None
    holdout["proba"] = ref.proba[:, 1]
    holdout.to_parquet(folder / "holdout.parquet")
    win = read_window(ws.store, "bench", version=mv.version, limit=args.rows)
    current = win.features[NUMERIC + CATEGORICAL].copy()
    current["y_pred"] = win.prediction.astype(int)
    assert win.probabilities is not None
    current["proba"] = win.probabilities[:, 1]
    current.to_parquet(folder / "window.parquet")
    out: dict[str, list[dict[str, float]]] = {}
    for tool, req in (("nannyml", NANNYML_REQ), ("evidently", EVIDENTLY_REQ)):
        python = peer_python(tool, req)
        proc = subprocess.run(
            [str(python), "-c", PEER_SCRIPT, tool, str(folder), str(args.repeat)],
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if proc.returncode != 0:
            print(f"{tool} failed: {(proc.stderr or proc.stdout)[-1500:]}")
            continue
        out[tool] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def frame(n: int, seed: int, shift: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    for i, name in enumerate(NUMERIC):
        loc, scale = i * 3.0, 1.0 + i / 5
        values = rng.normal(loc, scale, n)
        if shift and i in (2, 7):
            values = values + 0.3 * scale
        cols[name] = values.round(4)
    for i, name in enumerate(CATEGORICAL):
        levels = [f"{name}_{k}" for k in range(4 + i)]
        cols[name] = rng.choice(levels, n)
    df = pd.DataFrame(cols)
    logit = df["n00"] / 1.0 - 0.5 * (df["n01"] - 3) / 1.2 + 0.8 * (df["c0"] == "c0_1") - 0.2
    df["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return df


def stage_table(runs: list[dict[str, float]]) -> None:
    stages = list(runs[0])
    print(
        f"{'stage':<24}" + "".join(f"{'run ' + str(i + 1):>10}" for i in range(len(runs))) + f"{'median':>10}"
    )
    for stage in stages:
        values = [r[stage] for r in runs]
        print(f"{stage:<24}" + "".join(f"{v:>10.3f}" for v in values) + f"{statistics.median(values):>10.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--cli", action="store_true", help="also time `modelward monitor --once` as a process"
    )
    parser.add_argument("--profile", type=Path, help="write a cProfile of the last measured pass here")
    parser.add_argument(
        "--peers",
        action="store_true",
        help="also run Evidently and NannyML on the same window (their own virtualenvs)",
    )
    parser.add_argument(
        "--workspace",
        type=Path,
        help="build the workspace here and keep it; reused (no new logging) when it exists",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="use this PostgreSQL server (a fresh schema, dropped afterwards) instead of SQLite, "
        "e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test",
    )
    args = parser.parse_args()
    if args.postgres:
        schema = f"mw_bench_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        args.database_url = f"{args.postgres}?options=-csearch_path%3D{schema}"
        try:
            run(args)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    else:
        args.database_url = None
        run(args)


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = args.workspace or Path(tmp) / "ws"
        if args.workspace is not None and (root / "modelward.yaml").exists():
            ws = Workspace.open(root, database_url=args.database_url)
            measure(ws, root, args)
            ws.close()
            return
        ws = Workspace.init(root, config=CONFIG, database_url=args.database_url)
        data = frame(20_000, seed=0)
        csv = Path(tmp) / "bench.csv"
        data.to_csv(csv, index=False)
        ws.datasets.add(csv, "bench")
        t = time.perf_counter()
        mv = ws.train("bench")
        print(f"trained {mv.ref} in {time.perf_counter() - t:.2f} s")
        model = ws.load_model(mv)

        window = frame(args.rows, seed=1, shift=True)
        x = window[NUMERIC + CATEGORICAL]
        t = time.perf_counter()
        pred = model.predict(x)
        proba = model.predict_proba(x)
        rows = x.to_dict(orient="records")
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        records = [
            PredictionRecord(
                new_prediction_id(),
                start + dt.timedelta(milliseconds=i),
                "bench",
                mv.version,
                None,
                None,
                rows[i],
                int(pred[i]),
                proba[i].tolist(),
                1.0,
            )
            for i in range(len(rows))
        ]
        plog = PredictionLog(ws.store, spool_dir=root / ".modelward" / "spool")
        plog.start()
        for k in range(0, len(records), 2000):
            plog.submit(records[k : k + 2000]).result(timeout=120)
        labeled = range(0, len(records), 10)
        items = [
            FeedbackItem(records[i].id, int(window["y"].iat[i])) for i in range(len(records)) if i % 10 < 3
        ]
        for k in range(0, len(items), 5000):
            plog.add_feedback(items[k : k + 5000])
        plog.close()
        del labeled
        print(
            f"logged {len(records)} predictions ({len(items)} labeled) through PredictionLog in "
            f"{time.perf_counter() - t:.1f} s"
        )

        t = time.perf_counter()
        get_reference(ws, mv)
        print(
            f"reference built once (profile of 20,000 rows + model outputs on the holdout): "
            f"{time.perf_counter() - t:.2f} s"
        )
        measure(ws, root, args)
        ws.close()


def measure(ws: Workspace, root: Path, args: argparse.Namespace) -> None:
    """Time ``--repeat`` passes over the same window (the stored run is deleted between them)."""
    spec = parse_window(args.rows)
    timings: list[dict[str, float]] = []
    for _ in range(args.repeat):
        with ws.store.write() as conn:
            conn.execute(monitoring_metrics.delete())
            conn.execute(monitoring_runs.delete())
        profiler = cProfile.Profile() if args.profile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        done = Monitor(ws, "bench", window=spec).run_once()
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert len(done.windows) == 1 and done.windows[0].report.n_rows == args.rows
        result = done.windows[0]
        timings.append(
            {
                **{k: v for k, v in result.timings.items() if k != "total"},
                "window total": result.timings["total"],
                "run_once wall": wall,
                "run_once cpu": cpu,
            }
        )
    summary = done.windows[0].summary()
    print(
        f"\nwindow of {args.rows:,} predictions x {len(NUMERIC) + len(CATEGORICAL)} features "
        f"({summary['n_labeled']:,} labeled): drifted features {summary['drifted_features']}, "
        f"estimated accuracy {summary['estimated']['accuracy']['value']:.4f}, "
        f"realized {summary['realized']['accuracy']['value']:.4f}"
    )
    print(
        f"database: {ws.store.dialect}; seconds per stage (load average now: {', '.join(f'{v:.2f}' for v in os.getloadavg())}; "
        f"{os.cpu_count()} cores)\n"
    )
    stage_table(timings)
    best = statistics.median(r["run_once wall"] for r in timings)
    print(
        f"\nend to end (run_once, median of {len(timings)}): {best:.2f} s  "
        f"({'under' if best < 5 else 'OVER'} the 5 s target)"
    )

    if args.peers:
        peers = run_peers(ws, root, args)
        analysis = statistics.median(
            sum(r[k] for k in ("drift_quality", "prediction_label_drift", "realized", "estimated"))
            for r in timings
        )
        drift = statistics.median(r["drift_quality"] for r in timings)
        print("\nthe same window, peers (in-process seconds, median; inputs already in memory, no database):")
        print(f"{'tool':<44}{'seconds':>10}{'modelward':>11}{'ratio':>8}")
        rows = [("modelward end to end (read from the log + all)", best, best)]
        for r in peers.get("nannyml", []) and [peers["nannyml"]]:
            nd = statistics.median(x["drift"] for x in r)
            nc = statistics.median(x["cbpe"] for x in r)
            rows += [
                ("NannyML univariate drift (KS + chi2)", nd, drift),
                ("NannyML univariate drift + CBPE", nd + nc, analysis),
            ]
        for r in peers.get("evidently", []) and [peers["evidently"]]:
            rows.append(("Evidently DataDriftPreset", statistics.median(x["drift"] for x in r), drift))
        for label, seconds, ours in rows:
            print(f"{label:<44}{seconds:>10.2f}{ours:>11.2f}{seconds / ours:>7.1f}x")
        print(
            "(modelward column: the comparable stages of our pass — drift+quality, or all checks; "
            "ratio = peer / modelward)"
        )

    if args.cli:
        with ws.store.write() as conn:
            conn.execute(monitoring_metrics.delete())
            conn.execute(monitoring_runs.delete())
        t = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "modelward",
                "monitor",
                "bench",
                "--once",
                "--window",
                str(args.rows),
                "-w",
                str(root),
                *(["--database-url", args.database_url] if args.database_url else []),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(
            f"`modelward monitor bench --once --window {args.rows}` as a process (imports included): "
            f"{time.perf_counter() - t:.2f} s"
        )
        with ws.store.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(monitoring_runs)).scalar() == 1


if __name__ == "__main__":
    main()
