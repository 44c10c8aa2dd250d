"""Reduced validity runs (``make validate`` runs the full ones): the gate's false promotions and power,
and the sequential test's error rates when looked at after every batch.

Seeded, so each rate is a fixed number; the bounds say how far from the target a correct method may land
by chance at these trial counts (binomial), so a broken method fails them.
"""

from __future__ import annotations

import math

from scipy import stats

from modelward.evaluation.simulate import bootstrap_promotion_rate, gate_promotion_rate, sequential_rollouts

ALPHA = 0.05


def _at_most(rate: float, target: float, trials: int) -> bool:
    """``rate`` is within 2 binomial standard errors above ``target`` (acceptance 2 of issue 10)."""
    return rate <= target + 2 * math.sqrt(target * (1 - target) / trials)


def test_mcnemar_gate_false_promotion_and_power() -> None:
    """1,000 equal-model holdouts of 10,000 rows (10 % disagreement): promotions <= 5 % + 2 SE; power
    when the challenger is right on 55 % of the disagreements: >= 80 % (about 93 % expected)."""
    null = gate_promotion_rate(1000, challenger_share=0.5, seed=11)
    assert _at_most(null.rate, ALPHA, null.trials), null
    power = gate_promotion_rate(400, challenger_share=0.55, seed=12)
    assert power.rate >= 0.80, power


def test_percentile_bootstrap_gate_false_promotion_and_power() -> None:
    null = bootstrap_promotion_rate(100, n_rows=2000, n_resamples=499, seed=13)
    assert _at_most(null.rate, ALPHA, null.trials), null
    power = bootstrap_promotion_rate(40, challenger_share=0.55, n_resamples=499, seed=14)
    # 40 trials: a true power of 80 % lands at or above 27/40 with probability > 0.99
    assert power.events >= stats.binom.ppf(0.01, 40, 0.80), power


def test_sequential_a_a_stays_below_alpha_while_naive_peeking_does_not() -> None:
    """150 A/A rollouts x 100 looks of 50 rows per arm (and a 50/450 canary split): false benefit and false harm each at most alpha
    (upper 99 % binomial quantile of 150 trials at 5 %: 14 events); the naive z-test checked at every
    look fires far more often than alpha (~30 % or more)."""
    limit = stats.binom.ppf(0.99, 150, ALPHA)
    scenarios = (
        {"outcome": "continuous"},
        {"outcome": "binary", "champion_mean": 0.1, "challenger_mean": 0.1},
        # a 10 % canary at a 1 % error rate: the small arm often has no error yet (see MixtureSPRT's docstring)
        {
            "outcome": "binary",
            "champion_mean": 0.01,
            "challenger_mean": 0.01,
            "challenger_share": 0.1,
            "batch": 500,
        },
    )
    for kwargs in scenarios:
        run = sequential_rollouts(150, looks=100, seed=21, **{"batch": 100, **kwargs})  # type: ignore[arg-type]
        assert run.benefit.events <= limit and run.harm.events <= limit, run.to_dict()
        assert run.naive.rate >= 0.15, run.to_dict()


def test_sequential_test_rolls_back_a_degraded_canary() -> None:
    """Error rate 1 % -> 3 %, canary at 10 % of 20,000 labeled requests, a look every 200: rolled back
    (harm) before any promotion in >= 95 % of runs (lower 1 % binomial quantile of 100 at 95 %: 90)."""
    run = sequential_rollouts(
        100,
        outcome="binary",
        champion_mean=0.01,
        challenger_mean=0.03,
        challenger_share=0.1,
        batch=200,
        looks=100,
        higher_is_better=False,
        seed=22,
    )
    assert run.benefit.events == 0
    assert run.harm.events >= stats.binom.ppf(0.01, 100, 0.95), run.to_dict()
