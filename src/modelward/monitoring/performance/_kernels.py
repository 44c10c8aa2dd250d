"""Vectorised metric kernels shared by realized metrics, CBPE and their intervals.

Every kernel works on a leading "replicate" axis so that a point value (one replicate), a bootstrap
(``B`` resamples) and a label simulation (``B`` draws) go through the same code: the point value a user
sees and the replicates its interval comes from can never disagree about the formula.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Elements (replicates x rows) materialised at once; bootstraps of large windows run in blocks of this.
BLOCK_ELEMENTS = 2_000_000
#: Windows above this many rows are bootstrapped on a subsample (see :func:`bootstrap_bounds`).
BOOTSTRAP_MAX_ROWS = 10_000


def z_value(confidence: float) -> float:
    """The two-sided standard-normal quantile for ``confidence`` (1.96 for 0.95)."""
    return float(ndtri(0.5 + confidence / 2.0))


def wilson(successes: float, trials: float, confidence: float) -> tuple[float | None, float | None]:
    """Wilson score interval for a binomial proportion (``None`` bounds when ``trials`` is 0)."""
    if trials <= 0:
        return None, None
    z = z_value(confidence)
    p = successes / trials
    denom = 1.0 + z * z / trials
    centre = (p + z * z / (2.0 * trials)) / denom
    half = z / denom * np.sqrt(p * (1.0 - p) / trials + z * z / (4.0 * trials * trials))
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def percentile(values: FloatArray, confidence: float) -> tuple[float | None, float | None]:
    """Percentile interval of replicate values, ignoring replicates where the metric is undefined."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None, None
    alpha = 1.0 - confidence
    lo, hi = np.quantile(finite, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


def blocks(n_replicates: int, n_rows: int) -> Iterator[int]:
    """Sizes of replicate blocks so that a block holds at most :data:`BLOCK_ELEMENTS` values."""
    size = max(1, min(n_replicates, BLOCK_ELEMENTS // max(1, n_rows)))
    done = 0
    while done < n_replicates:
        step = min(size, n_replicates - done)
        yield step
        done += step


def bootstrap_bounds(
    n_rows: int,
    n_replicates: int,
    seed: int,
    make_statistic: Callable[[IntArray | None], Callable[[IntArray], FloatArray]],
    point: Sequence[float],
    confidence: float,
    max_rows: int = BOOTSTRAP_MAX_ROWS,
) -> list[tuple[float | None, float | None]]:
    """Percentile bootstrap intervals of several statistics at once.

    ``make_statistic(rows)`` returns a function of a ``(b, m)`` matrix of indexes into ``rows`` (``None``:
    all rows) giving ``(b,)`` or ``(b, columns)`` values; ``point`` holds each column's value on the
    whole window. Indices are drawn block by block from one seeded generator (the result depends only on
    ``seed``, ``n_rows`` and ``n_replicates``). Windows above ``max_rows`` rows are bootstrapped on a seeded
    subsample of ``max_rows`` rows and the replicates' deviations from the subsample's own value rescaled
    by ``sqrt(max_rows / n_rows)`` around ``point`` (every metric here converges at the ``1/sqrt(n)`` rate),
    which keeps the cost bounded for large windows.
    """
    if n_replicates == 0:
        return [(None, None)] * len(point)
    rng = np.random.default_rng(seed)
    centre = None
    if n_rows > max_rows:
        rows = np.sort(rng.choice(n_rows, size=max_rows, replace=False))
        statistic, m = make_statistic(rows), max_rows
        centre = statistic(np.arange(m)[None, :]).reshape(1, -1)
    else:
        statistic, m = make_statistic(None), n_rows
    reps = np.concatenate(
        [statistic(rng.integers(0, m, size=(b, m))).reshape(b, -1) for b in blocks(n_replicates, m)]
    )
    if centre is not None:
        reps = np.asarray(point, dtype=np.float64) + (reps - centre) * np.sqrt(m / n_rows)
    return [percentile(reps[:, j], confidence) for j in range(reps.shape[1])]


def confusion_counts(codes: IntArray, n_cells: int) -> FloatArray:
    """Counts per cell for each row of ``codes`` (``(b, n)`` cell indices) -> ``(b, n_cells)``."""
    b = codes.shape[0]
    flat = (codes + n_cells * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n_cells).reshape(b, n_cells).astype(np.float64)


def _safe_ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    """``num / den`` with 0 where ``den`` is 0 (scikit-learn's ``zero_division=0``)."""
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


def confusion_metrics(confusion: FloatArray, positive: int | None) -> dict[str, FloatArray]:
    """Accuracy, precision, recall and F1 from ``(b, K, K)`` confusion matrices (rows: truth).

    ``positive`` is the index of the positive class for binary metrics; ``None`` gives macro averages
    over all ``K`` classes. Undefined ratios count as 0, as scikit-learn's ``zero_division=0``. Counts
    may be fractional (CBPE's expected confusion matrix).
    """
    tp = np.diagonal(confusion, axis1=1, axis2=2)
    predicted = confusion.sum(axis=1)
    actual = confusion.sum(axis=2)
    total = actual.sum(axis=1)
    fp, fn = predicted - tp, actual - tp
    precision = _safe_ratio(tp, predicted)
    recall = _safe_ratio(tp, actual)
    f1 = _safe_ratio(2.0 * tp, 2.0 * tp + fp + fn)
    if positive is None:
        precision, recall, f1 = precision.mean(axis=1), recall.mean(axis=1), f1.mean(axis=1)
    else:
        precision, recall, f1 = precision[:, positive], recall[:, positive], f1[:, positive]
    return {
        "accuracy": _safe_ratio(tp.sum(axis=1), total),
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def weighted_auc(scores: FloatArray, positive_weight: FloatArray, negative_weight: FloatArray) -> FloatArray:
    """ROC AUC (Mann-Whitney with ties counted half) with per-row weights, one value per weight row.

    ``positive_weight`` and ``negative_weight`` are ``(b, n)``: bootstrap counts times the 0/1 label
    for realized AUC, or calibrated probabilities for CBPE's expected AUC. Rows are sorted once by
    score and tied scores grouped, so each replicate costs O(n). ``nan`` where a side has no weight.
    """
    order = np.argsort(scores, kind="mergesort")
    ordered = scores[order]
    pos = positive_weight[:, order]
    neg = negative_weight[:, order]
    if ordered.size > 1 and np.any(ordered[1:] == ordered[:-1]):
        # Tied scores: totals per group of equal scores from cumulative sums at each group's end.
        ends = np.r_[np.flatnonzero(ordered[1:] != ordered[:-1]), ordered.size - 1]
        pos = np.diff(np.cumsum(pos, axis=1)[:, ends], axis=1, prepend=0.0)
        neg = np.diff(np.cumsum(neg, axis=1)[:, ends], axis=1, prepend=0.0)
    below = np.cumsum(neg, axis=1) - neg
    num = np.sum(pos * (below + 0.5 * neg), axis=1)
    den = pos.sum(axis=1) * neg.sum(axis=1)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def ovr_auc(
    scores: FloatArray,
    positive_weight: Callable[[int], FloatArray],
    negative_weight: Callable[[int], FloatArray],
    positive: int | None,
) -> FloatArray:
    """Binary AUC of class ``positive``, or the one-vs-rest macro average over all columns of ``scores``.

    The macro average is ``nan`` for a replicate where any class has no positive or no negative weight
    (scikit-learn refuses that case).
    """
    if positive is not None:
        return weighted_auc(scores[:, positive], positive_weight(positive), negative_weight(positive))
    per_class = [
        weighted_auc(scores[:, k], positive_weight(k), negative_weight(k)) for k in range(scores.shape[1])
    ]
    macro: FloatArray = np.mean(np.vstack(per_class), axis=0)
    return macro
