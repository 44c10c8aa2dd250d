"""Before/after identity: ``modelward drift --json`` and ``modelward monitor --json`` of two source trees
on the benchmarks' data, compared field by field with the timing fields left out.

    git archive <commit-before> | tar -x -C /tmp/mw-before
    .venv/bin/python benchmarks/identity.py --before /tmp/mw-before/src            # this tree is "after"
    .venv/bin/python benchmarks/identity.py --before /tmp/mw-before/src --rows 20000 --sizes 10k

Each tree runs as ``python -m modelward`` with ``PYTHONPATH=<tree>`` (same interpreter and packages).

* ``drift``: the frames of ``benchmarks/drift.py`` (15 numeric + 5 string columns, four of them shifted),
  plus derived model-output columns (a score, two class scores, a class label and a target), under
  several option sets: defaults; ``--target`` + ``--prediction``; class scores with ``--method psi
  --correction bonferroni --important``; a current file without the target column. Compared: the whole
  JSON except ``metadata.seconds``.
* ``monitor``: the workspace of ``benchmarks/monitor.py`` (built once with the *before* tree: a trained
  classifier, ``--rows`` logged predictions, 30% labeled), copied once per tree. In each copy: ``monitor
  --once`` with a count window of all rows, then with 1h time windows, then more feedback is stored and
  ``--once`` runs again (the relabel path); once with the reference the before tree stored, once with
  every reference rebuilt by the tree itself. Compared: the ``--json`` files except ``timings``, the
  ``--html`` pages, the stored metrics (``monitoring_metrics``) and the Prometheus textfile without its
  run timestamp. The stored reports are compared too and every difference is printed (expected: the
  output-drift blocks record ``drift_share`` 1.0 and the configured correction, and carry their
  ``task``).

With ``--leave-out-additions``, what later issues *added* to these outputs (each listed in
:data:`ADDITIONS` with the issue it came from) is removed from both sides before comparing, so a
before tree from the reshape (issue 9) can still be compared with today's: every other byte must match.

Exit status 0 when every compared output is identical.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

FEEDBACK_SCRIPT = r"""
import sys
from modelward import Workspace
from modelward.predlog import FeedbackItem, PredictionLog
try:
    from modelward.predlog import read_window
except ImportError:  # a tree from before the reshape (issue 9) kept it private
    from modelward.predlog._read import read_window
ws = Workspace.open(sys.argv[1])
window = read_window(ws.store, "bench")
unlabeled = [i for i, flag in zip(window.ids, window.labeled) if not flag][::7]
items = [FeedbackItem(str(pid), int(k % 2)) for k, pid in enumerate(unlabeled)]
plog = PredictionLog(ws.store, spool_dir=ws.root / ".modelward" / "spool-identity")
plog.start()
for k in range(0, len(items), 5000):
    plog.add_feedback(items[k:k + 5000])
plog.close(); ws.close()
print(len(items))
"""


# Outputs added after the reshape (issue 9), left out with --leave-out-additions: (what, issue).
ADDITIONS = {
    "html_sections": (
        ("<h2>Attribution drift</h2>", "issue 13: attribution drift, a section of the report"),
    ),
    "gauge_prefixes": (
        ("modelward_monitor_quality_findings", "issue 12: every data-quality check exported, from zero"),
        ("modelward_monitor_fairness_", "issue 13: fairness gauges (families declared even with no column)"),
        ("modelward_monitor_attribution_", "issue 13: attribution drift gauges"),
    ),
    "report_keys": (("attribution_drift", "issue 13: attribution drift, stored with each window"),),
}


def leave_out_additions(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` (one monitor pass) without the outputs of :data:`ADDITIONS`."""
    out = dict(result)
    page = out.get("html")
    for marker, _why in ADDITIONS["html_sections"]:
        while page is not None and marker in page:
            start = page.index(marker)
            end = page.find("<h2>", start + len(marker))
            page = page[:start] + (page[end:] if end >= 0 else "")
    out["html"] = page
    prefixes = tuple(prefix for prefix, _why in ADDITIONS["gauge_prefixes"])
    out["prom"] = [
        line
        for line in out["prom"]
        if not line.removeprefix("# HELP ").removeprefix("# TYPE ").startswith(prefixes)
    ]
    return out


def run(tree: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=3600, check=False
    )
    if done.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(args)} failed under {tree}:\n{done.stderr[-3000:]}")
    return done


def which(tree: Path, cwd: Path) -> str:
    return run(tree, "-c", "import modelward; print(modelward.__file__)", cwd=cwd).stdout.strip()


def strip(value: Any, keys: set[str]) -> Any:
    """``value`` without the dict entries named in ``keys``, at any depth."""
    if isinstance(value, dict):
        return {k: strip(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [strip(v, keys) for v in value]
    return value


def diff(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}.{k}: only {'before' if k in a else 'after'}" for k in sorted(set(a) ^ set(b))]
        for k in a:
            if k in b:
                out += diff(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {json.dumps(a)[:160]} != {json.dumps(b)[:160]}"]


def _lines(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


class Checks:
    def __init__(self) -> None:
        self.failed: list[str] = []
        self.count = 0

    def same(self, label: str, before: Any, after: Any) -> None:
        self.count += 1
        found = diff(before, after)
        if found and _lines(before) and _lines(after):  # a text output (the textfile): lines of one side only
            found = [f"only before: {x}" for x in before if x not in after]
            found += [f"only after:  {x}" for x in after if x not in before]
        print(f"  {'identical' if not found else 'DIFFERENT'}: {label}")
        for line in found[:20]:
            print(f"      {line}")
        if found:
            self.failed.append(label)


# -- drift ---------------------------------------------------------------------------------------


def drift_files(folder: Path, n: int) -> tuple[Path, Path, Path]:
    import numpy as np
    from drift import make_frame

    paths = []
    for tag, shifted, seed in (("reference", False, 1), ("current", True, 2)):
        frame = make_frame(n, 15, 5, shifted, seed)
        rng = np.random.default_rng(seed + 10)
        logit = 0.4 * (frame["num_00"] - 10) + 0.8 * frame["num_01"] - 0.3
        score = 1 / (1 + np.exp(-logit.to_numpy()))
        frame["score"] = score
        frame["p_no"], frame["p_yes"] = 1 - score, score
        frame["pred"] = np.where(score > 0.5, "yes", "no")
        frame["churned"] = (rng.uniform(size=n) < score).astype(int)
        path = folder / f"{tag}-{n}.parquet"
        frame.to_parquet(path)
        paths.append(path)
    unlabeled = folder / f"current-{n}-unlabeled.csv"
    import pandas as pd

    pd.read_parquet(paths[1]).drop(columns=["churned"]).to_csv(unlabeled, index=False)
    return paths[0], paths[1], unlabeled


DRIFT_CASES = {
    "defaults": [],
    "--target churned --prediction score": ["--target", "churned", "--prediction", "score"],
    "class scores, psi, bonferroni, --important": [
        "--prediction",
        "p_no",
        "--prediction",
        "p_yes",
        "--target",
        "churned",
        "--method",
        "psi",
        "--correction",
        "bonferroni",
        "--important",
        "num_03",
        "--alpha",
        "0.01",
        "--no-multivariate",
    ],
    "class label, --task classification, --min-effect": [
        "--prediction",
        "pred",
        "--task",
        "classification",
        "--target",
        "churned",
        "--min-effect",
        "0.1",
        "--drift-share",
        "0.2",
        "--multivariate-rows",
        "3000",
        "--seed",
        "3",
        "--column-kind",
        "num_04=categorical",
        "--ignore",
        "num_05",
    ],
}


def check_drift(before: Path, after: Path, folder: Path, sizes: list[int], checks: Checks) -> None:
    for n in sizes:
        ref, cur, unlabeled = drift_files(folder, n)
        cases = {
            **{k: (cur, v) for k, v in DRIFT_CASES.items()},
            "current without the target column": (
                unlabeled,
                ["--target", "churned", "--prediction", "score"],
            ),
        }
        for label, (current, extra) in cases.items():
            docs = []
            for tree in (before, after):
                out = run(
                    tree,
                    "-m",
                    "modelward",
                    "drift",
                    str(ref),
                    str(current),
                    "--json",
                    "-",
                    *extra,
                    cwd=folder,
                )
                docs.append(strip(json.loads(out.stdout), {"seconds"}))
            checks.same(f"drift --json, {n:,} rows, {label}", *docs)


# -- monitor -------------------------------------------------------------------------------------


def sqlite_rows(ws: Path, query: str) -> list[Any]:
    with sqlite3.connect(ws / ".modelward" / "modelward.db") as conn:
        return [list(r) for r in conn.execute(query)]


def reset(ws: Path, references: bool) -> None:
    with sqlite3.connect(ws / ".modelward" / "modelward.db") as conn:
        conn.execute("DELETE FROM monitoring_metrics")
        conn.execute("DELETE FROM monitoring_runs")
        if references:
            conn.execute("DELETE FROM monitoring_references")


def monitor_pass(tree: Path, ws: Path, out: Path, tag: str, window: str) -> dict[str, Any]:
    js, page, prom = out / f"{tag}.json", out / f"{tag}.html", out / f"{tag}.prom"
    run(
        tree,
        "-m",
        "modelward",
        "monitor",
        "bench",
        "--once",
        "--window",
        window,
        "--json",
        str(js),
        "--html",
        str(page),
        "--textfile",
        str(prom),
        "-w",
        str(ws),
        cwd=out,
    )
    prom_lines = [line for line in prom.read_text().splitlines() if "last_run_timestamp" not in line]
    return {
        "json": strip(json.loads(js.read_text()), {"timings"}),
        "html": page.read_text() if page.exists() else None,
        "prom": prom_lines,
    }


def monitor_state(ws: Path) -> dict[str, Any]:
    metrics = sqlite_rows(
        ws,
        "SELECT r.window_spec, r.start_ts, r.start_id, m.kind, m.name, m.feature, m.value, "
        "m.lower, m.upper, m.n, m.method FROM monitoring_metrics m JOIN monitoring_runs r "
        "ON r.id = m.run_id ORDER BY r.window_spec, r.start_ts, r.start_id, m.id",
    )
    runs = sqlite_rows(
        ws,
        "SELECT window_spec, start_ts, start_id, end_ts, end_id, n_rows, n_labeled, "
        "dataset_drift, drifted_share, report FROM monitoring_runs ORDER BY window_spec, start_ts",
    )
    reports = [strip(json.loads(r.pop()), {"timings", "labels_as_of"}) for r in runs]
    return {"metrics": metrics, "runs": runs, "reports": reports}


def check_monitor(
    before: Path, after: Path, ws: Path, folder: Path, checks: Checks, additions: bool = False
) -> None:
    rows = sqlite_rows(ws, "SELECT count(*) FROM predictions WHERE model = 'bench'")[0][0]
    for rebuilt in (False, True):
        what = "references rebuilt by each tree" if rebuilt else "the reference stored by the before tree"
        print(f"monitor, {rows:,} logged predictions, {what}:")
        results: dict[str, dict[str, Any]] = {}
        for name, tree in (("before", before), ("after", after)):
            copy = folder / f"ws-{name}-{int(rebuilt)}"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(ws, copy, ignore=shutil.ignore_patterns("spool*"))
            reset(copy, references=rebuilt)
            out = folder / f"out-{name}-{int(rebuilt)}"
            out.mkdir(exist_ok=True)
            res = {
                "count": monitor_pass(tree, copy, out, "count", str(rows)),
                "time": monitor_pass(tree, copy, out, "time", "1h"),
            }
            # The same feedback in both copies, each stored by its own tree (a newer tree would migrate the
            # database past what the older one can open).
            run(tree, "-c", FEEDBACK_SCRIPT, str(copy), cwd=out)
            res["relabel"] = monitor_pass(tree, copy, out, "relabel", "1h")
            res["state"] = monitor_state(copy)
            if additions:
                for step in ("count", "time", "relabel"):
                    res[step] = leave_out_additions(res[step])
                keys = {key for key, _why in ADDITIONS["report_keys"]}
                res["state"]["reports"] = [strip(r, keys) for r in res["state"]["reports"]]
            results[name] = res
        b, a = results["before"], results["after"]
        print(
            "  "
            + "; ".join(
                f"{step} pass: {len(a[step]['json']['windows'])} windows, "
                f"{len(a[step]['json']['relabeled'])} relabeled"
                for step in ("count", "time", "relabel")
            )
        )
        for step in ("count", "time", "relabel"):
            checks.same(f"monitor --json ({step} pass)", b[step]["json"], a[step]["json"])
            checks.same(f"monitor --html ({step} pass)", b[step]["html"], a[step]["html"])
            checks.same(
                f"monitor --textfile ({step} pass, run timestamp left out)", b[step]["prom"], a[step]["prom"]
            )
        checks.same("stored metrics (monitoring_metrics)", b["state"]["metrics"], a["state"]["metrics"])
        checks.same("stored runs (monitoring_runs columns)", b["state"]["runs"], a["state"]["runs"])
        found = diff(b["state"]["reports"], a["state"]["reports"])
        kinds = sorted({line.split(":")[0].split("]", 1)[-1].replace("[", "").strip(".") for line in found})
        print(
            f"  stored reports: {len(found)} differing values (expected: output-drift settings and task); "
            f"where: {kinds[:12]}"
        )
        for line in found[:6]:
            print(f"      {line}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--before", type=Path, required=True, help="src directory of the tree before the change"
    )
    parser.add_argument(
        "--after", type=Path, default=ROOT / "src", help="src directory after (default: this tree)"
    )
    parser.add_argument("--sizes", default="10k,100k", help="rows of the drift frames (comma-separated)")
    parser.add_argument(
        "--rows", type=int, default=100_000, help="logged predictions of the monitor workspace"
    )
    parser.add_argument(
        "--workspace", type=Path, help="the monitor benchmark's workspace (built when missing)"
    )
    parser.add_argument(
        "--leave-out-additions",
        action="store_true",
        help="remove what later issues added to the outputs (ADDITIONS) from both sides before comparing",
    )
    args = parser.parse_args()
    if args.leave_out_additions:
        print("left out of both sides (added after the reshape):")
        for kind in ADDITIONS.values():
            for what, why in kind:
                print(f"  {what}: {why}")
    from drift import parse_size

    checks = Checks()
    with tempfile.TemporaryDirectory(prefix="modelward-identity-") as tmp:
        folder = Path(tmp)
        before, after = args.before.resolve(), args.after.resolve()
        print(f"before: {which(before, folder)}\nafter:  {which(after, folder)}")
        print("drift:")
        check_drift(before, after, folder, [parse_size(s) for s in args.sizes.split(",")], checks)
        ws = args.workspace or folder / "bench-ws"
        if not (ws / "modelward.yaml").exists():
            run(
                before,
                str(before.parent / "benchmarks" / "monitor.py"),
                "--rows",
                str(args.rows),
                "--repeat",
                "1",
                "--workspace",
                str(ws),
                cwd=folder,
            )
        check_monitor(before, after, ws, folder, checks, additions=args.leave_out_additions)
    print(
        f"\n{checks.count - len(checks.failed)} of {checks.count} compared outputs identical"
        + (f"; different: {', '.join(checks.failed)}" if checks.failed else "")
    )
    return 1 if checks.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
