"""The loop against its baselines on streams with a known concept drift: ``modelward backtest`` per stream and seed.

    .venv/bin/python benchmarks/loop.py                      # 4 streams x 10 seeds x 40k rows (long)
    .venv/bin/python benchmarks/loop.py --seeds 3            # fewer seeds
    .venv/bin/python benchmarks/loop.py --quick              # 1 seed, 8k rows, drift at 4k (smoke test)
    .venv/bin/python benchmarks/loop.py --json benchmarks/results/loop.json
    .venv/bin/python benchmarks/loop.py --merge benchmarks/results/loop/*.json   # the report of runs made apart

Issue 10, acceptance 3, and issue 11, acceptance 4. Streams (river 0.26), 40,000 rows, the drift at row 20,000, labels 500 rows late:

* ``agrawal-abrupt``: Agrawal classification function 0, then function 2 (river's ``ConceptDriftStream``
  overflows ``math.exp`` for a width under ~113 at 20,000 rows, so the abrupt case switches generators at the
  row itself, which is the ``width -> 0`` limit of the same stream);
* ``agrawal-gradual``: ``ConceptDriftStream(Agrawal(0), Agrawal(2), position=20000, width=5000)``;
* ``sea-abrupt``: SEA variant 2 (threshold 7), then variant 3 (threshold 9.5);
* ``stationary``: Agrawal function 0 throughout.

Agrawal streams carry river's 5 % attribute perturbation (as modelward's demo data does); SEA has no noise.

Per stream and seed a fresh workspace is made: the model (``_loop_models.train``: the demo's 100-tree random
forest, taking the loop's weights) trained on 5,000 rows of the first concept (other seeds) and promoted, with
the default loop policy. Then ``modelward backtest`` runs as a subprocess with ``--label-delay 500`` (the
scheduled policy retrains every 2,000 rows) and its ``--json`` is read; the loop rolls a challenger that
passed its gate out as its default says (a canary, 5 -> 25 -> 50 -> 100 %, replayed on the simulated clock
with the live rollout code). A second backtest of the same stream, ``--policies loop --rollout immediate``,
is part 1's loop, which promoted at once (row ``loop now``). The reference row is river's
``DriftRetrainingClassifier`` (a Hoeffding tree retrained when ADWIN signals on its errors; ADWIN raises no
warnings, so it retrains from scratch) through ``evaluate.iter_progressive_val_score(delay=500)`` on the
same rows.

Printed per stream and policy (means over seeds): prequential accuracy over all rows; accuracy over the
10,000 rows after the drift; recovery rows (from the drift to the end of the first 1,000-row block within 2
points of the policy's own level over the 5,000 rows before the drift; ``-`` when none); retrains; worse
promotions (summed); the rows the loop's canaries ran before their promotions. Then, per stream, what the
canary cost against immediate promotion: its added recovery rows (the canary's recovery minus immediate
promotion's, per seed) and the worse promotions of each. Targets, PASS/FAIL, for the loop promoting at once
(part 1's loop, which issue 10's acceptance describes) and, marked "(shown)", for the canary's loop against
the same figures (its rollout costs rows; issue 11 asks that it promotes nothing worse): on Agrawal the
loop is >= never + 10 points over the 10,000 rows after the drift; on every drift stream the loop is >=
scheduled - 1 point overall with <= 25 % of its retrains; no worse promotion of the loop in any seed (with
its canary, and promoting at once); at most 1 retrain of the loop per 40,000 stationary rows (every seed).
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from river import drift, evaluate, metrics, tree
from river.datasets import synth

HERE = Path(__file__).resolve().parent
STREAMS = ("agrawal-abrupt", "agrawal-gradual", "sea-abrupt", "stationary")
POLICIES = ("never", "scheduled", "loop")
ROWS = (*POLICIES, "loop-now", "river")  # loop-now: the loop promoting at once (--rollout immediate)
LABELS = {"loop-now": "loop now", "river": "river DRC"}
BLOCK = 1_000
JOBS = 2  # policies a backtest replays at once (--jobs)

CONFIG = """\
{extra}models:
  model:
    task: classification
    target: y
    dataset: train
    entrypoint: train:train
    params: {{n_estimators: {trees}, random_state: 0, n_jobs: {jobs}}}
    split: {{kind: random, test_size: 0.25, seed: 0}}
{model_extra}"""


NOISE = (
    0.05  # river's Agrawal perturbation, as in modelward's demo data: the noise-free rules are learnt exactly
)


def _agrawal(function: int, seed: int) -> Iterator[tuple[dict[str, Any], Any]]:
    return iter(synth.Agrawal(classification_function=function, seed=seed, perturbation=NOISE))


def _sea(variant: int, seed: int) -> Iterator[tuple[dict[str, Any], Any]]:
    return iter(synth.SEA(variant=variant, seed=seed))


def pairs(stream: str, seed: int, rows: int, at: int) -> list[tuple[dict[str, Any], Any]]:
    """The ``rows`` (x, y) pairs of ``stream`` (drift at row ``at``)."""
    if stream == "agrawal-gradual":
        gen: Iterable[tuple[dict[str, Any], Any]] = synth.ConceptDriftStream(
            synth.Agrawal(classification_function=0, seed=seed, perturbation=NOISE),
            synth.Agrawal(classification_function=2, seed=seed + 1, perturbation=NOISE),
            position=at,
            width=5_000 * rows // 40_000,
            seed=seed + 2,
        )
    elif stream == "agrawal-abrupt":
        gen = itertools.chain(itertools.islice(_agrawal(0, seed), at), _agrawal(2, seed + 1))
    elif stream == "sea-abrupt":
        gen = itertools.chain(itertools.islice(_sea(2, seed), at), _sea(3, seed + 1))
    else:
        gen = _agrawal(0, seed)
    return list(itertools.islice(gen, rows))


def first_concept(stream: str, seed: int, rows: int) -> list[tuple[dict[str, Any], Any]]:
    gen = _sea(2, seed) if stream.startswith("sea") else _agrawal(0, seed)
    return list(itertools.islice(gen, rows))


def frame(data: list[tuple[dict[str, Any], Any]]) -> pd.DataFrame:
    out = pd.DataFrame([{(f"x{k}" if isinstance(k, int) else k): v for k, v in x.items()} for x, _ in data])
    out["y"] = [int(y) for _, y in data]
    return out


# --quick scales the monitor's windows down with the stream (count windows of 500 rows, a pass every minute),
# and the canary's steps (2 minutes rather than 10).
QUICK = 'monitor: {window: "500"}\nloop: {interval_seconds: 60}\n'
QUICK_MODEL = "    loop: {rollout: {step_seconds: 120}}\n"


def workspace(
    root: Path, stream: str, seed: int, jobs: int, extra: str = "", trees: int = 100, model_extra: str = ""
) -> None:
    """A workspace whose champion learnt the first concept (5,000 rows of other seeds)."""
    root.mkdir(parents=True)
    shutil.copy(HERE / "_loop_models.py", root / "train.py")
    (root / "modelward.yaml").write_text(
        CONFIG.format(jobs=jobs, extra=extra, trees=trees, model_extra=model_extra)
    )
    frame(first_concept(stream, 10_000 + seed, 5_000)).to_csv(root / "train.csv", index=False)
    script = (
        "from modelward import Workspace\n"
        "with Workspace.init('.') as ws:\n"
        "    ws.datasets.add('train.csv', 'train')\n"
        "    ws.registry.promote('model', ws.train('model').version, reason='benchmark start')\n"
    )
    subprocess.run([sys.executable, "-B", "-c", script], cwd=root, check=True, capture_output=True)


def run_backtest(root: Path, data: Path, out: Path, delay: int, *extra: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "modelward", "backtest", "model", "--data", str(data)]
    cmd += ["--label-delay", str(delay), "--jobs", str(JOBS), *extra]
    done = subprocess.run([*cmd, "--json", str(out)], cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"modelward backtest failed:\n{done.stderr[-3000:]}")
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


class _Adwin(drift.ADWIN):
    """ADWIN as ``DriftRetrainingClassifier`` wants it: a detector that also says whether it warns (never)."""

    @property
    def warning_detected(self) -> bool:
        return False


def river_curve(data: list[tuple[dict[str, Any], Any]], delay: int) -> list[list[float]]:
    model = drift.DriftRetrainingClassifier(model=tree.HoeffdingTreeClassifier(), drift_detector=_Adwin())
    steps = evaluate.iter_progressive_val_score(data, model, metrics.Accuracy(), delay=delay, step=BLOCK)
    curve: list[list[float]] = []
    before = 0.0
    for point in steps:
        n, correct = point["Step"], point["Accuracy"].get() * point["Step"]
        curve.append([n, (correct - before) / (n - (curve[-1][0] if curve else 0))])
        before = correct
    return curve


def summarise(curve: list[list[float]], at: int, rows: int, drift: bool = True) -> dict[str, float]:
    """Overall, over the 10,000 rows after the drift, recovery rows (NaN: never, or no drift)."""
    ends = np.array([c[0] for c in curve], dtype=float)
    values = np.array([c[1] for c in curve], dtype=float)
    sizes = np.diff(np.r_[0.0, ends])
    after = (ends > at) & (ends <= at + rows // 4)
    pre = (ends <= at) & (ends > at - rows // 8)
    level = float(np.average(values[pre], weights=sizes[pre]))
    post_blocks = np.flatnonzero(ends > at)
    within = [i for i in post_blocks if values[i] >= level - 0.02]
    return {
        "overall": float(np.average(values, weights=sizes)),
        "post": float(np.average(values[after], weights=sizes[after])),
        "recovery": float(ends[within[0]] - at) if within and drift else float("nan"),
    }


def one(
    stream: str,
    seed: int,
    rows: int,
    at: int,
    jobs: int,
    tmp: Path,
    *,
    extra: str = "",
    delay: int = 500,
    trees: int = 100,
    model_extra: str = "",
) -> dict[str, Any]:
    """One backtest of ``stream`` (its figures per policy, river's reference and the loop's events)."""
    data = pairs(stream, seed, rows, at)
    root = tmp / f"{stream}-{seed}"
    workspace(root, stream, seed, jobs, extra, trees, model_extra)
    table = tmp / f"{stream}-{seed}.csv"
    frame(data).to_csv(table, index=False)
    started = time.perf_counter()
    doc = run_backtest(root, table, tmp / f"{stream}-{seed}.json", delay)
    seconds = time.perf_counter() - started
    now = run_backtest(
        root, table, tmp / f"{stream}-{seed}-now.json", delay, "--policies", "loop", "--rollout", "immediate"
    )
    out: dict[str, Any] = {"seconds": seconds, "seconds_now": time.perf_counter() - started - seconds}
    out["policies"] = {}
    for name, p in [*((n, doc["policies"][n]) for n in POLICIES), ("loop-now", now["policies"]["loop"])]:
        out["policies"][name] = {
            **summarise(p["curve"], at, rows, stream != "stationary"),
            "retrains": p["retrains"],
            "promotions": p["promotions"],
            "worse": p["worse_promotions"],
            "rollout_rows": p["rollout_rows"],
        }
    out["policies"]["river"] = {
        **summarise(river_curve(data, delay), at, rows, stream != "stationary"),
        "retrains": float("nan"),
        "promotions": float("nan"),
        "worse": float("nan"),
        "rollout_rows": float("nan"),
    }
    out["seed"] = seed
    out["events"] = [e for e in doc["events"] if e["policy"] == "loop"]
    out["events_now"] = now["events"]
    return out


def _fmt(x: float, pct: bool = True) -> str:
    if isinstance(x, float) and np.isnan(x):
        return "-"
    return f"{100 * x:.1f}" if pct else f"{x:.1f}"


def report(results: dict[str, list[dict[str, Any]]], rows: int) -> bool:
    for stream, runs in results.items():
        seeds = ", ".join(str(r.get("seed", "?")) for r in runs)
        print(f"{stream}: {len(runs)} seed{'s' if len(runs) != 1 else ''} ({seeds})")
    print(
        f"\n{'stream':<16} {'policy':<10} {'overall %':>9} {'after drift %':>13} {'recovery rows':>13} "
        f"{'retrains':>8} {'worse':>5} {'rollout rows':>12}"
    )
    for stream, runs in results.items():
        for name in ROWS:
            ps = [r["policies"][name] for r in runs]
            mean = {
                k: float(np.nanmean([p[k] for p in ps]))
                if any(np.isfinite(p[k]) for p in ps)
                else float("nan")
                for k in ("overall", "post", "recovery", "retrains", "rollout_rows")
            }
            worse = sum(p["worse"] for p in ps) if name != "river" else float("nan")
            print(
                f"{stream:<16} {LABELS.get(name, name):<10} {_fmt(mean['overall']):>9} {_fmt(mean['post']):>13} "
                f"{_fmt(mean['recovery'], False):>13} {_fmt(mean['retrains'], False):>8} {_fmt(worse, False):>5} "
                f"{_fmt(mean['rollout_rows'], False):>12}"
            )
    print("\nThe canary against promoting at once (issue 11, acceptance 4), per stream over its seeds:")
    for stream, runs in results.items():
        added = [added_recovery(r) for r in runs]
        known = [a for a in added if np.isfinite(a)]
        canary, now = (sum(r["policies"][p]["worse"] for r in runs) for p in ("loop", "loop-now"))
        mean = f"{np.mean(known):+,.0f}" if known else "-"
        each = ", ".join("-" if not np.isfinite(a) else f"{a:+,.0f}" for a in added)
        print(
            f"{stream:<16} worse promotions {canary} (canary) vs {now} (at once); added recovery rows: mean "
            f"{mean} (per seed: {each})"
        )
    return targets(results, rows)


def added_recovery(run: dict[str, Any]) -> float:
    """The canary's recovery rows minus those of immediate promotion (NaN when either never recovered)."""
    return float(run["policies"]["loop"]["recovery"] - run["policies"]["loop-now"]["recovery"])


def targets(results: dict[str, list[dict[str, Any]]], rows: int) -> bool:
    """Issue 10's targets for each of the loop's two rollouts (its acceptance was written for promotion at
    once, part 1's behaviour, which ``loop now`` replays; ``loop`` is the default canary), and issue 11's:
    no worse promotion with the canary. Every check is printed; the run passes when part 1's loop meets
    issue 10's targets and the canary promotes nothing worse (the canary's cost is what it prints)."""
    checks: list[tuple[str, bool, str, bool]] = []  # what, ok, detail, counts toward the verdict

    def mean(stream: str, policy: str, key: str) -> float:
        return float(np.mean([r["policies"][policy][key] for r in results[stream]]))

    for stream in results:
        for policy in ("loop-now", "loop"):
            name, counts = (
                LABELS.get(policy, policy) + ("" if policy == "loop-now" else " (canary)"),
                policy != "loop",
            )
            if stream.startswith("agrawal"):
                got, want = mean(stream, policy, "post"), mean(stream, "never", "post") + 0.10
                what = f"{stream}: {name} >= never + 10 pp after the drift"
                checks.append((what, got >= want, f"{100 * got:.1f} vs {100 * want:.1f}", counts))
            if stream != "stationary":
                got, want = mean(stream, policy, "overall"), mean(stream, "scheduled", "overall") - 0.01
                what = f"{stream}: {name} >= scheduled - 1 pp overall"
                checks.append((what, got >= want, f"{100 * got:.1f} vs {100 * want:.1f}", counts))
                lr, sr = mean(stream, policy, "retrains"), mean(stream, "scheduled", "retrains")
                what = f"{stream}: {name} retrains <= 25 % of scheduled's"
                checks.append((what, lr <= 0.25 * sr, f"{lr:.1f} vs {sr:.1f}", counts))
            worst = max(r["policies"][policy]["worse"] for r in results[stream])
            checks.append(
                (
                    f"{stream}: 0 worse promotions of the {name} in every seed",
                    worst == 0,
                    f"max {worst}",
                    True,
                )
            )
            if stream == "stationary":
                most = max(r["policies"][policy]["retrains"] for r in results[stream])
                limit = max(1, rows // 40_000)
                what = f"stationary: <= 1 retrain of the {name} per 40k rows in every seed"
                checks.append((what, most <= limit, f"max {most}", True))
    print()
    for what, ok, detail, counts in checks:
        print(f"{'PASS' if ok else 'FAIL'}{'' if counts else ' (shown)'}  {what} ({detail})")
    return all(ok for _, ok, _, counts in checks if counts)


def merged(files: list[Path]) -> dict[str, list[dict[str, Any]]]:
    """The runs of several ``--json`` files by stream; a (stream, seed) found twice is an error."""
    results: dict[str, list[dict[str, Any]]] = {}
    seen: dict[tuple[str, Any], Path] = {}
    for path in files:
        for stream, runs in json.loads(path.read_text()).items():
            for run in runs:
                key = (stream, run.get("seed"))
                if run.get("seed") is not None and key in seen:
                    raise SystemExit(
                        f"{stream} seed {key[1]} is in both {seen[key]} and {path}: merge one of them"
                    )
                seen[key] = path
                results.setdefault(stream, []).append(run)
    return {s: results[s] for s in STREAMS if s in results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds per stream (default 10)")
    parser.add_argument("--first-seed", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 seed, 8,000 rows, the drift at 4,000, labels 100 rows late, 500-row monitor windows",
    )
    parser.add_argument("--streams", default=",".join(STREAMS), help="comma-separated subset of the streams")
    parser.add_argument("--jobs", type=int, default=1, help="n_jobs of the random forest (default 1)")
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="run nothing: report the runs of these --json files together (seeds run apart, one stream each)",
    )
    args = parser.parse_args(argv)
    if args.merge:
        return 0 if report(merged(args.merge), 40_000) else 1
    rows, at, seeds = (8_000, 4_000, 1) if args.quick else (40_000, 20_000, args.seeds)
    streams = [s for s in args.streams.split(",") if s]
    unknown = set(streams) - set(STREAMS)
    if unknown:
        parser.error(f"unknown streams {sorted(unknown)}; choose from {', '.join(STREAMS)}")
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="modelward-loop-bench-") as tmp:
        for stream in streams:
            for seed in range(args.first_seed, args.first_seed + seeds):
                extra, model_extra, delay = (QUICK, QUICK_MODEL, 100) if args.quick else ("", "", 500)
                run = one(
                    stream,
                    seed,
                    rows,
                    at,
                    args.jobs,
                    Path(tmp),
                    extra=extra,
                    delay=delay,
                    model_extra=model_extra,
                )
                results.setdefault(stream, []).append(run)
                loop = run["policies"]["loop"]
                now = run["policies"]["loop-now"]
                print(
                    f"{stream} seed {seed}: {run['seconds']:.0f} s (+ {run['seconds_now']:.0f} s at once); loop "
                    f"{100 * loop['overall']:.1f} % overall, {100 * loop['post']:.1f} % after the drift, "
                    f"{loop['retrains']} retrains, {loop['rollout_rows']} canary rows; promoting at once "
                    f"{100 * now['overall']:.1f} %, {100 * now['post']:.1f} %, {now['retrains']} retrains",
                    flush=True,
                )
    ok = report(results, rows)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, default=float))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
