"""Validity of attribution drift, measured by seeded simulation (``make validate``).

    .venv/bin/python benchmarks/attribution_validity.py                 # 1,000 windows (LR), 100 (forest)
    .venv/bin/python benchmarks/attribution_validity.py --windows 200   # a quicker look

The issue's planted data (ten standard-normal columns, label = 1[x1 + x2 > 0] with 5 % of labels flipped),
a model trained once on 10,000 rows, then per simulated window a fresh holdout sample and a fresh window of
300 rows each (the monitor's default ``attribution_rows``), both explained by the model as the monitor does
(:class:`modelward.maintenance.attribution.Attributor`'s per-row |SHAP|), compared by
:func:`modelward.monitoring.attribution_drift`. Scenarios:

* **no drift**: the window drawn like the holdout. The share of windows with any column flagged must stay
  within alpha + 2 binomial SE, at the default minimum change (0.05) and at 0, where only the corrected
  tests decide (the harder case);
* **an unused column drifts** (x5 shifted by two standard deviations): its values move, the model's answers
  hardly do. A model trained on noise gives x5 a tiny weight, so the shift changes x5's |SHAP| by a real but
  tiny amount that a window of 300 rows detects: the corrected test alone flags it in most windows. The
  minimum change (0.05 of the total) is what keeps it from alarming: at the default, flagged windows must
  stay within the same bound;
* **a used column drifts** (x1 shifted by one standard deviation): x1 must be flagged in >= 95 % of windows.

A logistic regression (exact linear SHAP, fast) runs ``--windows`` windows; the issue's random forest
(100 trees, depth 8; exact TreeSHAP) a tenth of them. Every figure is measured in this run.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from modelward.explain import explainer_for
from modelward.monitoring import attribution_drift

ALPHA = 0.05
ROWS = 300
COLUMNS = [f"x{i}" for i in range(1, 11)]


def planted(n: int, rng: np.random.Generator, shift: dict[str, float] | None = None) -> pd.DataFrame:
    x = pd.DataFrame(rng.normal(size=(n, len(COLUMNS))), columns=COLUMNS)
    for column, by in (shift or {}).items():
        x[column] += by
    return x


def train(kind: str) -> Any:
    rng = np.random.default_rng(0)
    x = planted(10_000, rng)
    y = ((x["x1"] + x["x2"]) > 0).to_numpy().astype(int)
    flip = rng.random(len(y)) < 0.05
    y[flip] = 1 - y[flip]
    if kind == "forest":
        return RandomForestClassifier(100, max_depth=8, random_state=0, n_jobs=1).fit(x, y)
    return LogisticRegression(max_iter=500).fit(x, y)


def flagged(
    model: Any, windows: int, shift: dict[str, float], min_change: float, seed: int
) -> tuple[float, float]:
    """Share of windows with any column flagged, and with x1 flagged."""
    background = planted(100, np.random.default_rng(1))
    explainer = explainer_for(model, COLUMNS, background, task="classification", exact_only=True)
    any_hits = x1_hits = 0
    for w in range(windows):
        rng = np.random.default_rng(seed + w)
        ref = np.abs(explainer.explain(planted(ROWS, rng)).values).mean(axis=2)
        cur = np.abs(explainer.explain(planted(ROWS, rng, shift)).values).mean(axis=2)
        found = attribution_drift(ref, cur, COLUMNS, alpha=ALPHA, min_change=min_change)
        any_hits += found.drifted
        x1_hits += "x1" in found.drifted_columns
    return any_hits / windows, x1_hits / windows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--windows", type=int, default=1000, help="windows per scenario (LR; the forest a tenth)"
    )
    args = parser.parse_args(argv)
    ok = True
    print(f"attribution drift: {ROWS} holdout + {ROWS} window rows a window, alpha = {ALPHA}")
    print(f"{'model':<8} {'windows':>7} {'scenario':<28} {'min change':>10} {'flagged':>8} {'target':>10}")
    for kind, windows in (("LR", args.windows), ("forest", max(args.windows // 10, 20))):
        model = train("forest" if kind == "forest" else "lr")
        bound = ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / windows)
        for label, shift, min_change, want_power in (
            ("no drift", {}, 0.05, False),
            ("no drift", {}, 0.0, False),
            ("unused x5 shifted 2 SD", {"x5": 2.0}, 0.05, False),
            ("used x1 shifted 1 SD", {"x1": 1.0}, 0.05, True),
        ):
            started = time.perf_counter()
            any_share, x1_share = flagged(model, windows, shift, min_change, seed=100_000)
            share = x1_share if want_power else any_share
            passed = share >= 0.95 if want_power else share <= bound
            target = ">= 95%" if want_power else f"<= {bound:.1%}"
            ok &= passed
            what = "x1 flagged" if want_power else "any flagged"
            print(
                f"{kind:<8} {windows:>7} {label:<28} {min_change:>10.2f} {share:>8.1%} {target:>10} "
                f"{'PASS' if passed else 'FAIL'}  ({what}; {time.perf_counter() - started:.1f} s)"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
