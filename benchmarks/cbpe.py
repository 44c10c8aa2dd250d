"""CBPE benchmark: modelward's label-free accuracy estimate vs NannyML's CBPE on the same windows.

    .venv/bin/python benchmarks/cbpe.py                      # seed 0, 8 windows of 5,000 rows
    .venv/bin/python benchmarks/cbpe.py --seeds 0,1,2 --repeat 3

Data: ``modelward.monitoring.performance._scenario.covariate_shift`` — P(y | x) is a fixed logistic
function, a scikit-learn LogisticRegression is trained on a separate sample, and the features' distribution
moves from window to window (accuracy ranges over roughly 0.68-0.94). Reference: 10,000 labeled rows.
The model's P(class 1) and predicted labels are written to Parquet in a temporary directory; the peer
reads them there and is given the analysis windows *without* labels.

- modelward: ``CBPE(metrics=("accuracy",)).fit(reference)`` + ``estimate`` per window, in this process;
  timed with its default simulated interval (500 label draws per window) and without it (point only).
- NannyML 0.13.1 (its own virtualenv, ``benchmarks/_peers.py``, usage logging off):
  ``nml.CBPE(metrics=["accuracy"], problem_type="classification_binary", chunk_size=window)`` ``fit`` on the
  reference + ``estimate`` on the concatenated windows (one chunk per window), in a subprocess.

Both are warmed up once (untimed) before the measured runs; seconds are ``time.perf_counter`` around fit +
estimate (median of ``--repeat``), imports and file reading excluded. The realized accuracy of each window
comes from its labels. Nothing is hard-coded: every figure is measured in this run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
NANNYML_REQ = ["nannyml==0.13.1", "statsmodels"]

PEER_SCRIPT = r"""
import json, os, statistics, sys, time, warnings
os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"
warnings.filterwarnings("ignore")
import pandas as pd
import nannyml as nml

folder, size, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
reference = pd.read_parquet(os.path.join(folder, "reference.parquet"))
analysis = pd.read_parquet(os.path.join(folder, "analysis.parquet"))   # no labels

def run(ref, ana):
    est = nml.CBPE(metrics=["accuracy"], y_pred_proba="proba", y_pred="y_pred", y_true="y",
                   problem_type="classification_binary", chunk_size=size)
    est.fit(ref)
    return est.estimate(ana)

run(reference.iloc[: 2 * size], analysis.iloc[: 2 * size])   # warm-up, untimed
times = []
for _ in range(repeat):
    started = time.perf_counter()
    result = run(reference, analysis)
    times.append(time.perf_counter() - started)
frame = result.filter(period="analysis").to_df()
out = {"seconds": statistics.median(times), "estimates": frame[("accuracy", "value")].tolist(),
       "lower": frame[("accuracy", "lower_confidence_boundary")].tolist(),
       "upper": frame[("accuracy", "upper_confidence_boundary")].tolist(),
       "version": nml.__version__}
print(json.dumps(out))
"""


def _modelward(scenario: Any, repeat: int, n_simulations: int) -> tuple[float, list[Any]]:
    from modelward.monitoring.performance import CBPE

    def run() -> list[Any]:
        cbpe = CBPE(metrics=("accuracy",), n_simulations=n_simulations)
        cbpe.fit(scenario.reference.y, scenario.reference.proba, classes=[0, 1])
        return [cbpe.estimate(w.proba, y_pred=w.y_pred)["accuracy"] for w in scenario.windows]

    run()  # warm-up (lazy scikit-learn imports), untimed
    times, result = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _nannyml(scenario: Any, folder: Path, window: int, repeat: int) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from _peers import peer_python

    python = peer_python("nannyml", NANNYML_REQ)

    def frame(w: Any, labels: bool) -> pd.DataFrame:
        data = {"proba": w.proba, "y_pred": w.y_pred}
        return pd.DataFrame(data | ({"y": w.y} if labels else {}))

    frame(scenario.reference, True).to_parquet(folder / "reference.parquet")
    pd.concat([frame(w, False) for w in scenario.windows], ignore_index=True).to_parquet(
        folder / "analysis.parquet"
    )
    script = folder / "peer.py"
    script.write_text(PEER_SCRIPT)
    env = {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"}
    done = subprocess.run(
        [str(python), str(script), str(folder), str(window), str(repeat)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"NannyML run failed:\n{done.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0", help="comma-separated scenario seeds (default: 0)")
    parser.add_argument("--windows", type=int, default=8)
    parser.add_argument("--window-size", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-peers", action="store_true")
    args = parser.parse_args()

    from modelward.monitoring.performance._scenario import covariate_shift

    summary = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        scenario = covariate_shift(seed, n_windows=args.windows, window_size=args.window_size)
        realized = [float(np.mean(w.y == w.y_pred)) for w in scenario.windows]
        mw_seconds, mw = _modelward(scenario, args.repeat, 500)
        mw_point_seconds, _ = _modelward(scenario, args.repeat, 0)
        nml: dict[str, Any] | None = None
        if not args.skip_peers:
            with tempfile.TemporaryDirectory(prefix="modelward-cbpe-") as tmp:
                nml = _nannyml(scenario, Path(tmp), args.window_size, args.repeat)
        print(
            f"\nseed {seed}: reference 10,000 rows, {args.windows} windows x {args.window_size:,} rows "
            "(covariate shift, LogisticRegression)"
        )
        head = f"{'window':>6} {'realized':>9} {'modelward':>10} {'95% band':>17} {'|err|':>7}"
        if nml:
            head += f" {'NannyML':>9} {'band (3 sd)':>17} {'|err|':>7}"
        print(head)
        mw_err, nml_err = [], []
        for i, real in enumerate(realized):
            est = mw[i]
            mw_err.append(abs(est.value - real))
            line = (
                f"{i:>6} {real:>9.4f} {est.value:>10.4f} [{est.lower:.4f},{est.upper:.4f}] {mw_err[-1]:>7.4f}"
            )
            if nml:
                nml_err.append(abs(nml["estimates"][i] - real))
                line += (
                    f" {nml['estimates'][i]:>9.4f} [{nml['lower'][i]:.4f},{nml['upper'][i]:.4f}] "
                    f"{nml_err[-1]:>7.4f}"
                )
            print(line)
        inside = sum(bool(e.lower <= r <= e.upper) for e, r in zip(mw, realized, strict=True))
        print(
            f"modelward: accuracy MAE {np.mean(mw_err):.4f} (max {np.max(mw_err):.4f}); realized inside "
            f"its 95% band in {inside}/{len(realized)} windows; fit+estimate {mw_seconds:.3f} s "
            f"({mw_point_seconds:.3f} s without the simulated band)"
        )
        row = {
            "seed": seed,
            "modelward_mae": float(np.mean(mw_err)),
            "modelward_s": mw_seconds,
            "modelward_point_s": mw_point_seconds,
        }
        if nml:
            print(
                f"NannyML {nml['version']}: accuracy MAE {np.mean(nml_err):.4f} (max {np.max(nml_err):.4f}); "
                f"fit+estimate {nml['seconds']:.3f} s"
            )
            print(
                f"ratio NannyML / modelward time: {nml['seconds'] / mw_seconds:.1f}x with modelward's band, "
                f"{nml['seconds'] / mw_point_seconds:.1f}x point estimates only"
            )
            row |= {"nannyml_mae": float(np.mean(nml_err)), "nannyml_s": nml["seconds"]}
        summary.append(row)
    if len(summary) > 1:
        print("\nsummary:", json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
