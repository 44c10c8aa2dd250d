"""Drift detection benchmark: modelward vs Evidently, NannyML and a plain scipy loop, in one run.

    .venv/bin/python benchmarks/drift.py                       # 10k, 100k, 1M rows + 1M x 100 columns
    .venv/bin/python benchmarks/drift.py --sizes 10k,100k --repeat 3
    .venv/bin/python benchmarks/drift.py --skip-peers           # modelward and scipy only

Data: for every size, a seeded reference and current frame of equal length with 15 numeric and 5
categorical (string) columns, of which exactly ``num_00``, ``num_01``, ``num_02`` and ``cat_0`` are
shifted; at 1M rows also a 100-column variant (75 numeric + 25 categorical, same 4 shifted columns) that
only modelward and scipy run. Each frame is generated once and written to Parquet in a temporary directory.

Every tool runs in a fresh subprocess of its own python (modelward: this venv; Evidently 0.7.23 and
NannyML 0.13.1: virtualenvs built by ``benchmarks/_peers.py``; scipy: this venv). The subprocess imports
its library and reads both Parquet files, then measures only the in-process computation:

- modelward: ``Profile.fit(reference)`` + ``profile.compare(current)`` with default settings (KS /
  chi-square with Benjamini-Hochberg and a minimum effect size, data-quality checks and per-feature
  distribution summaries included). ``fit+compare`` is the headline figure (peers get no reuse);
  ``compare`` alone (the profile already fitted, as in production) is reported beside it.
- Evidently: ``Report([DataDriftPreset()]).run(current, reference)`` (defaults) and reading the
  per-column results from the snapshot.
- NannyML: ``UnivariateDriftCalculator(KS for numeric, chi2 for categorical, chunk_number=1)`` ``fit``
  on the reference + ``calculate`` on the current data (one chunk covering it) and reading the alerts.
- scipy: a loop of ``ks_2samp`` (numeric), ``chi2_contingency`` (categorical) and a 10-bin PSI per
  column; a column is flagged when p < 0.05 (no multiple-testing correction: the plain loop).

Before the measured run, each subprocess makes one untimed warm-up run on the first 2,000 rows, so
lazy imports inside a library are not counted as computation. Seconds come from
``time.perf_counter`` around that computation (median over ``--repeat`` fresh
subprocesses; Evidently at 1M runs once). Peak memory is the peak resident set size during the
computation minus the resident set size just before it: the kernel's high-water mark is reset
(``/proc/self/clear_refs`` = 5) after loading, ``gc.collect()`` and handing free heap/Arrow-pool memory
back to the OS (``malloc_trim``, ``release_unused``), then read back with
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` afterwards (falls back to the plain ``ru_maxrss`` delta
when the reset is not allowed). This counts numpy/pandas/arrow buffers, which ``tracemalloc`` misses.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SHIFTED = ["num_00", "num_01", "num_02", "cat_0"]
EVIDENTLY_REQ = ["evidently==0.7.23", "pandas<3"]
NANNYML_REQ = ["nannyml==0.13.1", "statsmodels"]
TOOLS = ("modelward", "scipy", "nannyml", "evidently")
PEERS = ("nannyml", "evidently")
SEED = 20261122
ALPHA = 0.05


# ---------------------------------------------------------------------------------------------------
# data


def parse_size(text: str) -> int:
    text = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def size_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1_000}k" if n % 1_000 == 0 else str(n)


def make_frame(n: int, n_numeric: int, n_categorical: int, shifted: bool, seed: int) -> Any:
    """One seeded frame; ``shifted=True`` moves num_00 (+0.15 sd), num_01 (sd x1.5), num_02 (x1.3 on a
    log-normal) and cat_0 (probabilities mixed toward the reverse order). Other columns are drawn from
    the same distributions in both frames."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    for i in range(n_numeric):
        name = f"num_{i:02d}"
        kind = i % 6
        if name == "num_00":
            x = rng.normal(10.0, 2.0, n) + (0.3 if shifted else 0.0)
        elif name == "num_01":
            x = rng.normal(0.0, 1.5 if shifted else 1.0, n)
        elif name == "num_02":
            x = rng.lognormal(0.0, 0.5, n) * (1.3 if shifted else 1.0)
        elif kind == 0:
            x = rng.normal(i, 1.0 + i % 3, n)
        elif kind == 1:
            x = rng.lognormal(0.0, 0.75, n)
        elif kind == 2:
            x = rng.uniform(-1.0, 1.0, n)
        elif kind == 3:
            x = rng.exponential(2.0, n)
        elif kind == 4:
            x = rng.poisson(4.0, n).astype(np.float64)  # many ties
        else:
            x = rng.gamma(2.0, 1.5, n)
        cols[name] = x
    for j in range(n_categorical):
        k = (3, 5, 8, 20, 50)[j % 5]
        p = 1.0 / np.arange(1, k + 1) ** 0.8
        p /= p.sum()
        if shifted and j == 0:
            p = 0.55 * p + 0.45 * p[::-1]
        labels = np.array([f"c{j}_{v:02d}" for v in range(k)])
        cols[f"cat_{j}"] = pd.array(labels[rng.choice(k, n, p=p)], dtype="str")
    return pd.DataFrame(cols)


def write_case(root: Path, n: int, n_numeric: int, n_categorical: int, tag: str) -> tuple[Path, Path, int]:
    """Write reference and current Parquet files; returns their paths and the frames' bytes in memory."""
    ref_path, cur_path = root / f"{tag}-reference.parquet", root / f"{tag}-current.parquet"
    nbytes = 0
    for path, shifted, offset in ((ref_path, False, 0), (cur_path, True, 1)):
        frame = make_frame(n, n_numeric, n_categorical, shifted, SEED + 7919 * offset + n_numeric + n)
        nbytes += int(frame.memory_usage(deep=True, index=False).sum())
        frame.to_parquet(path, index=False)
        del frame
        gc.collect()
    return ref_path, cur_path, nbytes


# ---------------------------------------------------------------------------------------------------
# workers (run inside the tool's own python; import only what that venv has)


def _rss_kib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _release_free_memory() -> None:
    """Hand memory that is free but still mapped back to the OS (glibc heap, Arrow's pool), so that
    the RSS before the computation is tight and reused free memory is not missed by the delta."""
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):
        pass
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _start_measure() -> tuple[int, str]:
    gc.collect()
    _release_free_memory()
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        method = "VmHWM reset via /proc/self/clear_refs, then ru_maxrss - VmRSS before"
    except OSError:
        method = "ru_maxrss after - max(ru_maxrss, VmRSS) before (no reset available)"
        return max(_rss_kib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss), method
    return _rss_kib(), method


def _run_modelward(ref: Any, cur: Any) -> dict[str, Any]:
    from modelward.monitoring import Profile

    t0 = time.perf_counter()
    profile = Profile.fit(ref)
    t1 = time.perf_counter()
    report = profile.compare(cur)
    t2 = time.perf_counter()
    return {
        "seconds": t2 - t0,
        "fit_seconds": t1 - t0,
        "compare_seconds": t2 - t1,
        "flagged": list(report.drifted_features),
        "dataset_drift": bool(report.dataset_drift),
    }


def _run_scipy(ref: Any, cur: Any) -> dict[str, Any]:
    import numpy as np
    import pandas as pd
    from scipy import stats

    t0 = time.perf_counter()
    flagged, psi_values = [], {}
    for name in ref.columns:
        r, c = ref[name], cur[name]
        if pd.api.types.is_numeric_dtype(r.dtype):
            rv, cv = r.to_numpy(dtype=np.float64), c.to_numpy(dtype=np.float64)
            p = float(stats.ks_2samp(rv, cv).pvalue)
            edges = np.unique(np.quantile(rv, np.linspace(0, 1, 11)[1:-1]))
            rc = np.bincount(np.searchsorted(edges, rv, side="right"), minlength=edges.size + 1)
            cc = np.bincount(np.searchsorted(edges, cv, side="right"), minlength=edges.size + 1)
        else:
            counts = pd.concat([r.value_counts(), c.value_counts()], axis=1).fillna(0)
            rc, cc = counts.iloc[:, 0].to_numpy(), counts.iloc[:, 1].to_numpy()
            p = float(stats.chi2_contingency(np.vstack([rc, cc])).pvalue)
        rs = np.clip(rc / rc.sum(), 1e-4, None)
        cs = np.clip(cc / cc.sum(), 1e-4, None)
        psi_values[name] = float(np.sum((cs - rs) * np.log(cs / rs)))
        if p < ALPHA:
            flagged.append(name)
    return {"seconds": time.perf_counter() - t0, "flagged": flagged}


def _run_evidently(ref: Any, cur: Any) -> dict[str, Any]:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    t0 = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(cur, ref)
    doc = snapshot.dict()
    flagged = []
    for metric in doc["metrics"]:
        cfg = metric.get("config", {})
        if not str(cfg.get("type", "")).endswith("ValueDrift"):
            continue
        value, threshold = float(metric["value"]), float(cfg["threshold"])
        is_p_value = "p_value" in str(cfg.get("method", "")).lower()
        if (value < threshold) if is_p_value else (value >= threshold):
            flagged.append(cfg["column"])
    methods = sorted({str(m.get("config", {}).get("method")) for m in doc["metrics"]} - {"None"})
    return {"seconds": time.perf_counter() - t0, "flagged": flagged, "methods": methods}


def _run_nannyml(ref: Any, cur: Any) -> dict[str, Any]:
    import nannyml as nml

    categorical = [c for c in ref.columns if not str(ref[c].dtype).startswith(("float", "int"))]
    t0 = time.perf_counter()
    calc = nml.UnivariateDriftCalculator(
        column_names=list(ref.columns),
        treat_as_categorical=categorical,
        continuous_methods=["kolmogorov_smirnov"],
        categorical_methods=["chi2"],
        chunk_number=1,
    )
    calc.fit(ref)
    t1 = time.perf_counter()
    frame = calc.calculate(cur).filter(period="analysis").to_df()
    flagged = [
        col
        for col in ref.columns
        for method in ("kolmogorov_smirnov", "chi2")
        if (col, method, "alert") in frame.columns and bool(frame[(col, method, "alert")].iloc[0])
    ]
    t2 = time.perf_counter()
    return {"seconds": t2 - t0, "fit_seconds": t1 - t0, "compare_seconds": t2 - t1, "flagged": flagged}


RUNNERS = {
    "modelward": _run_modelward,
    "scipy": _run_scipy,
    "evidently": _run_evidently,
    "nannyml": _run_nannyml,
}


def worker(tool: str, ref_path: str, cur_path: str, out_path: str) -> None:
    """Entry point of the subprocess: load, then measure only the computation."""
    warnings.filterwarnings("ignore")
    import pandas as pd

    runner = RUNNERS[tool]
    if tool == "modelward":
        import modelward.monitoring  # noqa: F401  (import cost not timed)
    elif tool == "evidently":
        import evidently.presets  # noqa: F401
    elif tool == "nannyml":
        import nannyml  # noqa: F401
    else:
        import scipy.stats  # noqa: F401
    ref, cur = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
    # Untimed warm-up on the first 2,000 rows: lazy imports inside the libraries (Evidently pulls in
    # plotly and its legacy metrics on first use) are import cost, not computation.
    runner(ref.head(2000).copy(), cur.head(2000).copy())
    frames_bytes = int(
        ref.memory_usage(deep=True, index=False).sum() + cur.memory_usage(deep=True, index=False).sum()
    )
    before_kib, method = _start_measure()
    cpu0 = time.process_time()
    result = runner(ref, cur)
    cpu = time.process_time() - cpu0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result.update(
        cpu_seconds=cpu,
        peak_mib=max(peak_kib - before_kib, 0) / 1024,
        rss_before_mib=before_kib / 1024,
        memory_method=method,
        frames_mib=frames_bytes / 2**20,
        pandas=pd.__version__,
    )
    Path(out_path).write_text(json.dumps(result))


# ---------------------------------------------------------------------------------------------------
# orchestration


def tool_python(tool: str) -> str:
    if tool == "evidently":
        from _peers import peer_python

        return str(peer_python("evidently", EVIDENTLY_REQ))
    if tool == "nannyml":
        from _peers import peer_python

        return str(peer_python("nannyml", NANNYML_REQ))
    return sys.executable


def run_tool(tool: str, python: str, ref: Path, cur: Path, workdir: Path) -> dict[str, Any]:
    out = workdir / f"result-{tool}.json"
    out.unlink(missing_ok=True)
    env = {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1", "DO_NOT_TRACK": "1", "PYTHONWARNINGS": "ignore"}
    load = os.getloadavg()[0]
    proc = subprocess.run(
        [python, str(Path(__file__).resolve()), "--worker", tool, str(ref), str(cur), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr or proc.stdout)[-2000:]
        return {"error": f"exit {proc.returncode}: {tail}"}
    result: dict[str, Any] = json.loads(out.read_text())
    result["load_before"] = load
    return result


def summarise_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    failed = [r for r in runs if "error" in r]
    if failed:
        return failed[0]
    out = dict(runs[0])
    for key in ("seconds", "fit_seconds", "compare_seconds", "cpu_seconds", "peak_mib"):
        if key in out:
            out[key] = statistics.median(r[key] for r in runs)
    out["runs_seconds"] = [r["seconds"] for r in runs]
    out["load_before"] = [r["load_before"] for r in runs]
    return out


def fmt_table(results: list[dict[str, Any]]) -> str:
    head = (
        "| data | input MiB | tool | seconds (fit + compare) | CPU s | peak MiB | flagged | exactly the "
        "4 shifted? | ratio to modelward fit+compare | ratio of compare steps (peer without one: total) |"
    )
    lines = [head, "|---|---:|---|---:|---:|---:|---:|:--:|---:|---:|"]
    for case in results:
        mw = case["tools"].get("modelward", {})
        base = mw.get("seconds")
        base_cmp = mw.get("compare_seconds")
        for tool in TOOLS:
            r = case["tools"].get(tool)
            if r is None:
                continue
            label = f"{case['label']} x {case['columns']}"
            if "error" in r:
                lines.append(f"| {label} | {case['input_mib']:.0f} | {tool} | error | | | | | | |")
                continue
            flagged = r["flagged"]
            exact = "yes" if sorted(flagged) == sorted(SHIFTED) else "no"
            secs = f"{r['seconds']:.3f}"
            if "fit_seconds" in r:
                secs += f" ({r['fit_seconds']:.3f} + {r['compare_seconds']:.3f})"
            if tool == "modelward" or not base:
                ratio, ratio_cmp = "1", "1"
            else:
                ratio = f"{r['seconds'] / base:.1f}x"
                # a peer with a fit/calculate split is compared like with like: its calculate vs our compare
                mine = r.get("compare_seconds", r["seconds"])
                ratio_cmp = f"{mine / base_cmp:.1f}x" if base_cmp else "-"
            lines.append(
                f"| {label} | {case['input_mib']:.0f} | {tool} | {secs} | {r['cpu_seconds']:.2f} "
                f"| {r['peak_mib']:.0f} | {len(flagged)} | {exact} | {ratio} | {ratio_cmp} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="10k,100k,1m", help="rows per frame, comma-separated (default 10k,100k,1m)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="fresh-subprocess runs per tool; the median is shown"
    )
    parser.add_argument("--skip-peers", action="store_true", help="run modelward and scipy only")
    parser.add_argument("--tools", default=",".join(TOOLS), help="subset of tools to run")
    parser.add_argument("--no-wide", action="store_true", help="skip the 1M x 100 columns case")
    parser.add_argument("--wide-rows", default="1m", help="rows of the 100-column case (default 1m)")
    parser.add_argument("--worker", nargs=4, metavar=("TOOL", "REF", "CUR", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0

    sys.path.insert(0, str(HERE))
    tools = [t for t in args.tools.split(",") if t in TOOLS and not (args.skip_peers and t in PEERS)]
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    cases = [(n, 15, 5) for n in sizes]
    if not args.no_wide and any(n >= 1_000_000 for n in sizes):
        cases.append((parse_size(args.wide_rows), 75, 25))
    pythons = {t: tool_python(t) for t in tools}
    started = dt.datetime.now(dt.UTC)
    meta = {
        "started": started.isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "repeat": args.repeat,
        "load_at_start": os.getloadavg(),
        "shifted": SHIFTED,
        "alpha_scipy": ALPHA,
    }
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="modelward-drift-bench-") as tmp:
        root = Path(tmp)
        for n, n_num, n_cat in cases:
            label = size_label(n)
            ref, cur, nbytes = write_case(root, n, n_num, n_cat, f"{label}-{n_num + n_cat}")
            case: dict[str, Any] = {
                "rows": n,
                "label": label,
                "columns": n_num + n_cat,
                "input_mib": nbytes / 2**20,
                "tools": {},
            }
            wide = n_num + n_cat > 20
            for tool in tools:
                if wide and tool in PEERS:
                    continue
                repeat = 1 if (tool == "evidently" and n >= 1_000_000) else args.repeat
                runs = [run_tool(tool, pythons[tool], ref, cur, root) for _ in range(max(repeat, 1))]
                res = summarise_runs(runs)
                case["tools"][tool] = res
                shown = res.get("error") or (
                    f"{res['seconds']:.3f} s, peak {res['peak_mib']:.0f} MiB, "
                    f"flagged {len(res['flagged'])}: {', '.join(res['flagged'])}"
                )
                print(f"[{label} x {n_num + n_cat}] {tool}: {shown}", file=sys.stderr, flush=True)
            results.append(case)
            ref.unlink()
            cur.unlink()
    meta["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    meta["load_at_end"] = os.getloadavg()
    table = fmt_table(results)
    print(
        f"\nDrift benchmark, {meta['started']} .. {meta['finished']}, {meta['cpus']} CPUs, "
        f"load avg at start {meta['load_at_start'][0]:.1f}, at end {meta['load_at_end'][0]:.1f}; "
        f"shifted columns: {', '.join(SHIFTED)}\n"
    )
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"drift-{stamp}.json").write_text(json.dumps({"meta": meta, "cases": results}, indent=2))
    (RESULTS / f"drift-{stamp}.md").write_text(table + "\n")
    print(f"\nsaved {RESULTS / f'drift-{stamp}.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
