"""DeLong's test for the ROC AUC of two classifiers scored on the same rows.

The AUC is a Mann-Whitney statistic, and DeLong, DeLong & Clarke-Pearson (1988) give the covariance of
two correlated AUCs from each row's *placement value*: for a positive row, the share of negative rows it
outranks; for a negative row, the share of positive rows that outrank it (ties count one half). The
difference of the AUCs divided by its standard error is asymptotically standard normal.

The placement values are computed with the fast algorithm of Sun & Xu (2014, IEEE Signal Processing
Letters 21(11):1389-1393): with ``m`` positive and ``n`` negative rows, the placement of a positive row
is ``(rank among all rows - rank among positive rows) / n`` using mid-ranks, which costs a sort,
O(N log N), instead of the O(m·n) pairwise comparisons of the definition (kept in the tests as the
reference). Neither scikit-learn, scipy nor statsmodels has this test; pROC's ``roc.test`` does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from modelward.errors import DataError
from modelward.evaluation._inputs import FloatArray, as_1d, as_float, same_rows
from modelward.evaluation.result import PairedComparison, check_alpha


def placements(y_true: Any, scores: Any, pos_label: Any = 1) -> tuple[FloatArray, FloatArray, FloatArray]:
    """AUCs and placement values of one or more score vectors (Sun & Xu's O(N log N) algorithm).

    Args:
        y_true: the labels; rows equal to ``pos_label`` are positive, every other row negative.
        scores: shape ``(rows,)`` or ``(k, rows)``: higher means more likely positive.

    Returns:
        ``(auc, v10, v01)``: ``auc`` shape ``(k,)``; ``v10`` shape ``(k, m)``, for each positive row the
        share of negative rows it outranks; ``v01`` shape ``(k, n)``, for each negative row the share of
        positive rows that outrank it. Ties count one half.

    >>> auc, v10, v01 = placements([1, 1, 0, 0], [0.9, 0.4, 0.4, 0.1])
    >>> auc.tolist(), v10.tolist(), v01.tolist()
    ([0.875], [[1.0, 0.75]], [[0.75, 1.0]])
    """
    y = as_1d(y_true, "y_true")
    s = as_float(scores, "scores", ndim=(1, 2))
    s = s[None, :] if s.ndim == 1 else s
    positive = y == pos_label
    m, n = int(positive.sum()), int((~positive).sum())
    if s.shape[1] != y.shape[0]:
        raise DataError(f"scores hold {s.shape[1]} rows but y_true holds {y.shape[0]}.")
    if m < 1 or n < 1:
        raise DataError(
            f"ROC AUC needs both classes: got {m} positive (y_true == {pos_label!r}) and {n} negative rows."
        )
    x, z = s[:, positive], s[:, ~positive]
    rank_x = stats.rankdata(x, axis=1)  # mid-ranks within the positives
    rank_z = stats.rankdata(z, axis=1)  # ... within the negatives
    rank_all = stats.rankdata(np.concatenate([x, z], axis=1), axis=1)
    v10 = (rank_all[:, :m] - rank_x) / n
    v01 = 1.0 - (rank_all[:, m:] - rank_z) / m
    auc = (rank_all[:, :m].sum(axis=1) - m * (m + 1) / 2.0) / (m * n)
    return auc, v10, v01


def delong_covariance(y_true: Any, scores: Any, pos_label: Any = 1) -> tuple[FloatArray, FloatArray]:
    """AUCs of ``k`` score vectors on the same rows and DeLong's ``k x k`` covariance matrix of them.

    ``S = S10 / m + S01 / n`` where ``S10``/``S01`` are the sample covariances (``ddof=1``) of the
    placement values of the positive/negative rows.

    >>> auc, cov = delong_covariance([1, 1, 1, 0, 0, 0], [[0.9, 0.8, 0.3, 0.5, 0.2, 0.1],
    ...                                                 [0.7, 0.6, 0.5, 0.8, 0.2, 0.1]])
    >>> auc.round(4).tolist(), cov.round(5).tolist()    # 8/9, 2/3; 2/81, 1/27, 1/9 by hand
    ([0.8889, 0.6667], [[0.02469, 0.03704], [0.03704, 0.11111]])
    """
    auc, v10, v01 = placements(y_true, scores, pos_label)
    m, n = v10.shape[1], v01.shape[1]
    if m < 2 or n < 2:
        raise DataError(
            f"DeLong's covariance needs at least 2 positive and 2 negative rows, got {m} and {n}."
        )
    s10 = np.atleast_2d(np.cov(v10, ddof=1))
    s01 = np.atleast_2d(np.cov(v01, ddof=1))
    return auc, s10 / m + s01 / n


def delong(
    y_true: Any, champion_score: Any, challenger_score: Any, *, alpha: float = 0.05, pos_label: Any = 1
) -> PairedComparison:
    """Compare the ROC AUC of two classifiers' scores on the same labeled rows (DeLong's test).

    ``p_value`` is one-sided (H1: the challenger's AUC is higher), ``lower``/``upper`` the Wald interval
    ``difference ± z(1 - alpha) · se`` of the AUC difference.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 2000)
    >>> champ = y + rng.normal(0, 1.2, 2000)          # weaker separation
    >>> chall = y + rng.normal(0, 0.9, 2000)          # stronger separation
    >>> r = delong(y, champ, chall)
    >>> round(r.champion, 3), round(r.challenger, 3), round(r.statistic, 2), r.shows_better()
    (0.728, 0.781, 3.56, True)
    """
    alpha = check_alpha(alpha)
    y = as_1d(y_true, "y_true")
    a = as_float(champion_score, "champion_score")
    b = as_float(challenger_score, "challenger_score")
    n_rows = same_rows(y_true=y, champion_score=a, challenger_score=b)
    auc, cov = delong_covariance(y, np.vstack([a, b]), pos_label)
    diff = float(auc[1] - auc[0])
    var = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    se = math.sqrt(var) if var > 0.0 else 0.0
    if se > 0.0:
        z = diff / se
        p_greater = float(stats.norm.sf(z))
    else:  # identical rankings (or both perfect): no variation to judge
        z = 0.0 if diff == 0.0 else math.copysign(math.inf, diff)
        p_greater = 1.0 if diff <= 0.0 else 0.0
    half = float(stats.norm.ppf(1.0 - alpha)) * se
    positive = int(np.count_nonzero(y == pos_label))
    return PairedComparison(
        metric="roc_auc",
        test="delong",
        interval="wald",
        n=n_rows,
        champion=float(auc[0]),
        challenger=float(auc[1]),
        difference=diff,
        higher_is_better=True,
        alpha=alpha,
        lower=diff - half,
        upper=diff + half,
        p_value=p_greater,
        statistic=z,
        details={
            "se": se,
            "var_champion": float(cov[0, 0]),
            "var_challenger": float(cov[1, 1]),
            "covariance": float(cov[0, 1]),
            "p_value_two_sided": float(min(1.0, 2.0 * stats.norm.sf(abs(z))))
            if se > 0
            else float(diff == 0.0),
            "positives": positive,
            "negatives": n_rows - positive,
            "pos_label": pos_label.item() if isinstance(pos_label, np.generic) else pos_label,
        },
    )
