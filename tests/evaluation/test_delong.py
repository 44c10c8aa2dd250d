"""DeLong's test: the fast placements against the O(N^2) definition, scikit-learn's AUC, a hand-worked
example, and its calibration under the null."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from modelward.errors import DataError
from modelward.evaluation import delong, delong_covariance
from modelward.evaluation.delong import placements


def _slow_covariance(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong, DeLong & Clarke-Pearson (1988) straight from the definition: psi(x, z) = 1 if x > z,
    1/2 if equal, 0 otherwise, over every (positive, negative) pair."""
    pos, neg = scores[:, y == 1], scores[:, y != 1]
    m, n = pos.shape[1], neg.shape[1]
    psi = (pos[:, :, None] > neg[:, None, :]) + 0.5 * (pos[:, :, None] == neg[:, None, :])
    v10 = psi.mean(axis=2)  # (k, m)
    v01 = psi.mean(axis=1)  # (k, n)
    auc = psi.mean(axis=(1, 2))
    return auc, np.cov(v10) / m + np.cov(v01) / n


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_algorithm_equals_the_definition_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    y = rng.integers(0, 2, n)
    # rounded scores: many ties within and across classes
    scores = np.vstack([np.round(y + rng.normal(0, s, n), 1) for s in (0.8, 1.0, 1.5)])
    auc_fast, cov_fast = delong_covariance(y, scores)
    auc_slow, cov_slow = _slow_covariance(y, scores)
    # Tolerance 1e-12: exact arithmetic on both sides, only the summation order differs.
    np.testing.assert_allclose(auc_fast, auc_slow, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cov_fast, cov_slow, rtol=0, atol=1e-12)
    for k in range(3):
        assert auc_fast[k] == pytest.approx(roc_auc_score(y, scores[k]), abs=1e-12)


def test_hand_worked_example() -> None:
    """Positives score (0.9, 0.8, 0.3) / (0.7, 0.6, 0.5), negatives (0.5, 0.2, 0.1) / (0.8, 0.2, 0.1).
    Placements: V10 = (1, 1, 2/3) and (2/3, 2/3, 2/3); V01 = (2/3, 1, 1) and (0, 1, 1). So the AUCs are
    8/9 and 2/3; S10 = [[1/27, 0], [0, 0]], S01 = [[1/27, 1/9], [1/9, 1/3]]; S = (S10 + S01) / 3."""
    y = [1, 1, 1, 0, 0, 0]
    scores = [[0.9, 0.8, 0.3, 0.5, 0.2, 0.1], [0.7, 0.6, 0.5, 0.8, 0.2, 0.1]]
    auc, v10, v01 = placements(y, scores)
    np.testing.assert_allclose(v10, [[1, 1, 2 / 3], [2 / 3, 2 / 3, 2 / 3]], atol=1e-15)
    np.testing.assert_allclose(v01, [[2 / 3, 1, 1], [0, 1, 1]], atol=1e-15)
    auc, cov = delong_covariance(y, scores)
    np.testing.assert_allclose(auc, [8 / 9, 2 / 3], atol=1e-15)
    np.testing.assert_allclose(cov, [[2 / 81, 1 / 27], [1 / 27, 1 / 9]], atol=1e-15)
    r = delong(y, scores[0], scores[1])
    se = math.sqrt(2 / 81 + 1 / 9 - 2 / 27)
    assert r.statistic == pytest.approx((2 / 3 - 8 / 9) / se, abs=1e-12)
    assert r.p_value == pytest.approx(stats.norm.sf((2 / 3 - 8 / 9) / se), abs=1e-12)


def test_null_calibration_of_the_one_sided_test() -> None:
    """Two equally good, correlated scorers: the one-sided test at 5 % rejects about 5 % of the time.
    400 seeded trials (SE 1.1 points): the rate must lie within 3 SE of 5 %."""
    rng = np.random.default_rng(42)
    trials, rejections = 400, 0
    for _ in range(trials):
        y = rng.integers(0, 2, 400)
        shared = rng.normal(0, 1, 400)
        a = y + shared + rng.normal(0, 0.7, 400)
        b = y + shared + rng.normal(0, 0.7, 400)
        rejections += delong(y, a, b).p_value < 0.05
    se = math.sqrt(0.05 * 0.95 / trials)
    assert abs(rejections / trials - 0.05) <= 3 * se, rejections


def test_identical_scores_are_no_evidence() -> None:
    y = [0, 1, 0, 1, 1, 0]
    s = [0.1, 0.8, 0.3, 0.7, 0.6, 0.2]
    r = delong(y, s, s)
    assert (r.difference, r.p_value, r.lower, r.upper) == (0.0, 1.0, 0.0, 0.0)
    assert not r.shows_better()


def test_pos_label_and_errors() -> None:
    y = np.array(["no", "yes", "no", "yes", "yes", "no"])
    s = [0.1, 0.8, 0.3, 0.7, 0.6, 0.4]
    assert delong(y, s, s, pos_label="yes").champion == 1.0
    with pytest.raises(DataError, match="both classes"):
        delong([1, 1, 1], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1])
    with pytest.raises(DataError, match="at least 2 positive and 2 negative"):
        delong([1, 0, 0], [0.9, 0.2, 0.3], [0.3, 0.2, 0.1])
    with pytest.raises(DataError, match="same rows"):
        delong([1, 0, 0, 1], [0.9, 0.2, 0.3, 0.5], [0.3, 0.2, 0.1])
