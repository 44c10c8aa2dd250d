"""McNemar's test for accuracy, and Tango's interval for the difference of paired accuracies.

Both models score the same rows, so only the rows where exactly one of them is right carry evidence:
``b`` rows the challenger gets right and the champion wrong, ``c`` the other way round. McNemar's test
asks whether ``b`` and ``c`` differ by more than chance. As statsmodels' ``mcnemar`` it is exact
(binomial with p = 1/2 on the ``b + c`` discordant rows) when ``b + c`` < :data:`EXACT_BELOW`, and the
chi-square test with continuity correction ``(|b - c| - 1)^2 / (b + c)`` above. The gate uses it one-sided
("the challenger is better"): the exact p-value is ``P(X >= b)``, ``X ~ Binomial(b + c, 1/2)``; the
chi-square one is ``1 - Phi((b - c - 1) / sqrt(b + c))``, half the two-sided p-value when ``b > c``.

A significance test cannot say "no worse than": for non-inferiority the gate needs an interval for the
difference in accuracy ``Δ = (b - c) / n``. This module uses Tango's score interval for the difference of
paired proportions (Tango 1998, Statistics in Medicine 17:891-908; recommended by Newcombe 1998 and
Fagerland, Lydersen & Laake 2013 for its coverage close to nominal even with few discordant pairs). It
inverts the score statistic

    Z(Δ0) = (b - c - n Δ0) / sqrt(n (2 q(Δ0) + Δ0 (1 - Δ0)))

where ``q(Δ0)`` is the maximum-likelihood estimate of the champion-only cell probability under the
constraint Δ = Δ0 (a closed-form root of a quadratic). At Δ0 = 0 it is McNemar's z without continuity
correction. **How the margin enters:** with margin δ (accuracy points, e.g. 0.01 = one point), the
challenger is non-inferior at level alpha when the one-sided ``1 - alpha`` Tango lower bound of Δ exceeds -δ,
i.e. the score test rejects H0: Δ <= -δ at level alpha (``p_value_non_inferior``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import optimize, stats

from modelward.errors import DataError
from modelward.evaluation._inputs import as_1d, same_rows
from modelward.evaluation.result import PairedComparison, check_alpha

#: Discordant pairs below which the exact binomial test is used (statsmodels' advice).
EXACT_BELOW = 25

_EDGE = 1e-12


def mcnemar(
    y_true: Any, champion_pred: Any, challenger_pred: Any, *, alpha: float = 0.05, exact: bool | None = None
) -> PairedComparison:
    """Compare the accuracy of two classifiers' predictions on the same labeled rows.

    Args:
        y_true: the labels.
        champion_pred, challenger_pred: each model's predicted labels for the same rows.
        alpha: one-sided significance level (the interval is two-sided at ``1 - 2 * alpha``).
        exact: force the exact binomial test (``True``) or the chi-square test (``False``); by default
            exact when the discordant pairs are fewer than :data:`EXACT_BELOW`.

    >>> y = [1, 0, 1, 1, 0, 1, 0, 1, 1, 0] * 10
    >>> champ = [1, 0, 1, 0, 0, 1, 1, 1, 0, 0] * 10   # 7 of 10 right
    >>> chall = [1, 0, 1, 1, 0, 1, 0, 1, 0, 0] * 10   # 9 of 10 right
    >>> r = mcnemar(y, champ, chall)
    >>> r.test, r.details["challenger_only"], r.details["champion_only"], round(r.p_value, 6)
    ('exact', 20, 0, 1e-06)
    >>> r.shows_better(), round(r.lower, 3), round(r.upper, 3)
    (True, 0.143, 0.273)
    """
    y = as_1d(y_true, "y_true")
    a = as_1d(champion_pred, "champion_pred")
    b = as_1d(challenger_pred, "challenger_pred")
    n = same_rows(y_true=y, champion_pred=a, challenger_pred=b)
    champ_right = a == y
    chall_right = b == y
    challenger_only = int(np.count_nonzero(chall_right & ~champ_right))
    champion_only = int(np.count_nonzero(champ_right & ~chall_right))
    both_right = int(np.count_nonzero(champ_right & chall_right))
    return mcnemar_counts(challenger_only, champion_only, n, alpha=alpha, exact=exact, both_right=both_right)


def mcnemar_counts(
    challenger_only: int,
    champion_only: int,
    n: int,
    *,
    alpha: float = 0.05,
    exact: bool | None = None,
    both_right: int | None = None,
) -> PairedComparison:
    """:func:`mcnemar` from the counts alone (what simulations and stored reports hold).

    Args:
        challenger_only: rows only the challenger gets right (``b``).
        champion_only: rows only the champion gets right (``c``).
        n: all rows compared (concordant ones included).
        both_right: rows both get right, to report each model's accuracy (``None``: accuracies unknown,
            reported as ``nan``; the test does not need them).

    >>> r = mcnemar_counts(550, 450, 10_000)          # 10 % disagreement, challenger right on 55 %
    >>> r.test, round(r.statistic, 3), round(r.p_value, 5)
    ('chi2', 9.801, 0.00087)
    """
    alpha = check_alpha(alpha)
    b, c = _count(challenger_only, "challenger_only"), _count(champion_only, "champion_only")
    n = _count(n, "n")
    if n == 0 or b + c > n:
        raise DataError(
            f"n must be positive and at least the discordant rows: got n = {n}, "
            f"challenger_only = {b}, champion_only = {c}."
        )
    d = b + c
    use_exact = d < EXACT_BELOW if exact is None else bool(exact)
    if d == 0:
        statistic, p_two, p_greater = 0.0, 1.0, 1.0
    elif use_exact:
        statistic = float(min(b, c))
        p_two = min(1.0, 2.0 * float(stats.binom.cdf(min(b, c), d, 0.5)))
        p_greater = float(stats.binom.sf(b - 1, d, 0.5))
    else:
        statistic = (abs(b - c) - 1.0) ** 2 / d
        p_two = float(stats.chi2.sf(statistic, 1))
        p_greater = float(stats.norm.sf((b - c - 1.0) / math.sqrt(d)))
    lower, upper = tango_interval(b, c, n, 1.0 - 2.0 * alpha)
    details: dict[str, Any] = {
        "challenger_only": b,
        "champion_only": c,
        "discordant": d,
        "p_value_two_sided": p_two,
        "exact_below": EXACT_BELOW,
    }
    if both_right is not None:
        champion_acc = (both_right + c) / n
        challenger_acc = (both_right + b) / n
        details["both_right"] = int(both_right)
    else:
        champion_acc = challenger_acc = math.nan
    return PairedComparison(
        metric="accuracy",
        test="exact" if use_exact else "chi2",
        interval="tango",
        n=n,
        champion=champion_acc,
        challenger=challenger_acc,
        difference=(b - c) / n,
        higher_is_better=True,
        alpha=alpha,
        lower=lower,
        upper=upper,
        p_value=p_greater,
        statistic=statistic,
        details=details,
    )


def tango_score(challenger_only: int, champion_only: int, n: int, delta0: float) -> float:
    """Tango's score statistic ``Z(Δ0)`` for H0: accuracy(challenger) - accuracy(champion) = Δ0.

    Positive when the observed difference ``(b - c) / n`` exceeds Δ0; decreasing in Δ0.

    >>> round(tango_score(30, 10, 200, 0.0), 6) == round((30 - 10) / math.sqrt(40), 6)   # McNemar's z
    True
    """
    b, c = float(challenger_only), float(champion_only)
    nn = float(n)
    a_coef = 2.0 * nn
    b_coef = -b - c + (2.0 * nn - b + c) * delta0
    c_coef = -c * delta0 * (1.0 - delta0)
    q = (math.sqrt(max(b_coef * b_coef - 4.0 * a_coef * c_coef, 0.0)) - b_coef) / (2.0 * a_coef)
    var = nn * (2.0 * q + delta0 * (1.0 - delta0))
    num = b - c - nn * delta0
    if var <= 0.0:
        return 0.0 if num == 0 else math.copysign(math.inf, num)
    return num / math.sqrt(var)


def tango_interval(
    challenger_only: int, champion_only: int, n: int, confidence: float
) -> tuple[float, float]:
    """Tango's two-sided score interval for the difference of paired accuracies (challenger - champion).

    Each end is a one-sided ``(1 + confidence) / 2`` bound. Bounds are found by root-finding on the
    monotone score statistic.

    >>> lo, hi = tango_interval(0, 0, 500, 0.90)    # no discordant pair: the interval is not a point
    >>> round(lo, 5), round(hi, 5)
    (-0.00538, 0.00538)
    """
    b, c = int(challenger_only), int(champion_only)
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    est = (b - c) / n
    lo_edge, hi_edge = -1.0 + _EDGE, 1.0 - _EDGE

    def f(delta0: float, target: float) -> float:
        return tango_score(b, c, n, delta0) - target

    if est <= lo_edge or f(lo_edge, z) <= 0.0:
        lower = -1.0
    else:
        lower = float(optimize.brentq(f, lo_edge, min(est, hi_edge), args=(z,), xtol=1e-12))
    if est >= hi_edge or f(hi_edge, -z) >= 0.0:
        upper = 1.0
    else:
        upper = float(optimize.brentq(f, max(est, lo_edge), hi_edge, args=(-z,), xtol=1e-12))
    return lower, upper


def p_value_non_inferior(result: PairedComparison, margin: float) -> float:
    """One-sided p-value of Tango's score test of H0: Δ <= -margin for a McNemar result.

    >>> r = mcnemar_counts(480, 520, 10_000)          # challenger 0.4 points worse
    >>> round(p_value_non_inferior(r, 0.01), 4)       # ... but clearly not 1 point worse
    0.0292
    """
    b = int(result.details["challenger_only"])
    c = int(result.details["champion_only"])
    return float(stats.norm.sf(tango_score(b, c, result.n, -float(margin))))


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < 0:
        raise DataError(f"{name} must be a non-negative whole number of rows, got {value!r}.")
    return int(value)
