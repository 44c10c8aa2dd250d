"""Batch explanation speed (issue 13, acceptance 3, second half): modelward's explainer against calling
``shap`` directly, on 10,000 rows of the issue's planted data and its RandomForest (100 trees, depth 8).

modelward's TreeSHAP is shap's, plus the float32 cast scikit-learn's trees compare with and the
reshaping into (rows, columns, outputs); the ratio should stay within 1.2. Both are checked to give
the same values (1e-9) and to add up to ``predict_proba`` (1e-6).

    .venv/bin/python benchmarks/explain.py [--rows 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import shap
from sklearn.ensemble import RandomForestClassifier

from modelward.explain import explainer_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.rows
    x = pd.DataFrame(rng.normal(size=(n + 10_000, 10)), columns=[f"x{i}" for i in range(1, 11)])
    y = np.array((x["x1"] + x["x2"] > 0).astype(int))
    flip = rng.random(len(y)) < 0.05
    y[flip] = 1 - y[flip]
    train, rows = x.iloc[:10_000], x.iloc[10_000:]
    rf = RandomForestClassifier(n_estimators=100, max_depth=8, random_state=0).fit(train, y[:10_000])
    ours = explainer_for(rf, list(x.columns), train.iloc[:100], task="classification")
    theirs = shap.TreeExplainer(rf)
    t_ours, t_shap = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        explanation = ours.explain(rows)
        t_ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        reference = np.asarray(theirs.shap_values(rows.to_numpy(dtype=np.float32).astype(np.float64)))
        t_shap.append(time.perf_counter() - started)
    assert np.max(np.abs(explanation.values - reference)) <= 1e-9
    total = explanation.base_values[None, :] + explanation.values.sum(axis=1)
    assert np.max(np.abs(total - rf.predict_proba(rows))) <= 1e-6
    best_ours, best_shap = min(t_ours), min(t_shap)
    print(f"{n} rows, RandomForest 100 trees depth 8, best of {args.repeat}:")
    print(f"  modelward explain  {best_ours:8.2f} s  ({n / best_ours:,.0f} rows/s)")
    print(f"  shap directly      {best_shap:8.2f} s  ({n / best_shap:,.0f} rows/s)")
    print(f"  ratio              {best_ours / best_shap:8.3f}  (target ≤ 1.2)")


if __name__ == "__main__":
    main()
