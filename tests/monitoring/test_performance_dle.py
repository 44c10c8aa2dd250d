"""DLE: a regressor's MAE/RMSE estimated without labels under covariate shift."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from modelward.errors import ConfigError, DataError
from modelward.monitoring.performance import DLE, compare_estimates, realized_metrics


def _world(rng: np.random.Generator, n: int, shift: float) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """y = 3 x0 + noise whose size grows with |x1| and is larger for segment 'b'; the model knows only x0.
    The shift moves x1 within the reference range (uniform on [-2 + 2 shift, 2]) and makes 'b' likelier."""
    x0 = rng.normal(size=n)
    x1 = rng.uniform(-2.0 + 2.0 * shift, 2.0, size=n)
    segment = rng.choice(["a", "b"], size=n, p=[0.7 - 0.2 * shift, 0.3 + 0.2 * shift])
    scale = 0.3 + 0.6 * np.abs(x1) + np.where(segment == "b", 0.5, 0.0)
    y = 3 * x0 + scale * rng.normal(size=n)
    return pd.DataFrame({"x0": x0, "x1": x1, "segment": segment}), y, 3 * x0


def test_estimated_mae_and_rmse_follow_the_realized_ones_across_shifted_windows() -> None:
    rng = np.random.default_rng(0)
    x_ref, y_ref, pred_ref = _world(rng, 10000, 0.0)
    dle = DLE().fit(x_ref, y_ref, pred_ref)
    rel = {"mae": [], "rmse": []}
    inside = 0
    realized_mae = []
    for shift in (0.0, 0.5, 1.0, 1.5):
        x, y, pred = _world(rng, 3000, shift)
        realized = realized_metrics("regression", y, pred, n_bootstrap=0)
        for row in compare_estimates(dle.estimate(x, pred), realized):
            rel[row["metric"]].append(row["absolute_error"] / row["realized"])
            inside += bool(row["within_interval"])
        realized_mae.append(realized["mae"].value)
    print(
        "DLE relative errors per window:",
        {m: [round(v, 3) for v in e] for m, e in rel.items()},
        f"realized inside the 95% interval {inside}/8; realized MAE {[round(v, 2) for v in realized_mae]}",
    )
    assert realized_mae[-1] > 1.35 * realized_mae[0]  # the shift really degrades the model
    assert max(rel["mae"]) < 0.05 and max(rel["rmse"]) < 0.05
    assert inside >= 5


def test_columns_are_matched_by_name_and_arrays_work() -> None:
    rng = np.random.default_rng(1)
    x, y, pred = _world(rng, 800, 0.0)
    dle = DLE(metrics=("mae",), max_iter=30).fit(x, y, pred)
    shuffled = x[["segment", "x1", "x0"]]
    assert dle.estimate(shuffled, pred) == dle.estimate(x, pred)
    assert list(dle.estimate(x, pred)) == ["mae"]
    assert pickle.loads(pickle.dumps(dle)).estimate(x, pred) == dle.estimate(x, pred)
    numeric = DLE(max_iter=30).fit(x[["x0", "x1"]].to_numpy(), y, pred)
    est = numeric.estimate(x[["x0", "x1"]].to_numpy(), pred)
    assert est["rmse"].method == "dle" and est["rmse"].lower < est["rmse"].value < est["rmse"].upper


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda d, x, p: d.estimate(x.drop(columns="x1"), p),
            DataError,
            "lacks the reference feature columns",
        ),
        (lambda d, x, p: d.estimate(x, p[:10]), DataError, "y_pred has 10 rows but 200 were expected"),
        (lambda d, x, p: DLE().estimate(x, p), ConfigError, "not fitted yet"),
        (lambda d, x, p: DLE(metrics=("r2",)).fit(x, p, p), ConfigError, "DLE cannot estimate ['r2']"),
        (lambda d, x, p: DLE().fit(np.zeros((2, 2, 2)), p, p), DataError, "2-D array"),
    ],
)
def test_bad_input_says_what_to_fix(call, error: type[Exception], message: str) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(2)
    x, y, pred = _world(rng, 200, 0.0)
    dle = DLE(max_iter=10).fit(x, y, pred)
    with pytest.raises(error) as info:
        call(dle, x, pred)
    assert message in str(info.value)
