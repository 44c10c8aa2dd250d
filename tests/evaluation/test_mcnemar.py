"""McNemar's test against statsmodels, and Tango's interval against published values and by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from modelward.errors import DataError
from modelward.evaluation import mcnemar, mcnemar_counts, tango_interval
from modelward.evaluation.mcnemar import EXACT_BELOW, p_value_non_inferior, tango_score


def _table(b: int, c: int, both: int = 50, neither: int = 10) -> list[list[int]]:
    # rows: champion right / wrong; columns: challenger right / wrong
    return [[both, c], [b, neither]]


@pytest.mark.parametrize(
    ("b", "c"), [(0, 0), (3, 0), (10, 4), (12, 12), (13, 11), (20, 4), (40, 20), (300, 251)]
)
def test_two_sided_p_value_and_statistic_match_statsmodels(b: int, c: int) -> None:
    r = mcnemar_counts(b, c, 60 + b + c)
    exact = b + c < EXACT_BELOW
    ref = sm_mcnemar(_table(b, c), exact=exact, correction=True)
    assert r.test == ("exact" if exact else "chi2")
    # Tolerance: 1e-12 absolute; the same closed forms (binomial cdf, chi-square sf) are evaluated.
    assert r.details["p_value_two_sided"] == pytest.approx(float(ref.pvalue), abs=1e-12)
    if b + c:
        assert r.statistic == pytest.approx(float(ref.statistic), abs=1e-12)


def test_switches_to_chi_square_at_25_discordant_pairs() -> None:
    assert mcnemar_counts(20, 4, 100).test == "exact"
    assert mcnemar_counts(20, 5, 100).test == "chi2"
    assert mcnemar_counts(20, 5, 100, exact=True).test == "exact"


@pytest.mark.parametrize(("b", "c"), [(9, 3), (30, 12), (3, 9), (200, 150)])
def test_one_sided_p_value(b: int, c: int) -> None:
    r = mcnemar_counts(b, c, 1000)
    d = b + c
    if d < EXACT_BELOW:
        assert r.p_value == pytest.approx(
            float(stats.binomtest(b, d, 0.5, alternative="greater").pvalue), abs=1e-12
        )
    else:
        assert r.p_value == pytest.approx(float(stats.norm.sf((b - c - 1) / math.sqrt(d))), abs=1e-15)
        if b > c:  # half the continuity-corrected two-sided p-value
            assert r.p_value == pytest.approx(r.details["p_value_two_sided"] / 2, rel=1e-9)


def test_counts_from_predictions() -> None:
    y = np.array([1, 1, 0, 0, 1, 0, 1, 1])
    champ = np.array([1, 0, 0, 1, 1, 0, 0, 1])  # right on rows 0, 2, 4, 5, 7
    chall = np.array([1, 1, 0, 0, 0, 0, 1, 1])  # right on rows 0, 1, 2, 3, 5, 6, 7
    r = mcnemar(y, champ, chall)
    assert (r.details["challenger_only"], r.details["champion_only"], r.details["both_right"]) == (3, 1, 4)
    assert (r.champion, r.challenger, r.difference) == (5 / 8, 7 / 8, 2 / 8)


@pytest.mark.parametrize(
    ("challenger_only", "champion_only", "n", "expected"),
    [
        # Fagerland, Lydersen & Laake (2014), Bentur et al. data (a, b, c, d) = (1, 1, 7, 12): Tango 95 %
        # interval -0.517 to -0.026 (also in the ratesci test suite).
        (1, 7, 21, (-0.517, -0.026)),
        # Agresti & Min (2005) data (53, 16, 8, 9): Tango 95 % interval -0.020 to 0.207 (ratesci's tests).
        (16, 8, 86, (-0.020, 0.207)),
    ],
)
def test_tango_interval_matches_published_values(
    challenger_only: int, champion_only: int, n: int, expected: tuple[float, float]
) -> None:
    lo, hi = tango_interval(challenger_only, champion_only, n, 0.95)
    # Published to three decimals: agreement to rounding.
    assert (round(lo, 3), round(hi, 3)) == expected


def test_tango_score_is_mcnemar_z_at_zero_and_the_bounds_invert_it() -> None:
    assert tango_score(30, 10, 200, 0.0) == pytest.approx(20 / math.sqrt(40), rel=1e-12)
    lo, hi = tango_interval(30, 10, 200, 0.90)
    z = stats.norm.ppf(0.95)
    assert tango_score(30, 10, 200, lo) == pytest.approx(z, abs=1e-8)
    assert tango_score(30, 10, 200, hi) == pytest.approx(-z, abs=1e-8)


def test_tango_interval_edges() -> None:
    assert tango_interval(0, 10, 10, 0.9)[0] == -1.0  # every row: champion only
    assert tango_interval(10, 0, 10, 0.9)[1] == 1.0
    lo, hi = tango_interval(0, 0, 1000, 0.9)  # no discordant pair
    assert lo < 0 < hi and lo == pytest.approx(-hi)


@pytest.mark.parametrize(("p_b", "p_c", "n"), [(0.06, 0.04, 500), (0.02, 0.02, 300), (0.10, 0.05, 2000)])
def test_tango_one_sided_lower_bound_covers_at_nominal_rate(p_b: float, p_c: float, n: int) -> None:
    """The gate's non-inferiority bound: the one-sided 95 % lower bound (of the 90 % interval) must lie
    below the true difference in at least 95 % of samples; with 1,000 seeded tables the estimate's
    binomial SE is 0.7 points, so the check allows 2 SE below nominal."""
    rng = np.random.default_rng(int(n + 1000 * p_b))
    truth = p_b - p_c
    trials = 1000
    covered = 0
    for _ in range(trials):
        b, c, _rest = rng.multinomial(n, [p_b, p_c, 1 - p_b - p_c])
        covered += tango_interval(int(b), int(c), n, 0.90)[0] <= truth
    rate = covered / trials
    assert rate >= 0.95 - 2 * math.sqrt(0.95 * 0.05 / trials), rate


def test_non_inferiority_p_value_agrees_with_the_bound() -> None:
    for b, c in [(480, 520), (470, 530), (440, 560)]:
        r = mcnemar_counts(b, c, 10_000)
        for margin in (0.005, 0.01, 0.02):
            assert (p_value_non_inferior(r, margin) < r.alpha) == r.shows_non_inferior(margin)


def test_bad_inputs_name_the_problem() -> None:
    with pytest.raises(DataError, match="same rows"):
        mcnemar([1, 0], [1, 0, 1], [1, 0])
    with pytest.raises(DataError, match="at least the discordant rows"):
        mcnemar_counts(10, 10, 5)
    with pytest.raises(DataError, match="non-negative whole number"):
        mcnemar_counts(-1, 0, 5)
