"""Model performance: realized metrics on labeled windows, label-free estimates, concept drift.

- :func:`realized_metrics`: accuracy, precision, recall, F1, ROC AUC, log loss (classification) or MAE,
  RMSE, R² (regression) of a labeled window, each with a confidence interval.
- :class:`CBPE`: a classifier's metrics estimated from its probabilities alone (covariate shift).
- :class:`DLE`: a regressor's MAE and RMSE estimated from features and predictions alone.
- :func:`compare_estimates`: estimated and realized figures side by side once labels arrive.
- :func:`detect_concept_drift`: ADWIN, DDM and Page-Hinkley over the labeled error stream.

>>> import numpy as np
>>> from modelward.monitoring.performance import CBPE, compare_estimates, realized_metrics
>>> rng = np.random.default_rng(1)
>>> p_ref, p_cur = rng.uniform(size=5000), rng.uniform(0.3, 1.0, size=5000)   # P(class 1)
>>> y_ref, y_cur = (rng.uniform(size=(2, 5000)) < [p_ref, p_cur]).astype(int)
>>> estimated = CBPE(metrics=("accuracy", "f1")).fit(y_ref, p_ref, classes=[0, 1]).estimate(p_cur)
>>> realized = realized_metrics("classification", y_cur, None, proba=p_cur, classes=[0, 1])
>>> for row in compare_estimates(estimated, realized):
...     print(row["metric"], round(row["estimated"], 3), round(row["realized"], 3), row["within_interval"])
accuracy 0.712 0.711 True
f1 0.79 0.791 True
"""

from __future__ import annotations

from modelward.monitoring.performance.cbpe import CBPE, CBPE_METRICS
from modelward.monitoring.performance.concept import DETECTORS, ConceptDriftResult, detect_concept_drift
from modelward.monitoring.performance.dle import DLE, DLE_METRICS
from modelward.monitoring.performance.realized import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    realized_metrics,
)
from modelward.monitoring.performance.result import MetricEstimate, compare_estimates

__all__ = [
    "CBPE",
    "CBPE_METRICS",
    "CLASSIFICATION_METRICS",
    "DETECTORS",
    "DLE",
    "DLE_METRICS",
    "REGRESSION_METRICS",
    "ConceptDriftResult",
    "MetricEstimate",
    "compare_estimates",
    "detect_concept_drift",
    "realized_metrics",
]
