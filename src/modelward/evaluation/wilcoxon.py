"""Regression gate: Wilcoxon's signed-rank test on absolute errors, with the MAE difference's interval.

For a regressor the natural per-row evidence is each model's absolute error on the same row. The
Wilcoxon signed-rank test (``scipy.stats.wilcoxon``, one-sided: the champion's absolute errors exceed
the challenger's) uses their paired differences without assuming normality, and is robust to a few huge
errors. It tests the median of those differences (more exactly their pseudo-median), not the MAE, so
the result also carries the MAE difference with a paired bootstrap interval: that interval is what a
non-inferiority margin (in the target's units) is judged against, and what a report shows.

Rows where both errors are equal carry no sign and are dropped (``zero_method="wilcox"``); scipy's
``method="auto"`` is exact for small samples without ties and uses the normal approximation otherwise.
When every difference is zero the models are indistinguishable: ``p_value`` is 1.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from scipy import stats

from modelward.evaluation._inputs import as_float, same_rows
from modelward.evaluation.bootstrap import paired_bootstrap
from modelward.evaluation.result import PairedComparison, check_alpha


def wilcoxon_abs_errors(
    y_true: Any,
    champion_pred: Any,
    challenger_pred: Any,
    *,
    alpha: float = 0.05,
    method: str = "BCa",
    n_resamples: int = 9999,
    seed: int = 0,
) -> PairedComparison:
    """Compare two regressors on the same rows: Wilcoxon on absolute errors, bootstrap on MAE.

    ``p_value`` is the one-sided Wilcoxon p-value (H1: the challenger's absolute errors are smaller);
    ``lower``/``upper`` the paired bootstrap interval of ``MAE(challenger) - MAE(champion)``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=400)
    >>> champ = y + rng.normal(0, 1.0, 400)
    >>> chall = y + rng.normal(0, 0.8, 400)
    >>> r = wilcoxon_abs_errors(y, champ, chall, n_resamples=999)
    >>> r.metric, r.test, r.interval, r.shows_better()
    ('mae', 'wilcoxon', 'bca', True)
    >>> round(r.difference, 3), round(r.p_value, 6) < 0.001
    (-0.222, True)
    """
    alpha = check_alpha(alpha)
    y = as_float(y_true, "y_true")
    a = as_float(champion_pred, "champion_pred")
    b = as_float(challenger_pred, "challenger_pred")
    n = same_rows(2, y_true=y, champion_pred=a, challenger_pred=b)
    err_a, err_b = np.abs(a - y), np.abs(b - y)
    nonzero = int(np.count_nonzero(err_a != err_b))
    if nonzero == 0:
        statistic, p_greater = 0.0, 1.0
    else:
        res = stats.wilcoxon(err_a, err_b, zero_method="wilcox", alternative="greater", method="auto")
        statistic, p_greater = float(res.statistic), float(res.pvalue)
    mae = paired_bootstrap(
        y, a, b, metric="mae", alpha=alpha, method=method, n_resamples=n_resamples, seed=seed
    )
    details = dict(mae.details)
    details.update(
        {
            "nonzero_differences": nonzero,
            "ties_dropped": n - nonzero,
            "interval_of": "MAE(challenger) - MAE(champion), paired bootstrap",
        }
    )
    return replace(mae, test="wilcoxon", p_value=p_greater, statistic=statistic, details=details)
