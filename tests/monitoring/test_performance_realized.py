"""Realized metrics: equal to scikit-learn's, intervals that cover, errors that say what to fix."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn import metrics as skm

from modelward.errors import ConfigError, DataError
from modelward.monitoring.performance import MetricEstimate, realized_metrics
from modelward.monitoring.performance._kernels import weighted_auc

TOL = 1e-12  # stated tolerance against scikit-learn


def _classification_case(seed: int, k: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k)) * rng.uniform(0.5, 2.0)
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(proba, axis=1)
    y = (rng.uniform(size=(n, 1)) > cumulative[:, :-1]).sum(axis=1)
    if seed % 3 == 0:  # some ties in the scores, as a tree model gives
        proba = np.round(proba, 2)
        proba /= proba.sum(axis=1, keepdims=True)
    return y, proba.argmax(axis=1), proba


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("k", [2, 3, 5])
def test_classification_values_equal_sklearn(seed: int, k: int) -> None:
    y, pred, proba = _classification_case(seed, k, 200 + 97 * seed)
    got = realized_metrics("classification", y, pred, proba=proba, classes=list(range(k)), n_bootstrap=0)
    avg = "binary" if k == 2 else "macro"
    want = {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, average=avg, zero_division=0),
        "recall": skm.recall_score(y, pred, average=avg, zero_division=0),
        "f1": skm.f1_score(y, pred, average=avg, zero_division=0),
        "roc_auc": skm.roc_auc_score(y, proba[:, 1] if k == 2 else proba, multi_class="ovr"),
        "log_loss": skm.log_loss(y, y_proba=proba),
    }
    assert set(got) == set(want)
    for name, value in want.items():
        assert abs(got[name].value - value) <= TOL, (name, got[name].value, value)
        assert got[name].method == "realized"


def test_string_labels_binary_positive_is_classes_1_and_1d_proba() -> None:
    rng = np.random.default_rng(7)
    p = rng.uniform(size=500)
    y = np.where(rng.uniform(size=500) < p, "spam", "ham")
    pred = np.where(p > 0.4, "spam", "ham")
    got = realized_metrics("classification", y, pred, proba=p, classes=["ham", "spam"], n_bootstrap=0)
    assert abs(got["precision"].value - skm.precision_score(y, pred, pos_label="spam")) <= TOL
    assert abs(got["recall"].value - skm.recall_score(y, pred, pos_label="spam")) <= TOL
    assert abs(got["roc_auc"].value - skm.roc_auc_score(y == "spam", p)) <= TOL
    # the other class as positive gives the other precision
    flipped = realized_metrics("classification", y, pred, proba=1 - p, classes=["spam", "ham"], n_bootstrap=0)
    assert abs(flipped["precision"].value - skm.precision_score(y, pred, pos_label="ham")) <= TOL


def test_y_pred_defaults_to_the_most_probable_class() -> None:
    y, pred, proba = _classification_case(4, 3, 300)
    a = realized_metrics("classification", y, None, proba=proba, n_bootstrap=0)
    b = realized_metrics("classification", y, pred, proba=proba, n_bootstrap=0)
    assert a == b


@pytest.mark.parametrize("seed", range(20))
def test_regression_values_equal_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 50 + 40 * seed
    y = rng.normal(100.0, 5.0, n)
    pred = y + rng.standard_t(3, n)
    got = realized_metrics("regression", y, pred, n_bootstrap=0)
    assert abs(got["mae"].value - skm.mean_absolute_error(y, pred)) <= TOL
    assert abs(got["rmse"].value - skm.root_mean_squared_error(y, pred)) <= TOL
    assert abs(got["r2"].value - skm.r2_score(y, pred)) <= TOL


def test_r2_of_a_constant_target_follows_sklearn() -> None:
    y = np.full(10, 3.0)
    assert realized_metrics("regression", y, y, n_bootstrap=0)["r2"].value == skm.r2_score(y, y) == 1.0
    assert (
        realized_metrics("regression", y, y + 1, n_bootstrap=0)["r2"].value == skm.r2_score(y, y + 1) == 0.0
    )


@pytest.mark.parametrize("seed", range(10))
def test_weighted_auc_equals_sklearn_with_sample_weights(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    scores = np.round(rng.normal(size=n), 1)  # many ties
    y = rng.uniform(size=n) < 0.4
    w = rng.integers(0, 4, size=n).astype(float)
    got = weighted_auc(scores, (w * y)[None], (w * ~y)[None])[0]
    assert abs(got - skm.roc_auc_score(y, scores, sample_weight=w)) <= TOL


@pytest.mark.parametrize("seed", range(10))
def test_wilson_intervals_equal_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.uniform(size=400)
    y = (rng.uniform(size=400) < p).astype(int)
    pred = (p > rng.uniform(0.3, 0.7)).astype(int)
    got = realized_metrics("classification", y, pred, confidence=0.9, n_bootstrap=0)
    tp = int(np.sum((y == 1) & (pred == 1)))
    cases = {
        "accuracy": (int(np.sum(y == pred)), 400),
        "precision": (tp, int(pred.sum())),
        "recall": (tp, int(y.sum())),
    }
    for name, (k, n) in cases.items():
        ci = binomtest(k, n).proportion_ci(confidence_level=0.9, method="wilson")
        assert got[name].interval == "wilson"
        assert abs(got[name].lower - ci.low) <= 1e-12 and abs(got[name].upper - ci.high) <= 1e-12, name


def test_bootstrap_is_seeded_and_records_the_method() -> None:
    y, pred, proba = _classification_case(1, 2, 400)
    a = realized_metrics("classification", y, pred, proba=proba, seed=3)
    b = realized_metrics("classification", y, pred, proba=proba, seed=3)
    c = realized_metrics("classification", y, pred, proba=proba, seed=4)
    assert a == b and a["f1"] != c["f1"]
    assert {m: e.interval for m, e in a.items()} == {
        "accuracy": "wilson",
        "precision": "wilson",
        "recall": "wilson",
        "f1": "bootstrap",
        "roc_auc": "bootstrap",
        "log_loss": "bootstrap",
    }
    multi = realized_metrics("classification", *_classification_case(2, 3, 400)[:2])
    assert multi["precision"].interval == multi["recall"].interval == "bootstrap"
    assert "roc_auc" not in multi
    for e in a.values():
        assert e.lower is not None and e.upper is not None and e.lower <= e.value <= e.upper
    assert pickle.loads(pickle.dumps(a)) == a


def test_large_windows_bootstrap_in_blocks_with_the_same_values() -> None:
    """A window larger than one block (2M values / 1000 resamples) still gives sklearn's point values."""
    rng = np.random.default_rng(0)
    n = 5000
    y = rng.normal(size=n)
    pred = y + rng.normal(size=n)
    got = realized_metrics("regression", y, pred, n_bootstrap=600)
    assert abs(got["rmse"].value - skm.root_mean_squared_error(y, pred)) <= TOL
    assert got["rmse"].lower < got["rmse"].value < got["rmse"].upper


def _coverage_truths() -> dict[str, float]:
    # p ~ U(0, 1), y ~ Bernoulli(p), predicted 1 when p > 0.5: accuracy, precision, recall, F1 are 3/4;
    # ROC AUC = P(p+ > p-) = 5/6; log loss = E[binary entropy of p] = 1/2.
    # Regression y = x + e with x, e ~ N(0, 1), prediction x: MAE = sqrt(2/pi), RMSE = 1, R² = 1/2.
    return {
        "accuracy": 0.75,
        "precision": 0.75,
        "recall": 0.75,
        "f1": 0.75,
        "roc_auc": 5 / 6,
        "log_loss": 0.5,
        "mae": math.sqrt(2 / math.pi),
        "rmse": 1.0,
        "r2": 0.5,
    }


def test_95_percent_intervals_cover_the_true_value_90_to_99_percent_of_the_time() -> None:
    truth = _coverage_truths()
    hits = dict.fromkeys(truth, 0)
    trials, n = 200, 400
    for trial in range(trials):
        rng = np.random.default_rng(10_000 + trial)
        p = rng.uniform(size=n)
        y = (rng.uniform(size=n) < p).astype(int)
        est = realized_metrics(
            "classification", y, (p > 0.5).astype(int), proba=p, classes=[0, 1], n_bootstrap=400, seed=trial
        )
        x, e = rng.normal(size=(2, n))
        est |= realized_metrics("regression", x + e, x, n_bootstrap=400, seed=trial)
        for name, value in truth.items():
            lower, upper = est[name].lower, est[name].upper
            assert lower is not None and upper is not None
            hits[name] += lower <= value <= upper
    rates = {name: h / trials for name, h in hits.items()}
    print("coverage of nominal 95% intervals over", trials, "trials:", rates)
    for name, rate in rates.items():
        assert 0.90 <= rate <= 0.99, (name, rate)


def test_to_dict_is_json_ready() -> None:
    est = realized_metrics(
        "classification", [0, 0, 1], [0, 0, 0], proba=[[0.9, 0.1], [0.8, 0.2], [0.6, 0.4]], n_bootstrap=50
    )
    d = est["precision"].to_dict()
    assert d == {
        "metric": "precision",
        "value": 0.0,
        "lower": None,
        "upper": None,
        "n": 3,
        "method": "realized",
        "interval": "none",
        "confidence": 0.95,
    }
    one_class = realized_metrics("classification", [1, 1], [1, 0], proba=[0.7, 0.4], classes=[0, 1])
    assert math.isnan(one_class["roc_auc"].value) and one_class["roc_auc"].to_dict()["value"] is None
    assert isinstance(est["accuracy"], MetricEstimate)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"task": "ranking"}, ConfigError, "task must be 'classification' or 'regression'"),
        ({"confidence": 95}, ConfigError, "confidence must lie strictly between 0 and 1"),
        ({"y_pred": [0, 1]}, DataError, "y_pred has 2 rows but 4 were expected"),
        ({"y_pred": [0, 1, 2, 1], "classes": [0, 1]}, DataError, "not among the classes 0, 1: 2"),
        ({"proba": [[0.5, 0.4]] * 4}, DataError, "rows must sum to 1"),
        ({"proba": [[0.5, 0.5, 0.0]] * 4}, DataError, "proba has 3 columns but the labels hold 2 classes"),
        ({"proba": [2.0, 0.1, 0.2, 0.3]}, DataError, "not decision scores or logits"),
        ({"classes": [0, 1, 1]}, DataError, "classes has duplicates"),
        ({"classes": ["a", "b"]}, DataError, "not among the classes 'a', 'b': 0, 1"),
        ({"y_pred": None}, DataError, "Pass y_pred (predicted labels) or proba"),
    ],
)
def test_bad_input_says_what_to_fix(kwargs: dict, error: type[Exception], message: str) -> None:
    call = {"task": "classification", "y_true": [0, 1, 1, 0], "y_pred": [0, 1, 0, 0], **kwargs}
    with pytest.raises(error, match=None) as info:
        realized_metrics(call.pop("task"), call.pop("y_true"), call.pop("y_pred"), **call)
    assert message in str(info.value)


def test_regression_refuses_classification_arguments_and_bad_numbers() -> None:
    with pytest.raises(ConfigError, match="classification only"):
        realized_metrics("regression", [1.0], [1.0], proba=[0.5])
    with pytest.raises(DataError, match="missing or infinite values at rows 1"):
        realized_metrics("regression", [1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(DataError, match="must be numeric"):
        realized_metrics("regression", ["a", "b"], [1.0, 2.0])


def test_windows_above_10k_rows_bootstrap_a_subsample_with_the_right_width() -> None:
    """Above 10,000 rows the bootstrap runs on a 10,000-row subsample and rescales the spread: the
    intervals of means (log loss, MAE) must match the normal-theory width 2 * 1.96 * sd / sqrt(n) within
    10% at n = 60,000, and stay centred on the full-window value."""
    rng = np.random.default_rng(8)
    n = 60_000
    p = rng.uniform(size=n)
    y = (rng.uniform(size=n) < p).astype(int)
    got = realized_metrics("classification", y, None, proba=p, classes=[0, 1])
    loss = -np.log(np.where(y == 1, p, 1 - p).clip(np.finfo(float).eps))
    x, e = rng.normal(size=(2, n))
    reg = realized_metrics("regression", x + e, x)
    for est, values in ((got["log_loss"], loss), (reg["mae"], np.abs(e))):
        width = est.upper - est.lower
        normal = 2 * 1.959964 * values.std() / np.sqrt(n)
        assert abs(width / normal - 1) < 0.10, (est.metric, width, normal)
        assert est.lower < est.value < est.upper
    auc = got["roc_auc"]
    assert auc.lower < auc.value < auc.upper and auc.upper - auc.lower < 0.012
