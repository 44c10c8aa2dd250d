"""The regression gate: Wilcoxon's p-value equals scipy's, the MAE interval equals the paired bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from modelward.evaluation import paired_bootstrap, wilcoxon_abs_errors


@pytest.mark.parametrize(("n", "seed"), [(30, 0), (400, 1)])  # exact and normal-approximation regimes
def test_p_value_matches_scipy_and_interval_matches_the_bootstrap(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n)
    champ = y + rng.normal(0, 1.0, n)
    chall = y + rng.normal(0, 0.8, n)
    r = wilcoxon_abs_errors(y, champ, chall, n_resamples=999, seed=5)
    ref = stats.wilcoxon(np.abs(champ - y), np.abs(chall - y), alternative="greater")
    assert r.p_value == pytest.approx(float(ref.pvalue), abs=1e-12)
    assert r.statistic == pytest.approx(float(ref.statistic), abs=1e-12)
    mae = paired_bootstrap(y, champ, chall, metric="mae", n_resamples=999, seed=5)
    assert (r.lower, r.upper, r.difference) == (mae.lower, mae.upper, mae.difference)
    assert r.metric == "mae" and not r.higher_is_better


def test_equal_errors_everywhere_are_no_evidence() -> None:
    y = np.arange(10.0)
    r = wilcoxon_abs_errors(y, y + 1.0, y - 1.0, n_resamples=199)  # same absolute errors, opposite signs
    assert r.p_value == 1.0 and r.difference == 0.0 and r.details["nonzero_differences"] == 0
