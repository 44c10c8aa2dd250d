"""The demo's training entrypoints take the loop's weight column: passed to fit by name, never a feature."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelward.demo import (
    agrawal_frame,
    train_logistic_regression,
    train_random_forest,
    train_random_forest_regressor,
)
from modelward.errors import DataError


def test_a_weight_column_is_used_by_fit_and_kept_out_of_the_features() -> None:
    frame = agrawal_frame(600, seed=3, function=0)
    flipped = frame.assign(approved=1 - frame["approved"])
    # Half the rows follow the rule, half its opposite; the weights say which half counts.
    both = pd.concat([frame.assign(weight=1.0), flipped.assign(weight=1e-6)], ignore_index=True)
    params = {"n_estimators": 20, "max_depth": 6, "random_state": 0}
    model = train_random_forest(both, params, sample_weight="weight")
    assert "weight" not in list(model.feature_names_in_)
    test = agrawal_frame(400, seed=4, function=0)
    accuracy = float(np.mean(model.predict(test.drop(columns=["approved"])) == test["approved"]))
    assert accuracy > 0.75  # learned the heavy half
    reversed_model = train_random_forest(
        both.assign(weight=both["weight"][::-1].to_numpy()), params, sample_weight="weight"
    )
    reversed_accuracy = float(
        np.mean(reversed_model.predict(test.drop(columns=["approved"])) == test["approved"])
    )
    assert reversed_accuracy < 0.25  # the other half


@pytest.mark.parametrize("train", [train_random_forest, train_logistic_regression])
def test_features_given_with_the_weight_column_still_train_without_it(train: object) -> None:
    frame = agrawal_frame(300, seed=5).assign(w=1.0)
    features = [c for c in frame.columns if c != "approved"]
    model = train(frame, {}, features=features, sample_weight="w")  # type: ignore[operator]
    assert "w" not in list(model.feature_names_in_)


def test_the_regressor_takes_weights_too() -> None:
    frame = agrawal_frame(300, seed=6).assign(w=np.linspace(0.1, 1, 300))
    model = train_random_forest_regressor(frame, {"n_estimators": 5}, target="salary", sample_weight="w")
    assert "w" not in list(model.feature_names_in_) and "salary" not in list(model.feature_names_in_)


def test_a_missing_weight_column_is_a_clear_error() -> None:
    with pytest.raises(DataError, match=r"weight column 'wt' \(sample_weight\) is not in the training data"):
        train_random_forest(agrawal_frame(50, seed=7), {}, sample_weight="wt")
