"""modelward.explain against references: the shap library, brute-force Shapley values, the models' own output.

Tolerances: 1e-9 against shap and against brute force (both float64 sums of the same numbers in
another order); 1e-6 for local accuracy (base value + attributions = the model's raw output), as
the issue states.
"""

from __future__ import annotations

import math
import time
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from modelward.demo import agrawal_frame, train_logistic_regression, train_random_forest
from modelward.explain import explainer_for

FEATURES = ["a", "b", "c", "d"]


def numeric(n: int = 400, seed: int = 0, m: int = 4) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(n, m)), columns=[f"x{i}" for i in range(m)] if m != 4 else FEATURES)
    y = ((x.iloc[:, 0] + x.iloc[:, 1] * x.iloc[:, 2] + 0.3 * rng.normal(size=n)) > 0).astype(int).to_numpy()
    return x, y


def shapley(value: Any, m: int) -> np.ndarray:
    """Brute-force Shapley values of a coalition function over ``m`` players (the textbook formula)."""
    phi = np.zeros(m)
    for j in range(m):
        others = [i for i in range(m) if i != j]
        for size in range(m):
            w = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
            for s in combinations(others, size):
                phi[j] += w * (value(set(s) | {j}) - value(set(s)))
    return phi


def path_dependent(tree: Any, x: np.ndarray, present: set[int], out: int) -> float:
    """E[tree(x) | x_S] as path-dependent TreeSHAP defines it: absent features follow both children,
    weighted by their training cover (Lundberg et al. 2020, Algorithm 1's EXPVALUE)."""
    t = tree.tree_
    value = t.value[:, 0, :] if t.value.shape[1] == 1 else t.value[:, :, 0]

    def walk(node: int) -> float:
        if t.children_left[node] == -1:
            return float(value[node, out])
        f, left, right = t.feature[node], t.children_left[node], t.children_right[node]
        if f in present:
            return walk(left if np.float32(x[f]) <= t.threshold[node] else right)
        wl, wr = t.weighted_n_node_samples[left], t.weighted_n_node_samples[right]
        return (wl * walk(left) + wr * walk(right)) / (wl + wr)

    return walk(0)


def check_additive(explainer: Any, x: pd.DataFrame, tol: float = 1e-6) -> Any:
    e = explainer.explain(x)
    total = e.base_values[None, :] + e.values.sum(axis=1)
    np.testing.assert_allclose(total, explainer.raw_output(x), rtol=0, atol=tol)
    return e


def test_random_forest_matches_brute_force_and_shap() -> None:
    x, y = numeric()
    rf = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(x, y)
    ex = explainer_for(rf, FEATURES, x, task="classification")
    assert (ex.method, ex.output) == ("tree_shap", "probability")
    rows = x.iloc[:3]
    e = check_additive(ex, rows)
    reference = np.asarray(shap.TreeExplainer(rf).shap_values(rows))
    np.testing.assert_allclose(e.values, reference, rtol=0, atol=1e-9)
    for i in range(3):
        xi = rows.to_numpy()[i]
        brute = shapley(
            lambda s, xi=xi: np.mean([path_dependent(t, xi, s, 1) for t in rf.estimators_]), len(FEATURES)
        )
        np.testing.assert_allclose(e.values[i, :, 1], brute, rtol=0, atol=1e-9)


def test_gradient_boosting_is_in_log_odds_and_matches_brute_force() -> None:
    x, y = numeric()
    gb = GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0).fit(x, y)
    ex = explainer_for(gb, FEATURES, x, task="classification")
    assert (ex.method, ex.output) == ("tree_shap", "log_odds")
    rows = x.iloc[:3]
    e = check_additive(ex, rows)
    np.testing.assert_allclose(e.values[:, :, 0], shap.TreeExplainer(gb).shap_values(rows), rtol=0, atol=1e-9)
    lr = gb.learning_rate
    for i in range(3):
        xi = rows.to_numpy()[i]
        brute = shapley(lambda s, xi=xi: lr * sum(path_dependent(t[0], xi, s, 0) for t in gb.estimators_), 4)
        np.testing.assert_allclose(e.values[i, :, 0], brute, rtol=0, atol=1e-9)
    # the other class of a binary model: the negated log-odds
    row = e.row(0, gb.classes_[0])
    assert row.attributions["a"] == -e.values[0, 0, 0] and row.base_value == -e.base_values[0]


def test_hist_gradient_boosting_multiclass_one_output_per_class() -> None:
    x, y = numeric()
    y3 = y + (x["d"].to_numpy() > 1)
    hgb = HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(x, y3)
    ex = explainer_for(hgb, FEATURES, x, task="classification")
    assert (ex.method, ex.output) == ("tree_shap", "logit")
    e = check_additive(ex, x.iloc[:20])
    assert e.values.shape == (20, 4, 3) and e.labels == [0, 1, 2]


def test_linear_matches_shap_linear_explainer() -> None:
    x, y = numeric()
    model = LogisticRegression().fit(x, y)
    background = x.iloc[:100]  # shap's masker keeps at most 100 background rows
    ex = explainer_for(model, FEATURES, background, task="classification")
    assert (ex.method, ex.output) == ("linear_shap", "log_odds")
    e = check_additive(ex, x.iloc[:10])
    reference = shap.LinearExplainer(model, background.to_numpy()).shap_values(x.iloc[:10].to_numpy())
    np.testing.assert_allclose(e.values[:, :, 0], reference, rtol=0, atol=1e-9)
    ridge = Ridge().fit(x, x["a"] * 2 - x["b"])
    check_additive(explainer_for(ridge, FEATURES, x, task="regression"), x.iloc[:10])


@pytest.mark.parametrize("train", [train_random_forest, train_logistic_regression])
def test_pipeline_one_hot_columns_are_summed_back(train: Any) -> None:
    frame = agrawal_frame(600, seed=3)
    features = [c for c in frame.columns if c != "approved"]
    params = {"n_estimators": 10, "max_depth": 5, "random_state": 0} if train is train_random_forest else {}
    model = train(frame, params)
    ex = explainer_for(model, features, frame[features].iloc[:100], task="classification")
    assert ex.method in ("tree_shap", "linear_shap") and ex.fallback_reason is None
    rows = frame[features].iloc[:25]
    e = check_additive(ex, rows)
    assert e.features == features and e.values.shape[1] == len(features)
    # the same values computed on the expanded columns, summed here by their one-hot names
    prep, final = model[:-1], model[-1]
    z = prep.transform(rows)
    z = z.toarray() if hasattr(z, "toarray") else z
    names = list(prep.get_feature_names_out())
    if train is train_random_forest:
        expanded = np.asarray(shap.TreeExplainer(final).shap_values(z))[:, :, 1]
        column = e.values[:, :, 1]
    else:
        zb = prep.transform(frame[features].iloc[:100])
        zb = zb.toarray() if hasattr(zb, "toarray") else zb
        expanded = shap.LinearExplainer(final, zb).shap_values(z)
        column = e.values[:, :, 0]
    for j, feature in enumerate(features):
        cols = [
            i
            for i, n in enumerate(names)
            if n.split("__", 1)[1] == feature or n.startswith(f"categorical__{feature}_")
        ]
        assert cols, feature
        np.testing.assert_allclose(column[:, j], expanded[:, cols].sum(axis=1), rtol=0, atol=1e-9)
    assert len([n for n in names if n.startswith("categorical__car_")]) > 1  # car was really expanded


def interventional(model: Any, x: np.ndarray, background: pd.DataFrame, out: int) -> np.ndarray:
    """Brute force: v(S) = mean over background rows of f with the columns of S taken from x."""

    def value(s: set[int]) -> float:
        z = background.copy()
        for j in s:
            z.iloc[:, j] = x[j]
        return float(np.mean(model.predict_proba(z)[:, out]))

    return shapley(value, background.shape[1])


def test_fallback_is_exact_for_few_columns() -> None:
    x, y = numeric(200, seed=1, m=3)
    knn = KNeighborsClassifier(n_neighbors=7).fit(x, y)
    ex = explainer_for(knn, list(x.columns), x, task="classification")
    assert ex.fallback_reason == "no exact explainer for KNeighborsClassifier"
    e = check_additive(ex, x.iloc[:4])
    assert (e.method, e.exact, e.output) == ("exact_shap", True, "probability")
    bg = ex.inner.bg
    for i in range(4):
        brute = interventional(knn, x.to_numpy()[i], bg, 1)
        np.testing.assert_allclose(e.values[i, :, 1], brute, rtol=0, atol=1e-9)


def test_fallback_samples_within_its_time_budget_and_stays_additive() -> None:
    x, _ = numeric(300, seed=2, m=12)
    target = x["x0"] * 3 + x["x1"] - x["x2"] * x["x3"]
    knn = KNeighborsRegressor(n_neighbors=5).fit(x, target)
    ex = explainer_for(knn, list(x.columns), x, task="regression", time_budget_s=0.3)
    started = time.perf_counter()
    e = check_additive(ex, x.iloc[:3])
    assert time.perf_counter() - started < 3.0
    assert (e.method, e.exact) == ("permutation_shap", False) and e.permutations and e.permutations >= 2
    # the planted column dominates: x0 carries the largest mean |attribution|
    assert int(np.argmax(np.abs(e.values[:, :, 0]).mean(axis=0))) == 0


def test_unsupported_exact_model_falls_back_and_says_why() -> None:
    x, y = numeric()
    gb = GradientBoostingRegressor(n_estimators=5, random_state=0).fit(x, x["a"])
    assert explainer_for(gb, FEATURES, x, task="regression").method == "tree_shap"
    y3 = y + (x["d"].to_numpy() > 1)
    multi = GradientBoostingClassifier(n_estimators=5, random_state=0).fit(x, y3)  # shap: binary only
    ex = explainer_for(multi, FEATURES, x.iloc[:30], task="classification", time_budget_s=0.2)
    assert ex.method == "permutation_shap" and "GradientBoostingClassifier" in str(ex.fallback_reason)
    check_additive(ex, x.iloc[:2])
    with pytest.raises(TypeError, match="GradientBoostingClassifier"):
        explainer_for(multi, FEATURES, x.iloc[:30], task="classification", exact_only=True)
