"""Validity of the fairness check of a monitoring window, measured by seeded simulation (``make validate``).

    .venv/bin/python benchmarks/fairness_validity.py              # 200 windows a scenario, about a minute
    .venv/bin/python benchmarks/fairness_validity.py --windows 50 # a quicker look

Issue 13, acceptance 4: two groups of equal size, windows of 2,000 labeled rows. A planted selection-rate
gap of 0.15 (group a selected at 55 %, group b at 40 %, whatever the label) must be flagged in >= 95 % of
200 seeded windows; a fair population (both at 50 %) falsely flagged in <= 5 % + 2 binomial SE. Both are
run at the default tolerance (0.05) and at tolerance 0, where any gap the interval shows is flagged: the
hardest case for the false-flag rate, since the intervals alone must then keep it at alpha. Each window is
:func:`modelward.monitoring.fairness.fairness` as the monitor runs it (fairlearn's MetricFrame, 2,000
bootstrap resamples, both gaps at 1 - alpha/2). Every figure is measured in this run.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np

from modelward.monitoring.fairness import TOLERANCE, fairness

ALPHA = 0.05


def window(rates: tuple[float, float], seed: int, rows: int = 2000) -> tuple[np.ndarray, ...]:
    """``rows`` labeled rows, half in each group; group g is selected with probability ``rates[g]``."""
    rng = np.random.default_rng(seed)
    group = np.where(np.arange(rows) % 2 == 0, "a", "b").astype(object)
    y_true = (rng.random(rows) < 0.5).astype(int)
    y_pred = (rng.random(rows) < np.where(group == "a", rates[0], rates[1])).astype(int)
    return y_true, y_pred, group


def flagged_share(rates: tuple[float, float], windows: int, tolerance: float, first_seed: int) -> float:
    hits = 0
    for s in range(windows):
        y_true, y_pred, group = window(rates, first_seed + s)
        hits += fairness(y_true, y_pred, group, alpha=ALPHA, tolerance=tolerance, seed=s).flagged
    return hits / windows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--windows", type=int, default=200, help="windows per scenario (default 200)")
    args = parser.parse_args(argv)
    n = args.windows
    se = math.sqrt(ALPHA * (1 - ALPHA) / n)
    ok = True
    print(f"fairness check: {n} windows of 2,000 labeled rows per scenario, alpha = {ALPHA}")
    print(f"{'scenario':<38} {'tolerance':>9} {'flagged':>8} {'target':>14} {'':>5}")
    for label, rates, target_low in (
        ("planted gap 0.15 (55 % vs 40 %)", (0.55, 0.40), 0.95),
        ("fair (50 % vs 50 %)", (0.5, 0.5), None),
    ):
        for tolerance in (TOLERANCE, 0.0):
            started = time.perf_counter()
            share = flagged_share(rates, n, tolerance, first_seed=10_000 if target_low is None else 0)
            if target_low is not None:
                passed, target = share >= target_low, f">= {target_low:.0%}"
            else:
                passed, target = share <= ALPHA + 2 * se, f"<= {ALPHA + 2 * se:.1%}"
            ok &= passed
            print(
                f"{label:<38} {tolerance:>9.2f} {share:>8.1%} {target:>14} {'PASS' if passed else 'FAIL':>5}"
                f"   ({time.perf_counter() - started:.1f} s)"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
