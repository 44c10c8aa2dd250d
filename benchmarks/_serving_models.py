"""The two models of the serving benchmark, trained the same way in every environment.

Imports only numpy, pandas and scikit-learn, so it runs unchanged in modelward's venv and in
the MLflow and BentoML peer venvs (which pin the same scikit-learn and numpy). Data and
models are seeded: every environment that calls :func:`train` gets the same estimator
(the benchmark also ships one pickle to the peers, so they serve the very same bytes).

Models are fitted on a DataFrame with columns ``f0``..``f19``, as modelward's training does,
so every server hands the model named columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

N_FEATURES = 20
FEATURES = [f"f{i}" for i in range(N_FEATURES)]
KINDS = ("rf", "lr")


def data(n: int = 5000, *, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` rows of 20 numeric features and a 0/1 label depending on a few of them."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, N_FEATURES)).round(4)
    logits = x[:, 0] - 0.8 * x[:, 1] + 0.5 * x[:, 2] * x[:, 3] + 0.3 * rng.normal(size=n)
    y = (logits > 0).astype(np.int64)
    return pd.DataFrame(x, columns=FEATURES), y


def train(kind: str) -> Any:
    """``rf``: RandomForestClassifier(100 trees, max_depth 10); ``lr``: LogisticRegression."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    x, y = data()
    if kind == "rf":
        model: Any = RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0)
    elif kind == "lr":
        model = LogisticRegression(max_iter=1000)
    else:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return model.fit(x, y)


def request_rows(n: int = 64, *, seed: int = 1) -> list[dict[str, float]]:
    """Rows the load generator cycles through (single-row requests)."""
    x, _ = data(n, seed=seed)
    return [{k: float(v) for k, v in row.items()} for row in x.to_dict(orient="records")]
