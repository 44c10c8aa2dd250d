"""Seeded simulations that check the gate and the sequential test keep their promises.

A test whose error rates were never measured cannot be trusted with automatic promotions. These
functions run the real code paths (:func:`~modelward.evaluation.decide` on :func:`mcnemar_counts` or
:func:`paired_bootstrap` results; :class:`MixtureSPRT` batch by batch) on simulated data and return the
measured rates with their binomial standard errors. ``benchmarks/gate_validity.py`` (``make validate``)
runs them at full size and prints the tables; the test suite runs reduced versions.

Gate simulations draw a holdout of ``n_rows`` rows on which the two models disagree with probability
``disagreement``; on a disagreement the challenger is the one that is right with probability
``challenger_share`` (0.5: equal models). Sequential simulations stream batches to both arms and look
after every batch, beside a naive fixed-sample z-test looked at as often.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from modelward.evaluation._json import jsonable
from modelward.evaluation.bootstrap import paired_bootstrap
from modelward.evaluation.gate import GatePolicy, decide
from modelward.evaluation.mcnemar import mcnemar_counts
from modelward.evaluation.sequential import MixtureSPRT


@dataclass(frozen=True)
class Rate:
    """``events`` out of ``trials``, with the rate, its binomial standard error and a one-sided 95 %
    upper bound (Clopper-Pearson)."""

    name: str
    events: int
    trials: int

    @property
    def rate(self) -> float:
        return self.events / self.trials if self.trials else math.nan

    @property
    def se(self) -> float:
        p = self.rate
        return math.sqrt(p * (1.0 - p) / self.trials) if self.trials else math.nan

    @property
    def upper95(self) -> float:
        from scipy import stats

        if self.events >= self.trials:
            return 1.0
        return float(stats.beta.ppf(0.95, self.events + 1, self.trials - self.events))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(
            {**asdict(self), "rate": self.rate, "se": self.se, "upper95": self.upper95}
        )
        return out


def _holdout_counts(
    rng: np.random.Generator, n_rows: int, disagreement: float, share: float
) -> tuple[int, int]:
    d = int(rng.binomial(n_rows, disagreement))
    b = int(rng.binomial(d, share))
    return b, d - b


def gate_promotion_rate(
    n_sims: int,
    *,
    n_rows: int = 10_000,
    disagreement: float = 0.10,
    challenger_share: float = 0.5,
    alpha: float = 0.05,
    seed: int = 0,
) -> Rate:
    """Share of simulated gates (McNemar on accuracy, ``decide`` in superior mode) that promote.

    >>> gate_promotion_rate(200, challenger_share=0.55, seed=1).rate >= 0.8   # power
    True
    """
    rng = np.random.default_rng(seed)
    policy = GatePolicy(mode="superior", alpha=alpha)
    promoted = 0
    for _ in range(n_sims):
        b, c = _holdout_counts(rng, n_rows, disagreement, challenger_share)
        promoted += decide([mcnemar_counts(b, c, n_rows, alpha=alpha)], policy).promote
    return Rate(f"McNemar gate promotes (share {challenger_share:g})", promoted, n_sims)


def simulate_holdout(
    rng: np.random.Generator,
    n_rows: int,
    disagreement: float,
    challenger_share: float,
    accuracy: float = 0.85,
) -> tuple[np.ndarray[Any, Any], ...]:
    """Labels and two models' predicted labels on one simulated holdout (binary, balanced classes).

    Where the models agree both are right with probability ``accuracy``; where they disagree exactly one
    is right, the challenger with probability ``challenger_share``.
    """
    y = rng.integers(0, 2, n_rows)
    disagree = rng.random(n_rows) < disagreement
    chall_wins = rng.random(n_rows) < challenger_share
    both_right = rng.random(n_rows) < accuracy
    champ_right = np.where(disagree, ~chall_wins, both_right)
    chall_right = np.where(disagree, chall_wins, both_right)
    return y, np.where(champ_right, y, 1 - y), np.where(chall_right, y, 1 - y)


def bootstrap_promotion_rate(
    n_sims: int,
    *,
    metric: str = "accuracy",
    method: str = "percentile",
    n_resamples: int = 999,
    n_rows: int = 10_000,
    disagreement: float = 0.10,
    challenger_share: float = 0.5,
    alpha: float = 0.05,
    seed: int = 0,
) -> Rate:
    """Share of simulated gates (paired bootstrap of ``metric``, ``decide`` in superior mode) that promote."""
    rng = np.random.default_rng(seed)
    policy = GatePolicy(mode="superior", alpha=alpha)
    promoted = 0
    for i in range(n_sims):
        y, champ, chall = simulate_holdout(rng, n_rows, disagreement, challenger_share)
        result = paired_bootstrap(
            y,
            champ,
            chall,
            metric=metric,
            method=method,
            n_resamples=n_resamples,
            alpha=alpha,
            seed=seed * 1_000_003 + i,
        )
        promoted += decide([result], policy).promote
    return Rate(f"bootstrap {method} on {metric} promotes (share {challenger_share:g})", promoted, n_sims)


@dataclass(frozen=True)
class SequentialRun:
    """Outcome of simulated rollouts: decisions of the mSPRT and of a naive z-test looked at as often."""

    name: str
    benefit: Rate
    harm: Rate
    naive: Rate
    rows_to_decision: tuple[int, ...]

    @property
    def median_rows_to_decision(self) -> float:
        return float(np.median(self.rows_to_decision)) if self.rows_to_decision else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "benefit": self.benefit.to_dict(),
            "harm": self.harm.to_dict(),
            "naive": self.naive.to_dict(),
            "median_rows_to_decision": jsonable(self.median_rows_to_decision),
        }


def sequential_rollouts(
    n_sims: int,
    *,
    outcome: str = "continuous",
    champion_mean: float = 0.0,
    challenger_mean: float = 0.0,
    sd: float = 1.0,
    looks: int = 100,
    batch: int = 100,
    challenger_share: float = 0.5,
    higher_is_better: bool = True,
    alpha: float = 0.05,
    expected_n: int = 5000,
    seed: int = 0,
) -> SequentialRun:
    """Simulate ``n_sims`` rollouts of ``looks`` batches of ``batch`` labeled rows (split by
    ``challenger_share``), deciding after every batch; outcomes are normal (``sd``) or Bernoulli with the
    given means. The naive comparator is a two-sided z-test at ``alpha`` checked after every batch.

    >>> run = sequential_rollouts(100, looks=50, seed=2)            # A/A, continuous
    >>> run.benefit.rate + run.harm.rate <= 0.05, run.naive.rate > 0.15
    (True, True)
    """
    rng = np.random.default_rng(seed)
    n_b = max(1, round(batch * challenger_share))
    n_a = max(1, batch - n_b)
    z = _z(alpha)
    benefit = harm = naive = 0
    rows: list[int] = []
    for _ in range(n_sims):
        test = MixtureSPRT(
            alpha=alpha, outcome=outcome, higher_is_better=higher_is_better, expected_n=expected_n
        )
        sums = np.zeros(2)
        squares = np.zeros(2)
        counts = np.zeros(2)
        fired = False
        for _look in range(looks):
            if outcome == "binary":
                a = (rng.random(n_a) < champion_mean).astype(np.float64)
                b = (rng.random(n_b) < challenger_mean).astype(np.float64)
            else:
                a = rng.normal(champion_mean, sd, n_a)
                b = rng.normal(challenger_mean, sd, n_b)
            test.update(a, b)
            sums += (a.sum(), b.sum())
            squares += ((a * a).sum(), (b * b).sum())
            counts += (n_a, n_b)
            if not fired:
                means = sums / counts
                var = np.maximum(squares / counts - means * means, 0.0)
                se = math.sqrt(float((var / counts).sum()))
                fired = bool(se > 0 and abs(means[1] - means[0]) / se > z)
            if test.decision != "continue" and fired:
                break
        benefit += test.decision == "benefit"
        harm += test.decision == "harm"
        naive += fired
        if test.decision != "continue":
            rows.append(test.n)
    label = f"{outcome} {champion_mean:g} -> {challenger_mean:g}, {challenger_share:.0%} challenger"
    return SequentialRun(
        label,
        Rate("benefit", benefit, n_sims),
        Rate("harm", harm, n_sims),
        Rate("naive z-test fires", naive, n_sims),
        tuple(rows),
    )


def _z(alpha: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(1.0 - alpha / 2.0))
