"""Multivariate drift (domain classifier): the AUC test against scipy/sklearn, null calibration, power on
a joint-only shift that per-feature tests miss, and attribution."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from modelward.errors import ConfigError, DataError
from modelward.monitoring import Profile
from modelward.monitoring.multivariate import auc_mann_whitney, multivariate_drift


def correlated(rng: np.random.Generator, n: int, rho: float, extra: int = 4) -> pd.DataFrame:
    """``a`` and ``b`` standard normal with correlation ``rho``; ``extra`` independent normals; a category."""
    z = rng.normal(size=(n, 2 + extra))
    frame = pd.DataFrame({"a": z[:, 0], "b": rho * z[:, 0] + np.sqrt(1 - rho**2) * z[:, 1]})
    for i in range(extra):
        frame[f"n{i}"] = z[:, 2 + i]
    frame["city"] = rng.choice(np.array(["paris", "lyon", "nice"], dtype=object), n)
    return frame


@pytest.mark.parametrize("seed", range(10))
def test_auc_and_p_value_equal_sklearn_and_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 3000))
    labels = rng.integers(0, 2, n)
    # rounded scores give many ties, which the tie correction must handle like scipy does
    scores = np.round(rng.random(n) + 0.1 * seed * labels / 10, 2)
    auc, p = auc_mann_whitney(labels, scores)
    assert auc == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    ref = stats.mannwhitneyu(
        scores[labels == 1], scores[labels == 0], alternative="greater", method="asymptotic"
    )
    assert p == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-15)


def test_no_shift_keeps_auc_near_half_and_false_alarms_near_alpha() -> None:
    # 40 seeded trials, 300 rows a side, 6 numeric + 1 categorical column, no attribution (speed).
    # Measured with these seeds: 2 of 40 p-values below 0.05 (expected 2), no alarm (the AUC >= 0.55 floor),
    # mean AUC 0.502.
    rng = np.random.default_rng(2024)
    p_values, aucs, alarms = [], [], 0
    for trial in range(40):
        result = multivariate_drift(
            correlated(rng, 300, 0.6), correlated(rng, 300, 0.6), seed=trial, max_iter=30, attribution=False
        )
        p_values.append(result.p_value)
        aucs.append(result.auc)
        alarms += result.drifted
    rejections = sum(p < 0.05 for p in p_values)
    assert rejections <= 4, rejections  # expected 2 of 40 at alpha 0.05; 4 is within binomial noise
    assert alarms <= rejections
    assert abs(float(np.mean(aucs)) - 0.5) < 0.03, np.mean(aucs)


def test_correlation_flip_is_missed_per_feature_but_caught_jointly_and_attributed() -> None:
    rng = np.random.default_rng(7)
    reference, current = correlated(rng, 4000, 0.8), correlated(rng, 4000, -0.8)
    univariate = Profile.fit(reference).compare(current, quality=False)
    assert univariate.drifted_features == []  # same marginals: every per-feature test passes
    result = multivariate_drift(reference, current, seed=1)
    assert result.drifted and result.auc > 0.85 and result.p_value < 1e-12
    assert set(result.top_features(2)) == {"a", "b"}
    shares = {a.feature: a.share for a in result.attributions}
    assert shares["a"] + shares["b"] > 0.9
    assert result.categorical == ("city",) and "city" in result.features
    doc = json.loads(json.dumps(result.to_dict()))
    assert doc["attributions"][0]["feature"] in {"a", "b"} and doc["drifted"] is True


def test_new_category_in_current_is_separating() -> None:
    rng = np.random.default_rng(3)
    reference, current = correlated(rng, 2000, 0.0), correlated(rng, 2000, 0.0)
    current.loc[current.index[:600], "city"] = "marseille"  # unseen in the reference
    result = multivariate_drift(reference, current, seed=0)
    assert result.drifted and result.top_features(1) == ["city"]


def test_subsampling_caps_rows_and_is_seeded() -> None:
    rng = np.random.default_rng(5)
    reference, current = correlated(rng, 3000, 0.5, extra=1), correlated(rng, 2500, 0.5, extra=1)
    first = multivariate_drift(reference, current, max_rows=500, max_iter=20, seed=3)
    again = multivariate_drift(reference, current, max_rows=500, max_iter=20, seed=3)
    assert (first.n_reference, first.n_current) == (500, 500)
    assert (first.n_reference_total, first.n_current_total) == (3000, 2500)
    assert first.to_dict() == again.to_dict()


def test_missing_values_and_booleans_are_accepted() -> None:
    rng = np.random.default_rng(11)
    reference, current = correlated(rng, 800, 0.3, extra=1), correlated(rng, 800, 0.3, extra=1)
    reference["flag"] = rng.random(800) < 0.5
    current["flag"] = rng.random(800) < 0.5
    reference.loc[reference.index[:100], "a"] = np.nan
    current.loc[current.index[:50], "city"] = None
    result = multivariate_drift(reference, current, max_iter=20, seed=0)
    assert set(result.features) == {"a", "b", "n0", "city", "flag"}
    assert 0.0 <= result.p_value <= 1.0 and len(result.fold_aucs) == 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 1.5}, "alpha must be between 0 and 1"),
        ({"min_auc": 0.3}, "min_auc must be in"),
        ({"n_splits": 1}, "n_splits must be an integer >= 2"),
        ({"columns": ["ghost"]}, "ghost"),
        ({"n_threads": 0}, "n_threads"),
    ],
)
def test_bad_settings_are_config_errors(kwargs: dict[str, object], message: str) -> None:
    frame = correlated(np.random.default_rng(0), 50, 0.0, extra=0)
    with pytest.raises(ConfigError, match=message):
        multivariate_drift(frame, frame, **kwargs)  # type: ignore[arg-type]


def test_too_few_rows_or_no_usable_column_are_data_errors() -> None:
    frame = correlated(np.random.default_rng(0), 50, 0.0, extra=0)
    with pytest.raises(DataError, match="at least 5 rows on each side"):
        multivariate_drift(frame, frame.head(3))
    dates = pd.DataFrame({"d": pd.date_range("2024-01-01", periods=50)})
    with pytest.raises(DataError, match="at least one numeric, boolean or categorical column"):
        multivariate_drift(dates, dates)


def test_attribution_auto_skips_the_importances_when_nothing_separates() -> None:
    rng = np.random.default_rng(8)
    reference, current = correlated(rng, 600, 0.5, extra=2), correlated(rng, 600, 0.5, extra=2)
    auto = multivariate_drift(reference, current, max_iter=20, seed=0)
    assert auto.p_value >= 0.05 and auto.attributions == () and auto.top_features() == []
    forced = multivariate_drift(reference, current, max_iter=20, seed=0, attribution=True)
    assert forced.auc == auto.auc and {a.feature for a in forced.attributions} == set(forced.features)
    with pytest.raises(ConfigError, match="attribution must be"):
        multivariate_drift(reference, current, attribution="sometimes")  # type: ignore[arg-type]
