"""Each statistic equals scipy's on seeded cases (acceptance 1), with the tolerance stated per test."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from modelward.monitoring import (
    PSI,
    AndersonDarling,
    ChiSquare,
    CramerVonMises,
    JensenShannon,
    KolmogorovSmirnov,
    Wasserstein,
    ZTest,
)
from modelward.monitoring._stats import KS_MAX_EXACT_N, _ks_statistic_blocked, kstwo_sf, searchsorted_sorted

N_CASES = 60


def _sizes(rng: np.random.Generator, case: int, high: int) -> tuple[int, int]:
    n1 = int(rng.integers(5, high))
    n2 = n1 if case % 3 == 0 else int(rng.integers(5, high))
    return n1, n2


def _numeric_case(case: int, high: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Continuous, shifted, rescaled and tied (integer) samples of mixed sizes."""
    rng = np.random.default_rng(1000 + case)
    n1, n2 = _sizes(rng, case, high)
    kind = case % 4
    if kind == 0:
        return rng.normal(size=n1), rng.normal(size=n2)
    if kind == 1:
        return rng.normal(size=n1), rng.normal(rng.uniform(0, 0.5), size=n2)
    if kind == 2:
        return rng.lognormal(size=n1), rng.lognormal(sigma=rng.uniform(0.8, 1.2), size=n2)
    return rng.integers(0, 12, n1).astype(float), rng.integers(0, 13, n2).astype(float)


@pytest.mark.parametrize("case", range(N_CASES))
def test_ks_equals_scipy_within_1e_9(case: int) -> None:
    # Sizes up to 14,000 cover scipy's exact regime (both <= 10,000) and its asymptotic one.
    a, b = _numeric_case(case, high=14_000)
    ours = KolmogorovSmirnov().compute(a, b)
    ref = stats.ks_2samp(a, b)
    assert abs(ours.statistic - float(ref.statistic)) <= 1e-9
    assert ours.p_value is not None
    assert abs(ours.p_value - float(ref.pvalue)) <= 1e-9
    exact = max(a.size, b.size) <= KS_MAX_EXACT_N
    assert ours.details["p_value_method"] == ("exact" if exact else "asymp")


def test_ks_cases_cover_both_p_value_regimes() -> None:
    largest = [max(a.size, b.size) for a, b in (_numeric_case(c, high=14_000) for c in range(N_CASES))]
    assert sum(n <= KS_MAX_EXACT_N for n in largest) >= 20
    assert sum(n > KS_MAX_EXACT_N for n in largest) >= 10


@pytest.mark.parametrize("n", [141, 2_000, 20_000, 60_000])
@pytest.mark.parametrize("c", [0.4, 1.2, 1.49, 1.6, 2.5, 5.0, 12.0])
def test_asymptotic_ks_p_value_equals_scipy_kstwo_within_1e_9(n: int, c: float) -> None:
    # c = sqrt(n) * D; 1.49 <= c < 19 is the band where scipy sums the Smirnov series in C (slow) and
    # modelward sums it vectorised in log space.
    d = c / math.sqrt(n)
    assert abs(kstwo_sf(d, n) - float(stats.kstwo.sf(d, n))) <= 1e-9


@pytest.mark.parametrize("case", range(N_CASES))
def test_wasserstein_equals_scipy_within_1e_9_relative(case: int) -> None:
    a, b = _numeric_case(case)
    out = Wasserstein().compute(a, b)
    expected = stats.wasserstein_distance(a, b) / np.std(a)
    assert out.statistic == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("case", range(N_CASES))
def test_cramervonmises_equals_scipy_within_1e_9(case: int) -> None:
    a, b = _numeric_case(case, high=1500)
    out = CramerVonMises().compute(a, b)
    ref = stats.cramervonmises_2samp(a, b)
    assert out.statistic == pytest.approx(float(ref.statistic), rel=1e-9)
    assert out.p_value is not None
    assert abs(out.p_value - float(ref.pvalue)) <= 1e-9


@pytest.mark.parametrize("case", range(N_CASES))
def test_anderson_darling_equals_scipy_within_1e_9(case: int) -> None:
    a, b = _numeric_case(case, high=1500)
    out = AndersonDarling().compute(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns when its p-value table caps/floors the value
        ref = stats.anderson_ksamp([a, b], variant="midrank")
    assert out.statistic == pytest.approx(float(ref.statistic), rel=1e-9)
    assert out.p_value is not None
    assert abs(out.p_value - float(ref.pvalue)) <= 1e-9
    capped = float(ref.pvalue) in (0.25, 0.001)
    assert ("note" in out.details) == capped


def _categorical_case(case: int) -> tuple[np.ndarray, np.ndarray]:
    """Samples over 2-8 categories; every third case has categories only the current side has."""
    rng = np.random.default_rng(5000 + case)
    k = int(rng.integers(2, 9))
    cats = np.array([f"c{i}" for i in range(k + 2)], dtype=object)
    p_ref = rng.dirichlet(np.ones(k))
    p_cur = rng.dirichlet(np.ones(k)) if case % 2 else p_ref
    n1, n2 = int(rng.integers(20, 3000)), int(rng.integers(20, 3000))
    ref = rng.choice(cats[:k], n1, p=p_ref)
    cur = rng.choice(cats[:k], n2, p=p_cur)
    if case % 3 == 0:
        cur[: max(1, n2 // 50)] = cats[k]
        cur[-1] = cats[k + 1]
    return ref, cur


def _table(ref: np.ndarray, cur: np.ndarray) -> tuple[list[str], np.ndarray]:
    cats = sorted(set(ref) | set(cur))
    return cats, np.array([[np.sum(ref == c) for c in cats], [np.sum(cur == c) for c in cats]])


@pytest.mark.parametrize("case", range(N_CASES))
def test_chi_square_equals_scipy_chi2_contingency_within_1e_9(case: int) -> None:
    ref, cur = _categorical_case(case)
    _cats, table = _table(ref, cur)
    out = ChiSquare().compute(ref, cur)
    expected = stats.chi2_contingency(table)
    assert out.statistic == pytest.approx(float(expected.statistic), rel=1e-9, abs=1e-12)
    assert out.p_value is not None
    assert abs(out.p_value - float(expected.pvalue)) <= 1e-9
    assert out.details["dof"] == expected.dof
    unseen = sorted(set(cur) - set(ref))
    assert sorted(out.details.get("new_categories", [])) == unseen


def test_chi_square_two_categories_uses_yates_correction_like_scipy() -> None:
    ref = np.array(["a"] * 30 + ["b"] * 10, dtype=object)
    cur = np.array(["a"] * 18 + ["b"] * 22, dtype=object)
    out = ChiSquare().compute(ref, cur)
    with_yates = stats.chi2_contingency([[30, 10], [18, 22]], correction=True)
    without = stats.chi2_contingency([[30, 10], [18, 22]], correction=False)
    assert out.statistic == pytest.approx(float(with_yates.statistic), rel=1e-12)
    assert out.statistic < float(without.statistic)


@pytest.mark.parametrize("case", range(N_CASES))
def test_categorical_jensenshannon_equals_scipy_within_1e_9(case: int) -> None:
    ref, cur = _categorical_case(case)
    _, table = _table(ref, cur)
    out = JensenShannon().compute(ref, cur)
    assert out.statistic == pytest.approx(float(jensenshannon(table[0], table[1], base=2)), abs=1e-9)


@pytest.mark.parametrize("case", range(N_CASES))
def test_numeric_jensenshannon_equals_scipy_on_reference_quantile_bins(case: int) -> None:
    a, b = _numeric_case(case)
    bins = 20
    edges = np.unique(np.quantile(a, np.arange(1, bins) / bins))
    # bins (-inf, e1], (e1, e2], ..., (ek, inf), counted independently of modelward's code
    p = np.bincount(np.searchsorted(edges, a, side="left"), minlength=edges.size + 1)
    q = np.bincount(np.searchsorted(edges, b, side="left"), minlength=edges.size + 1)
    out = JensenShannon(bins=bins).compute(a, b)
    assert out.statistic == pytest.approx(float(jensenshannon(p, q, base=2)), abs=1e-9)


@pytest.mark.parametrize("case", range(N_CASES))
def test_ztest_squared_equals_uncorrected_chi_square(case: int) -> None:
    rng = np.random.default_rng(9000 + case)
    ref = rng.random(int(rng.integers(10, 5000))) < rng.uniform(0.05, 0.95)
    cur = rng.random(int(rng.integers(10, 5000))) < rng.uniform(0.05, 0.95)
    out = ZTest().compute(ref, cur)
    table = [[ref.sum(), (~ref).sum()], [cur.sum(), (~cur).sum()]]
    expected = stats.chi2_contingency(table, correction=False)
    assert out.statistic**2 == pytest.approx(float(expected.statistic), rel=1e-9)
    assert out.p_value is not None
    assert abs(out.p_value - float(expected.pvalue)) <= 1e-9
    assert out.details["current_share"] == pytest.approx(cur.mean())


def test_psi_categorical_worked_example() -> None:
    # reference A 50, B 30, C 20; current A 40, B 30, C 20, D 10 (D unseen: its reference share 0 -> 1e-4)
    # PSI = (0.4-0.5) ln(0.4/0.5) + 0 + 0 + (0.1-0.0001) ln(0.1/0.0001)
    #     = 0.0223143551 + 0.0999 * 6.9077552790 = 0.0223143551 + 0.6900847524 = 0.7123991075
    ref = np.array(["A"] * 50 + ["B"] * 30 + ["C"] * 20, dtype=object)
    cur = np.array(["A"] * 40 + ["B"] * 30 + ["C"] * 20 + ["D"] * 10, dtype=object)
    out = PSI().compute(ref, cur)
    assert out.statistic == pytest.approx(0.7123991075, abs=1e-9)
    assert out.drifted  # >= 0.2


def test_psi_numeric_worked_example() -> None:
    # reference 1..10, bins=5: edges at quantiles .2 .4 .6 .8 (linear) = 2.8, 4.6, 6.4, 8.2
    # reference shares: 0.2 each. current [1,1,1,1,2,3,5,7,9,20] -> shares 0.5, 0.1, 0.1, 0.1, 0.2
    # PSI = 0.3 ln 2.5 + 3 * (-0.1) ln 0.5 + 0 = 0.2748872196 + 0.2079441542 = 0.4828313737
    ref = np.arange(1.0, 11.0)
    cur = np.array([1, 1, 1, 1, 2, 3, 5, 7, 9, 20], dtype=float)
    out = PSI(bins=5).compute(ref, cur)
    assert out.details["bin_edges"] == pytest.approx([2.8, 4.6, 6.4, 8.2])
    assert out.details["reference_counts"] == [2, 2, 2, 2, 2]
    assert out.details["current_counts"] == [5, 1, 1, 1, 2]
    assert out.statistic == pytest.approx(0.4828313737, abs=1e-9)


def test_ks_statistic_is_bit_identical_to_scipy_on_ties_between_samples() -> None:
    rng = np.random.default_rng(7)
    for _ in range(8):
        a = rng.integers(0, 5, 20_000).astype(float)
        b = rng.integers(0, 6, 15_000).astype(float)
        assert KolmogorovSmirnov().compute(a, b).statistic == float(stats.ks_2samp(a, b).statistic)


@pytest.mark.parametrize(("n_ref", "n_cur"), [(1_000, 200_000), (200_000, 1_000), (300_000, 300_000)])
@pytest.mark.parametrize("side", ["left", "right"])
def test_blockwise_searchsorted_equals_numpy(n_ref: int, n_cur: int, side: str) -> None:
    rng = np.random.default_rng(n_ref + n_cur)
    cur = np.sort(np.round(rng.normal(0.3, 1.2, n_cur), 2))  # rounded: many ties, also with ref
    ref = np.sort(np.concatenate([rng.normal(size=n_ref), cur[:: max(1, n_cur // 500)]]))
    assert np.array_equal(searchsorted_sorted(ref, cur, side), np.searchsorted(ref, cur, side=side))  # type: ignore[arg-type]


@pytest.mark.parametrize("case", range(12))
def test_blocked_ks_statistic_is_bit_identical_to_scipy(case: int) -> None:
    # The path that locates only the blocks that can hold an extreme (used from 32,768 window values).
    rng = np.random.default_rng(500 + case)
    n = int(rng.integers(3_000, 120_000))
    kind = case % 4
    if kind == 0:  # no shift: a flat difference curve, the hardest case for the block bounds
        a, b = rng.normal(size=n), rng.normal(size=n)
    elif kind == 1:
        a, b = rng.normal(size=n), rng.normal(rng.uniform(0, 0.05), size=n)
    elif kind == 2:  # ties inside and between the samples
        a, b = rng.poisson(4.0, n).astype(float), rng.poisson(4.05, n).astype(float)
    else:
        a, b = np.round(rng.normal(size=n), 2), np.round(rng.normal(0.01, 1.0, size=n), 2)
    expected = float(stats.ks_2samp(a, b).statistic)
    assert _ks_statistic_blocked(np.sort(a), np.sort(b)) == expected  # forced, whatever the size
    assert KolmogorovSmirnov().compute(a, b).statistic == expected


def test_mean_std_is_bit_identical_to_numpy() -> None:
    from modelward.monitoring._columns import mean_std

    rng = np.random.default_rng(11)
    for i in range(60):
        n = int(rng.integers(1, 200_000)) if i % 3 else int(rng.integers(1, 40))
        x = np.sort(rng.lognormal(rng.normal(0, 3), rng.uniform(0.1, 3), n) + rng.normal(0, 1e6))
        assert mean_std(x) == (float(x.mean()), float(x.std()))


def test_count_missing_equals_pandas_isna() -> None:
    import pandas as pd

    from modelward.monitoring._columns import count_missing

    columns = [
        pd.Series([1.0, np.nan, np.inf, None]),
        pd.Series([1, 2, 3]),
        pd.Series([True, False]),
        pd.Series(["a", None, "b"], dtype="str"),
        pd.Series(["a", None, np.nan], dtype=object),
        pd.Series([1, None], dtype="Int64"),
        pd.Series(pd.Categorical(["a", None, "b"])),
        pd.Series(pd.to_datetime(["2020-01-01", None])),
        pd.Series([], dtype=float),
    ]
    for series in columns:
        assert count_missing(series) == int(series.isna().sum()), series.dtype


def test_finite_sorted_leaves_the_callers_columns_untouched() -> None:
    import pandas as pd

    from modelward.monitoring._columns import finite_sorted

    rng = np.random.default_rng(5)
    columns = [
        pd.Series(rng.integers(-50, 50, 1000)),
        pd.Series(rng.normal(size=1000)),
        pd.Series(rng.normal(size=1000).astype(np.float32)),
        pd.Series(rng.random(1000) < 0.5),
        pd.Series(np.where(rng.random(1000) < 0.1, np.nan, rng.normal(size=1000))),
        pd.Series(rng.integers(0, 9, 1000).astype(np.uint8)),
    ]
    for series in columns:
        before = series.to_numpy().copy()
        values, n_missing = finite_sorted(series)
        raw = series.to_numpy(dtype=np.float64)
        expected = np.sort(raw[np.isfinite(raw)])
        assert np.array_equal(values, expected) and n_missing == int((~np.isfinite(raw)).sum())
        assert np.array_equal(series.to_numpy(), before, equal_nan=True)
