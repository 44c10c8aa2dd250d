"""The paired bootstrap against a direct scipy.stats.bootstrap call, and its metrics against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from modelward.errors import ConfigError, DataError
from modelward.evaluation import paired_bootstrap
from modelward.evaluation._metrics import METRICS, get_metric, value_of


def _classifiers(n: int = 800, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    champ = np.where(rng.random(n) < 0.80, y, 1 - y)
    chall = np.where(rng.random(n) < 0.84, y, 1 - y)
    return y, champ, chall


def _f1_from_arrays(y: np.ndarray, a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    def f1(p: np.ndarray) -> np.ndarray:
        tp = ((y == 1) & (p == 1)).sum(axis=axis)
        fp = ((y != 1) & (p == 1)).sum(axis=axis)
        fn = ((y == 1) & (p != 1)).sum(axis=axis)
        return 2 * tp / (2 * tp + fp + fn)

    return f1(b) - f1(a)


@pytest.mark.parametrize("method", ["BCa", "percentile"])
def test_interval_equals_a_direct_scipy_paired_bootstrap(method: str) -> None:
    """Same seed, same resampled rows: our row-kind shortcut must give scipy's own interval of the F1
    difference computed from the raw arrays (tolerance 1e-9, floating-point summation order only)."""
    y, champ, chall = _classifiers()
    ours = paired_bootstrap(y, champ, chall, metric="f1", method=method, n_resamples=1999, seed=7)
    ref = stats.bootstrap(
        (y, champ, chall),
        _f1_from_arrays,
        n_resamples=1999,
        paired=True,
        vectorized=True,
        confidence_level=0.90,
        method=method,
        rng=np.random.default_rng(7),
    )
    assert ours.lower == pytest.approx(float(ref.confidence_interval.low), abs=1e-9)
    assert ours.upper == pytest.approx(float(ref.confidence_interval.high), abs=1e-9)
    assert ours.test == ("bootstrap_bca" if method == "BCa" else "bootstrap_percentile")
    assert ours.difference == pytest.approx(skm.f1_score(y, chall) - skm.f1_score(y, champ), abs=1e-12)


def test_continuous_metric_interval_equals_a_direct_scipy_call() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=300)
    a, b = y + rng.normal(0, 1, 300), y + rng.normal(0, 0.9, 300)
    ours = paired_bootstrap(y, a, b, metric="rmse", n_resamples=999, seed=3)

    def rmse_diff(yy: np.ndarray, aa: np.ndarray, bb: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.sqrt(((bb - yy) ** 2).mean(axis=axis)) - np.sqrt(((aa - yy) ** 2).mean(axis=axis))

    ref = stats.bootstrap(
        (y, a, b),
        rmse_diff,
        n_resamples=999,
        paired=True,
        confidence_level=0.90,
        method="BCa",
        rng=np.random.default_rng(3),
    )
    assert (ours.lower, ours.upper) == pytest.approx(
        (float(ref.confidence_interval.low), float(ref.confidence_interval.high)), abs=1e-9
    )


def test_builtin_metric_values_match_scikit_learn() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 500)
    labels = np.where(rng.random(500) < 0.8, y, 1 - y)
    proba = np.clip(0.5 + (2 * y - 1) * rng.uniform(-0.2, 0.45, 500), 0.01, 0.99)
    proba3 = rng.dirichlet([1, 1, 1], 500)
    y3 = rng.integers(0, 3, 500)
    target = rng.normal(size=500)
    pred = target + rng.normal(0, 0.5, 500)
    expected = {
        "accuracy": (y, labels, skm.accuracy_score(y, labels)),
        "precision": (y, labels, skm.precision_score(y, labels)),
        "recall": (y, labels, skm.recall_score(y, labels)),
        "f1": (y, labels, skm.f1_score(y, labels)),
        "log_loss": (y, proba, skm.log_loss(y, proba)),
        "brier": (y, proba, skm.brier_score_loss(y, proba)),
        "mae": (target, pred, skm.mean_absolute_error(target, pred)),
        "mse": (target, pred, skm.mean_squared_error(target, pred)),
        "rmse": (target, pred, skm.root_mean_squared_error(target, pred)),
        "r2": (target, pred, skm.r2_score(target, pred)),
    }
    assert set(expected) == set(METRICS)
    for name, (truth, p, want) in expected.items():
        spec = get_metric(name)
        # Tolerance 1e-12: the same sums in a different order.
        assert value_of(spec, spec.rows(truth, p, 1)) == pytest.approx(want, abs=1e-12), name
    multi = get_metric("log_loss")
    assert value_of(multi, multi.rows(y3, proba3, 1)) == pytest.approx(skm.log_loss(y3, proba3), abs=1e-12)


def test_loss_metrics_point_the_right_way() -> None:
    y, champ, chall = _classifiers(seed=4)
    p_champ = np.where(champ == 1, 0.7, 0.3)
    p_chall = np.where(chall == 1, 0.8, 0.2)
    r = paired_bootstrap(y, p_champ, p_chall, metric="log_loss", n_resamples=999)
    assert not r.higher_is_better
    assert r.improvement == -r.difference
    assert r.improvement_lower == -r.upper


def test_identical_models_give_an_exact_zero_difference() -> None:
    y, champ, _ = _classifiers()
    r = paired_bootstrap(y, champ, champ.copy(), metric="f1")
    assert (r.difference, r.lower, r.upper, r.interval) == (0.0, 0.0, 0.0, "exact")
    assert not r.shows_better()


def test_custom_metric_needs_a_direction_and_runs() -> None:
    y, champ, chall = _classifiers(n=200)

    def balanced_accuracy(t: np.ndarray, p: np.ndarray) -> float:
        return float(skm.balanced_accuracy_score(t, p))

    with pytest.raises(ConfigError, match="higher_is_better"):
        paired_bootstrap(y, champ, chall, metric=balanced_accuracy)
    r = paired_bootstrap(
        y, champ, chall, metric=balanced_accuracy, higher_is_better=True, n_resamples=199, method="percentile"
    )
    assert r.metric == "balanced_accuracy" and r.lower <= r.difference <= r.upper


def test_seeded_and_deterministic() -> None:
    y, champ, chall = _classifiers()
    a = paired_bootstrap(y, champ, chall, n_resamples=499, seed=11)
    b = paired_bootstrap(y, champ, chall, n_resamples=499, seed=11)
    c = paired_bootstrap(y, champ, chall, n_resamples=499, seed=12)
    assert a == b and (a.lower, a.upper) != (c.lower, c.upper)


def test_degenerate_bca_falls_back_to_percentile() -> None:
    """A metric that is the same on every resample makes BCa's acceleration 0/0 (scipy warns and returns
    nan); the result says so and uses the percentile interval of the same resamples instead."""
    y, champ, chall = _classifiers(n=60)

    def rows_scored(t: np.ndarray, p: np.ndarray) -> float:
        return float(len(p))

    r = paired_bootstrap(y, champ, chall, metric=rows_scored, higher_is_better=True, n_resamples=199)
    assert r.interval == "percentile" and "fallback" in r.details
    assert (r.lower, r.upper) == (0.0, 0.0)


def test_bad_arguments() -> None:
    y, champ, chall = _classifiers(n=50)
    with pytest.raises(ConfigError, match="Unknown metric 'auc'"):
        paired_bootstrap(y, champ, chall, metric="auc")
    with pytest.raises(ConfigError, match="method must be one of"):
        paired_bootstrap(y, champ, chall, method="basic")
    with pytest.raises(ConfigError, match="alpha"):
        paired_bootstrap(y, champ, chall, alpha=0.7)
    with pytest.raises(DataError, match="same rows"):
        paired_bootstrap(y, champ, chall[:-1])
    with pytest.raises(DataError, match="row 3"):
        paired_bootstrap([1.0, 2.0, 3.0, np.nan], [1.0] * 4, [2.0] * 4, metric="mae")
    with pytest.raises(ConfigError, match="higher is worse"):
        paired_bootstrap(y, champ, chall, metric="mae", higher_is_better=True)
