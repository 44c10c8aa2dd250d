"""Prediction and label drift reuse the per-feature tests: statistics equal scipy's, verdicts make sense."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from modelward.errors import ConfigError, DataError
from modelward.monitoring.outputs import label_drift, prediction_drift


def test_class_predictions_use_chi_square_on_class_counts_equal_to_scipy() -> None:
    rng = np.random.default_rng(0)
    ref = rng.choice(["a", "b", "c"], 3000, p=[0.5, 0.3, 0.2])
    cur = rng.choice(["a", "b", "c"], 2000, p=[0.4, 0.3, 0.3])
    result = prediction_drift(ref, cur, task="classification")
    (feature,) = result.features
    table = np.array([[np.sum(ref == c) for c in "abc"], [np.sum(cur == c) for c in "abc"]])
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    assert feature.method == "chi2" and feature.kind == "categorical"
    assert feature.statistic == pytest.approx(chi2, rel=1e-9)
    assert feature.p_value == pytest.approx(p, rel=1e-9, abs=1e-300)
    assert result.drifted and result.target == "prediction"


def test_integer_class_labels_are_categories_and_new_class_is_reported() -> None:
    rng = np.random.default_rng(1)
    ref = pd.Series(rng.integers(0, 3, 2000))
    cur = pd.Series(np.concatenate([rng.integers(0, 3, 1800), np.full(200, 7)]))
    result = label_drift(ref, cur, task="classification")
    (feature,) = result.features
    assert feature.method == "chi2" and result.target == "label" and result.drifted
    assert 7 in feature.details["new_categories"]
    assert feature.distribution["categories"]  # plot summary attached


def test_regression_outputs_use_ks_equal_to_scipy() -> None:
    rng = np.random.default_rng(2)
    ref, cur = rng.normal(0, 1, 5000), rng.normal(0.2, 1, 4000)
    result = prediction_drift(ref, cur, task="regression")
    (feature,) = result.features
    expected = stats.ks_2samp(ref, cur)
    assert feature.method == "ks"
    assert feature.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert feature.p_value == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-12)
    assert result.drifted


def test_probabilities_test_each_class_score_with_correction() -> None:
    rng = np.random.default_rng(3)
    ref = pd.DataFrame(
        {"cat": rng.beta(2, 5, 3000), "dog": rng.beta(2, 2, 3000), "eel": rng.beta(5, 2, 3000)}
    )
    cur = ref.sample(frac=1.0, random_state=0).reset_index(drop=True)
    cur["eel"] = rng.beta(5, 1, 3000)  # only the "eel" scores move
    result = prediction_drift(ref, cur, task="probabilities")
    assert [f.column for f in result.features] == ["cat", "dog", "eel"]
    assert [f.method for f in result.features] == ["ks"] * 3
    assert result.report.drifted_features == ["eel"] and result.drifted
    for f in result.features:
        assert f.statistic == pytest.approx(stats.ks_2samp(ref[f.column], cur[f.column]).statistic, abs=1e-12)
    # 2-D arrays get positional names
    arr = prediction_drift(ref.to_numpy(), cur.to_numpy(), task="probabilities")
    assert [f.column for f in arr.features] == ["prediction[0]", "prediction[1]", "prediction[2]"]
    assert arr.report.drifted_features == ["prediction[2]"]


def test_no_shift_is_not_drift_and_json_round_trips() -> None:
    rng = np.random.default_rng(4)
    result = label_drift(rng.normal(size=3000), rng.normal(size=3000), task="regression")
    assert not result.drifted
    doc = json.loads(result.to_json())
    assert doc["target"] == "label" and doc["task"] == "regression" and doc["drifted"] is False
    assert doc["features"][0]["method"] == "ks" and "p_value_adjusted" in doc["features"][0]


def test_method_override_is_honoured() -> None:
    rng = np.random.default_rng(5)
    result = prediction_drift(rng.normal(size=1000), rng.normal(size=1000), task="regression", method="psi")
    assert result.features[0].method == "psi"


def test_bad_inputs_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="Unknown task 'ranking'"):
        prediction_drift([1, 2], [1, 2], task="ranking")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="Unknown task 'probabilities' for label drift"):
        label_drift([0.1], [0.2], task="probabilities")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="needs numeric reference predictions"):
        prediction_drift(["a", "b"], ["a"], task="regression")
    with pytest.raises(DataError, match="task 'classification' expects one"):
        prediction_drift(np.ones((4, 2)), np.ones((4, 2)), task="classification")
    with pytest.raises(DataError, match="current predictions are empty"):
        prediction_drift([1.0], [], task="regression")
    with pytest.raises(DataError, match="lack column"):
        prediction_drift(pd.DataFrame({"a": [0.1]}), pd.DataFrame({"b": [0.1]}), task="probabilities")
