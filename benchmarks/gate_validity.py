"""Validity of the gate and of the rollout test, measured by seeded simulation (``make validate``).

    .venv/bin/python benchmarks/gate_validity.py                 # full run, a few minutes on 2 cores
    .venv/bin/python benchmarks/gate_validity.py --quick         # a tenth of the trials (smoke test)
    .venv/bin/python benchmarks/gate_validity.py --json benchmarks/results/gate_validity.json

Issue 10, acceptance 2 (the gate): holdouts of 10,000 rows on which champion and challenger disagree on
10 % of the rows. Equal models (the challenger right on 50 % of the disagreements): promotions must stay
at or below 5 % + 2 binomial SE over >= 1,000 simulated gates. A better challenger (right on 55 % of the
disagreements, +1 accuracy point): promoted in >= 80 % of them. The gate is ``decide`` in superior mode
at alpha = 0.05 on McNemar's test (accuracy) and, separately, on a percentile paired bootstrap of F1
(499 resamples: BCa's O(rows^2) jackknife is too slow for thousands of gates; ``--bca-sims`` adds a
BCa run).

Issue 11, acceptance 2 (the rollout test): >= 2,000 A/A rollouts with a decision after every batch
(100 looks of 50 rows per arm), Gaussian and Bernoulli outcomes (p = 0.01, 0.1, 0.5), plus a 10 % canary:
false benefit and false harm must each have a 95 % upper bound <= 6 % at alpha = 5 %, printed beside a
naive z-test checked after every batch on the same streams. A degraded canary (error rate 1 % -> 3 %,
10 % of 20,000 labeled requests, a look every 200) must be rolled back before any promotion in >= 95 %
of runs; the median rows to rollback are printed. Every figure is measured in this run.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from modelward.evaluation.simulate import (
    Rate,
    bootstrap_promotion_rate,
    gate_promotion_rate,
    sequential_rollouts,
)

ALPHA = 0.05


def _pct(x: float) -> str:
    return "   n/a" if math.isnan(x) else f"{100 * x:5.1f}%"


def gate_table(args: argparse.Namespace, out: dict[str, Any]) -> bool:
    print(
        "\nGate validity: 10,000-row holdouts, models disagree on 10 % of rows, decide() superior at alpha 0.05"
    )
    print(
        f"{'test':<34} {'challenger right on':>19} {'gates':>6} {'promoted':>9} {'rate':>7} {'+-2SE':>7}  "
        f"{'target':<22} {'result'}"
    )
    ok_all = True
    rows: list[tuple[str, str, Rate, str, bool]] = []
    t0 = time.perf_counter()
    null = gate_promotion_rate(args.sims, challenger_share=0.5, seed=args.seed)
    power = gate_promotion_rate(args.sims, challenger_share=0.55, seed=args.seed + 1)
    rows.append(
        (
            "McNemar (accuracy)",
            "50 %",
            null,
            "<= 5 % + 2 SE",
            null.rate <= ALPHA + 2 * _se(ALPHA, null.trials),
        )
    )
    rows.append(("McNemar (accuracy)", "55 %", power, ">= 80 %", power.rate >= 0.80))
    timings = {"mcnemar_s": time.perf_counter() - t0}
    t0 = time.perf_counter()
    bnull = bootstrap_promotion_rate(
        args.bootstrap_sims, metric="f1", n_resamples=args.resamples, seed=args.seed + 2
    )
    bpower = bootstrap_promotion_rate(
        args.bootstrap_sims,
        metric="f1",
        challenger_share=0.55,
        n_resamples=args.resamples,
        seed=args.seed + 3,
    )
    label = f"bootstrap percentile (F1, {args.resamples})"
    rows.append((label, "50 %", bnull, "<= 5 % + 2 SE", bnull.rate <= ALPHA + 2 * _se(ALPHA, bnull.trials)))
    rows.append((label, "55 %", bpower, ">= 80 %", bpower.rate >= 0.80))
    timings["bootstrap_s"] = time.perf_counter() - t0
    if args.bca_sims:
        t0 = time.perf_counter()
        cnull = bootstrap_promotion_rate(
            args.bca_sims, metric="f1", method="BCa", n_resamples=args.resamples, seed=args.seed + 4
        )
        rows.append(
            (
                f"bootstrap BCa (F1, {args.resamples})",
                "50 %",
                cnull,
                "<= 5 % + 2 SE",
                cnull.rate <= ALPHA + 2 * _se(ALPHA, cnull.trials),
            )
        )
        timings["bca_s"] = time.perf_counter() - t0
    for test, share, rate, target, ok in rows:
        ok_all &= ok
        print(
            f"{test:<34} {share:>19} {rate.trials:>6} {rate.events:>9} {_pct(rate.rate)} {_pct(2 * rate.se)}  "
            f"{target:<22} {'OK' if ok else 'MISS'}"
        )
        out.setdefault("gate", []).append(
            {"test": test, "challenger_right_on": share, **rate.to_dict(), "target": target, "ok": ok}
        )
    print("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    return ok_all


def sequential_table(args: argparse.Namespace, out: dict[str, Any]) -> bool:
    print(
        f"\nRollout test (mixture SPRT, alpha 0.05, tau tuned to 5,000 rows): {args.rollouts} A/A rollouts, a decision "
        f"after each of {args.looks} batches"
    )
    print(
        f"{'outcome':<34} {'rows/arm/look':>13} {'false benefit':>14} {'(95% up)':>9} {'false harm':>11} "
        f"{'(95% up)':>9} {'naive z every look':>19}  {'result'}"
    )
    scenarios: list[tuple[str, dict[str, Any]]] = [
        ("Gaussian, equal means", {"outcome": "continuous"}),
        ("Bernoulli p = 0.01", {"outcome": "binary", "champion_mean": 0.01, "challenger_mean": 0.01}),
        ("Bernoulli p = 0.1", {"outcome": "binary", "champion_mean": 0.1, "challenger_mean": 0.1}),
        ("Bernoulli p = 0.5", {"outcome": "binary", "champion_mean": 0.5, "challenger_mean": 0.5}),
        (
            "Bernoulli p = 0.01, 10 % canary",
            {
                "outcome": "binary",
                "champion_mean": 0.01,
                "challenger_mean": 0.01,
                "challenger_share": 0.1,
                "batch": 500,
            },
        ),
    ]
    ok_all = True
    t0 = time.perf_counter()
    for i, (label, kwargs) in enumerate(scenarios):
        params = {"looks": args.looks, "batch": 100, **kwargs}
        run = sequential_rollouts(args.rollouts, seed=args.seed + 100 + i, **params)
        ok = run.benefit.upper95 <= 0.06 and run.harm.upper95 <= 0.06
        ok_all &= ok
        share = params.get("challenger_share", 0.5)
        per_arm = f"{round(params['batch'] * share)}" + (
            "" if share == 0.5 else f"/{round(params['batch'] * (1 - share))}"
        )
        print(
            f"{label:<34} {per_arm:>13} {_pct(run.benefit.rate):>14} {_pct(run.benefit.upper95):>9} "
            f"{_pct(run.harm.rate):>11} {_pct(run.harm.upper95):>9} {_pct(run.naive.rate):>19}  {'OK' if ok else 'MISS'}"
        )
        out.setdefault("sequential_null", []).append({"scenario": label, **run.to_dict(), "ok": ok})
    print(f"  target: each 95 % upper bound <= 6 %; seconds {time.perf_counter() - t0:.1f}")

    print(f"\nRollout test against a real difference ({args.canary_runs} runs each)")
    print(
        f"{'scenario':<48} {'harm (rollback)':>16} {'benefit':>8} {'undecided':>10} {'median rows':>12}  {'result'}"
    )
    t0 = time.perf_counter()
    power_scenarios: list[tuple[str, dict[str, Any], str]] = [
        (
            "canary errors 1 % -> 3 %, 10 % of 20,000 rows",
            {
                "outcome": "binary",
                "champion_mean": 0.01,
                "challenger_mean": 0.03,
                "challenger_share": 0.1,
                "batch": 200,
                "looks": 100,
                "higher_is_better": False,
            },
            "harm",
        ),
        (
            "Gaussian +0.1 sd, 50 rows/arm/look, 100 looks",
            {"outcome": "continuous", "challenger_mean": 0.1, "batch": 100, "looks": 100},
            "benefit",
        ),
        (
            "Bernoulli 0.10 -> 0.12, 50 rows/arm/look",
            {"outcome": "binary", "champion_mean": 0.10, "challenger_mean": 0.12, "batch": 100, "looks": 100},
            "benefit",
        ),
    ]
    for i, (label, kwargs, expected) in enumerate(power_scenarios):
        run = sequential_rollouts(args.canary_runs, seed=args.seed + 200 + i, **kwargs)
        undecided = 1.0 - run.harm.rate - run.benefit.rate
        if expected == "harm":
            ok = run.benefit.events == 0 and run.harm.rate >= 0.95
            target = ">= 95 % rolled back"
        else:
            ok = run.harm.events == 0
            target = "power shown, no harm"
        ok_all &= ok
        print(
            f"{label:<48} {_pct(run.harm.rate):>16} {_pct(run.benefit.rate):>8} {_pct(undecided):>10} "
            f"{run.median_rows_to_decision:>12.0f}  {'OK' if ok else 'MISS'} ({target})"
        )
        out.setdefault("sequential_power", []).append({"scenario": label, **run.to_dict(), "ok": ok})
    print(
        f"  median rows = labeled rows over both arms when the decision was reached; seconds "
        f"{time.perf_counter() - t0:.1f}"
    )
    return ok_all


def _se(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sims", type=int, default=4000, help="McNemar gates per scenario (default 4000)")
    parser.add_argument(
        "--bootstrap-sims", type=int, default=1000, help="bootstrap gates per scenario (default 1000)"
    )
    parser.add_argument(
        "--bca-sims", type=int, default=0, help="BCa bootstrap gates under the null (default 0)"
    )
    parser.add_argument(
        "--resamples", type=int, default=499, help="bootstrap resamples per gate (default 499)"
    )
    parser.add_argument("--rollouts", type=int, default=2000, help="A/A rollouts per outcome (default 2000)")
    parser.add_argument("--looks", type=int, default=100, help="looks per A/A rollout (default 100)")
    parser.add_argument(
        "--canary-runs", type=int, default=1000, help="runs per real-difference scenario (default 1000)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a tenth of every trial count")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        for name in ("sims", "bootstrap_sims", "bca_sims", "rollouts", "canary_runs"):
            setattr(args, name, max(1, getattr(args, name) // 10) if getattr(args, name) else 0)
    out: dict[str, Any] = {
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    }
    started = time.perf_counter()
    ok = gate_table(args, out)
    ok = sequential_table(args, out) and ok
    print(f"\n{'all targets met' if ok else 'SOME TARGETS MISSED'} ({time.perf_counter() - started:.0f} s)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
