"""CBPE: label-free estimates close to the realized metrics under covariate shift (acceptance 3)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression

from modelward.errors import ConfigError, DataError
from modelward.monitoring.performance import CBPE, compare_estimates, realized_metrics
from modelward.monitoring.performance._scenario import covariate_shift
from modelward.monitoring.performance.cbpe import brier

TOL = 1e-12


def test_acceptance_estimated_accuracy_is_within_0_02_of_realized_per_window() -> None:
    scenario = covariate_shift(seed=0, n_windows=8, window_size=5000)
    cbpe = CBPE(metrics=("accuracy", "f1", "roc_auc")).fit(
        scenario.reference.y, scenario.reference.proba, classes=[0, 1]
    )
    errors, inside = [], 0
    for w in scenario.windows:
        estimated = cbpe.estimate(w.proba, y_pred=w.y_pred)
        realized = realized_metrics(
            "classification", w.y, w.y_pred, proba=w.proba, classes=[0, 1], n_bootstrap=0
        )
        rows = {r["metric"]: r for r in compare_estimates(estimated, realized)}
        errors.append(rows["accuracy"]["absolute_error"])
        inside += bool(rows["accuracy"]["within_interval"])
        print(
            f"realized {rows['accuracy']['realized']:.4f}  estimated {rows['accuracy']['estimated']:.4f}  "
            f"[{rows['accuracy']['estimated_lower']:.4f}, {rows['accuracy']['estimated_upper']:.4f}]  "
            f"f1 err {rows['f1']['absolute_error']:.4f}  auc err {rows['roc_auc']['absolute_error']:.4f}"
        )
    realized_range = [float(np.mean(w.y == w.y_pred)) for w in scenario.windows]
    mae = float(np.mean(errors))
    print(
        f"CBPE accuracy MAE over {len(errors)} windows of 5000 rows: {mae:.4f} (realized accuracy "
        f"{min(realized_range):.3f}..{max(realized_range):.3f}); realized inside the 95% band in "
        f"{inside}/{len(errors)} windows; calibrated: {cbpe.calibrated_}"
    )
    assert max(realized_range) - min(realized_range) > 0.15  # the shift really moves performance
    assert mae <= 0.02
    assert inside >= 6


def _softmax_scenario(seed: int) -> tuple[object, list[tuple[np.ndarray, np.ndarray]], tuple]:
    rng = np.random.default_rng(seed)
    coef = np.array([[1.5, -1.0, 0.5], [-0.5, 1.5, -1.0], [0.0, 0.0, 0.0]])

    def sample(n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
        x = rng.normal(size=(n, 3)) * (1.0 + shift) + np.array([shift, -shift, 0.0])
        logits = x @ coef.T
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        y = (rng.uniform(size=(n, 1)) > np.cumsum(p, axis=1)[:, :-1]).sum(axis=1)
        return x, np.array(["a", "b", "c"])[y]

    x_train, y_train = sample(6000, 0.0)
    model = LogisticRegression().fit(x_train, y_train)
    reference = sample(6000, 0.0)
    windows = [sample(3000, s) for s in (0.0, 0.4, 0.8, -0.3, 1.2, 0.6)]
    return model, [reference, *windows], tuple(model.classes_)


def test_multiclass_estimates_track_realized_macro_metrics() -> None:
    model, data, classes = _softmax_scenario(1)
    (x_ref, y_ref), windows = data[0], data[1:]
    cbpe = CBPE(metrics=("accuracy", "f1", "roc_auc")).fit(y_ref, model.predict_proba(x_ref), classes=classes)
    errors: dict[str, list[float]] = {"accuracy": [], "f1": [], "roc_auc": []}
    for x, y in windows:
        proba = model.predict_proba(x)
        realized = realized_metrics("classification", y, None, proba=proba, classes=classes, n_bootstrap=0)
        for row in compare_estimates(cbpe.estimate(proba), realized):
            errors[row["metric"]].append(row["absolute_error"])
    maes = {m: float(np.mean(e)) for m, e in errors.items()}
    print("multiclass CBPE mean absolute errors over 6 windows of 3000 rows:", maes)
    assert maes["accuracy"] <= 0.02 and maes["f1"] <= 0.025 and maes["roc_auc"] <= 0.02


def test_calibration_is_kept_only_when_it_lowers_the_cross_fitted_brier_score() -> None:
    scenario = covariate_shift(seed=3, n_windows=4, window_size=4000, n_reference=6000, n_train=4000)
    ref = scenario.reference
    calibrated_model = CBPE().fit(ref.y, ref.proba, classes=[0, 1])
    assert calibrated_model.calibrated_ is False
    assert "did not lower" in calibrated_model.calibration_["decision"]

    def overconfident(p: np.ndarray) -> np.ndarray:  # logits tripled: badly calibrated, same ranking
        logit = np.log(p / (1 - p))
        return 1 / (1 + np.exp(-3 * logit))

    auto = CBPE(metrics=("accuracy",)).fit(ref.y, overconfident(ref.proba), classes=[0, 1])
    never = CBPE(metrics=("accuracy",), calibration="never").fit(
        ref.y, overconfident(ref.proba), classes=[0, 1]
    )
    info = auto.calibration_
    assert auto.calibrated_ is True and info["brier_calibrated"] < info["brier_raw"]
    assert info["ece_calibrated"] < info["ece_raw"]
    assert never.calibrated_ is False and "calibration='never'" in never.calibration_["decision"]
    err_auto, err_never = [], []
    for w in scenario.windows:
        realized = float(np.mean(w.y == w.y_pred))
        err_auto.append(abs(auto.estimate(overconfident(w.proba))["accuracy"].value - realized))
        err_never.append(abs(never.estimate(overconfident(w.proba))["accuracy"].value - realized))
    print(
        f"overconfident model: accuracy MAE {np.mean(err_auto):.4f} calibrated vs {np.mean(err_never):.4f} raw"
    )
    assert np.mean(err_auto) <= 0.02 < np.mean(err_never)


def test_expected_metrics_equal_their_definitions() -> None:
    rng = np.random.default_rng(5)
    p_ref = rng.uniform(size=2000)
    cbpe = CBPE(
        metrics=("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"), calibration="never"
    ).fit((rng.uniform(size=2000) < p_ref).astype(int), p_ref, classes=[0, 1])
    p = np.round(rng.beta(2, 2, size=1500), 2)  # ties in the scores
    est = cbpe.estimate(p)
    pred = p > 0.5
    tp, fp, fn = p[pred].sum(), (1 - p[pred]).sum(), p[~pred].sum()
    assert abs(est["accuracy"].value - np.mean(np.where(pred, p, 1 - p))) <= TOL
    assert abs(est["precision"].value - tp / (tp + fp)) <= TOL
    assert abs(est["recall"].value - tp / (tp + fn)) <= TOL
    assert abs(est["f1"].value - 2 * tp / (2 * tp + fp + fn)) <= TOL
    # expected AUC = sklearn's AUC with each row once as a positive (weight p) and once as a negative (1 - p)
    auc = skm.roc_auc_score(np.r_[np.ones(1500), np.zeros(1500)], np.r_[p, p], sample_weight=np.r_[p, 1 - p])
    assert abs(est["roc_auc"].value - auc) <= TOL
    entropy = -(p * np.log(p.clip(1e-300)) + (1 - p) * np.log((1 - p).clip(1e-300)))
    assert abs(est["log_loss"].value - entropy.mean()) <= 1e-9
    for e in est.values():
        assert e.method == "cbpe" and e.interval == "simulated" and e.lower <= e.value <= e.upper


def test_seeded_picklable_and_calibrate_matches_estimate() -> None:
    scenario = covariate_shift(seed=2, n_windows=2, window_size=2000, n_reference=3000, n_train=3000)
    a = CBPE(seed=1).fit(scenario.reference.y, scenario.reference.proba, classes=[0, 1])
    b = pickle.loads(pickle.dumps(a))
    w = scenario.windows[1]
    assert a.estimate(w.proba) == b.estimate(w.proba)
    assert np.allclose(a.calibrate(w.proba).sum(axis=1), 1.0)
    assert set(a.reference_metrics_) >= {"accuracy", "roc_auc"}


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c: c.estimate(np.full((5, 3), 1 / 3)), DataError, "proba must have shape (n, 2)"),
        (lambda c: c.estimate([[0.5, 0.6], [0.2, 0.8]]), DataError, "rows must sum to 1"),
        (lambda c: c.estimate([0.2, 0.7], y_pred=[0, 3]), DataError, "not among the classes 0, 1: 3"),
        (lambda c: c.estimate([0.2, float("nan")]), DataError, "missing or infinite values in rows 1"),
        (lambda c: CBPE().estimate([0.2, 0.7]), ConfigError, "not fitted yet"),
        (
            lambda c: CBPE(metrics=("mae",)).fit([0, 1], [0.2, 0.7]),
            ConfigError,
            "CBPE cannot estimate ['mae']",
        ),
        (lambda c: CBPE(calibration="sometimes").fit([0, 1], [0.2, 0.7]), ConfigError, "calibration must be"),
        (lambda c: CBPE().fit([0, 1, 2], np.full((3, 2), 0.5)), DataError, "labels hold 3 classes"),
        (
            lambda c: CBPE().fit([0, 1], [0.2, 0.7], classes=[0, 1, 2]),
            DataError,
            "proba has 2 columns but 3 classes",
        ),
        (
            lambda c: CBPE(calibration="always").fit([0, 1], [0.2, 0.7]),
            DataError,
            "at least 10 reference rows",
        ),
    ],
)
def test_bad_input_says_what_to_fix(call, error: type[Exception], message: str) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    p = rng.uniform(size=200)
    fitted = CBPE().fit((rng.uniform(size=200) < p).astype(int), p, classes=[0, 1])
    with pytest.raises(error) as info:
        call(fitted)
    assert message in str(info.value)


def test_brier_is_the_multiclass_brier_score() -> None:
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    assert abs(brier(proba, np.array([0, 1])) - (0.09 + 0.04 + 0.01 + 0.01 + 0.81 + 0.64) / 2) <= TOL


@pytest.mark.parametrize("k", [2, 3])
def test_gaussian_band_agrees_with_drawing_every_label(k: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """From 500 rows on the band's confusion matrices come from a normal approximation; it must give
    the same band as drawing each row's label (within 0.006 at n = 1500, 2000 draws)."""
    from modelward.monitoring.performance import cbpe as module

    rng = np.random.default_rng(k)
    logits = rng.normal(size=(3000, k)) * 1.5
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (rng.uniform(size=(3000, 1)) > np.cumsum(p, axis=1)[:, :-1]).sum(axis=1)
    metrics = ("accuracy", "precision", "recall", "f1", "log_loss")
    cbpe = CBPE(metrics=metrics, calibration="never", n_simulations=2000).fit(y[:1500], p[:1500])
    fast = cbpe.estimate(p[1500:])
    monkeypatch.setattr(module, "GAUSSIAN_MIN_ROWS", 10**9)
    exact = cbpe.estimate(p[1500:])
    for m in metrics:
        assert fast[m].value == exact[m].value
        assert abs(fast[m].lower - exact[m].lower) < 0.006 and abs(fast[m].upper - exact[m].upper) < 0.006, m


def test_auc_band_of_large_windows_matches_drawing_every_label() -> None:
    """Above 10,000 rows the ROC AUC band is drawn on a subsample with the spread rescaled; at 20,000 rows
    its width must match 250 draws of all 20,000 labels within 15%."""
    from modelward.monitoring.performance._kernels import weighted_auc

    rng = np.random.default_rng(21)
    p_ref = rng.uniform(size=3000)
    cbpe = CBPE(metrics=("roc_auc",), calibration="never").fit(
        (rng.uniform(size=3000) < p_ref).astype(int), p_ref, classes=[0, 1]
    )
    p = rng.beta(2, 2, size=20_000)
    est = cbpe.estimate(p)["roc_auc"]
    labels = rng.uniform(size=(250, 20_000)) < p
    draws = weighted_auc(p, labels.astype(float), (~labels).astype(float))
    lower, upper = np.quantile(draws, [0.025, 0.975])
    print(
        f"AUC band at n=20k: subsample-rescaled [{est.lower:.5f}, {est.upper:.5f}], full draws "
        f"[{lower:.5f}, {upper:.5f}]"
    )
    assert abs((est.upper - est.lower) / (upper - lower) - 1) < 0.15
    assert abs(est.value - np.mean(draws)) < 0.25 * (upper - lower)
