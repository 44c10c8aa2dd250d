"""Paired bootstrap of a metric difference: the gate's test for F1, log loss and any other metric.

McNemar covers accuracy and DeLong covers ROC AUC; everything else (F1, precision, recall, log loss,
Brier, MAE, RMSE, R², or a metric you pass in) is compared by resampling rows: the same resampled rows
score both models, so the interval of ``metric(challenger) - metric(champion)`` keeps the pairing (the
two models' errors are correlated, which makes the paired interval much narrower than two separate
ones). It runs ``scipy.stats.bootstrap(..., paired=True)`` with ``method="BCa"`` (bias-corrected and
accelerated; second-order accurate) by default. ``method="percentile"`` is the fallback the validity
simulations use: BCa's jackknife costs O(rows²), too slow for thousands of simulated gates.

The interval is two-sided at ``1 - 2 * alpha`` so that its lower end is the one-sided ``1 - alpha``
bound of a non-inferiority or superiority judgement (see :class:`PairedComparison`). The resampling is
seeded: the same inputs and seed give the same interval.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from modelward.errors import ConfigError
from modelward.evaluation._inputs import FloatArray, as_1d, same_rows
from modelward.evaluation._metrics import RowMetric, get_metric, value_of
from modelward.evaluation.result import PairedComparison, check_alpha

METHODS = ("BCa", "percentile")
#: Index values held in memory at once per resampling batch (bounds memory on large holdouts).
_BATCH_CELLS = 4_000_000
#: Distinct per-row combinations up to which rows are resampled as combination ids (see _row_statistic).
_MAX_ROW_KINDS = 64


def paired_bootstrap(
    y_true: Any,
    champion_pred: Any,
    challenger_pred: Any,
    *,
    metric: str | Callable[[Any, Any], float] = "f1",
    higher_is_better: bool | None = None,
    alpha: float = 0.05,
    method: str = "BCa",
    n_resamples: int = 9999,
    seed: int = 0,
    pos_label: Any = 1,
) -> PairedComparison:
    """Interval of ``metric(challenger) - metric(champion)`` by a paired, seeded bootstrap over rows.

    Args:
        y_true: the labels (or targets).
        champion_pred, challenger_pred: each model's predictions for the same rows: labels for accuracy,
            precision, recall and F1; P(positive) (1-D) or one probability column per class (2-D, with
            ``y_true`` holding column indices) for ``log_loss`` and ``brier``; numbers for ``mae``,
            ``mse``, ``rmse`` and ``r2``.
        metric: a built-in name (precision, recall and F1 of the class ``pos_label``), or a callable
            ``metric(y_true, y_pred) -> float`` (then ``higher_is_better`` is required; it is called
            once per resample, so it is slower).
        alpha: one-sided significance level; the interval is two-sided at ``1 - 2 * alpha``.
        method: ``"BCa"`` or ``"percentile"``.
        n_resamples: bootstrap resamples.
        seed: seeds the resampling.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 600)
    >>> champ = np.where(rng.uniform(size=600) < 0.80, y, 1 - y)    # right on ~80 % of rows
    >>> chall = np.where(rng.uniform(size=600) < 0.90, y, 1 - y)    # right on ~90 %
    >>> r = paired_bootstrap(y, champ, chall, metric="f1", n_resamples=999, seed=1)
    >>> r.test, r.interval, round(r.difference, 3), r.shows_better()
    ('bootstrap_bca', 'bca', 0.088, True)
    >>> round(r.lower, 3), round(r.upper, 3)
    (0.054, 0.124)
    """
    alpha = check_alpha(alpha)
    if method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {method!r}.")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 100:
        raise ConfigError(f"n_resamples must be an integer of at least 100, got {n_resamples!r}.")
    y = as_1d(y_true, "y_true")
    a = np.asarray(champion_pred)
    b = np.asarray(challenger_pred)
    n = same_rows(2, y_true=y, champion_pred=a, challenger_pred=b)
    if callable(metric):
        if higher_is_better is None:
            raise ConfigError(
                "A callable metric needs higher_is_better=True or False: the gate must know "
                "which direction is an improvement."
            )
        return _custom(y, a, b, metric, bool(higher_is_better), alpha, method, n_resamples, seed, n)
    spec = get_metric(metric)
    if higher_is_better is not None and bool(higher_is_better) != spec.higher_is_better:
        raise ConfigError(
            f"{metric} is a metric where higher is {'better' if spec.higher_is_better else 'worse'}; "
            f"drop higher_is_better={higher_is_better!r}."
        )
    rows_a = spec.rows(y, a, pos_label)
    rows_b = spec.rows(y, b, pos_label)
    champion, challenger = value_of(spec, rows_a), value_of(spec, rows_b)
    details: dict[str, Any] = {"n_resamples": n_resamples, "seed": seed, "method": method}
    if spec.name in ("precision", "recall", "f1"):
        details["pos_label"] = _plain(pos_label)
    if all(np.array_equal(ra, rb) for ra, rb in zip(rows_a, rows_b, strict=True)):
        details["note"] = "identical per-row scores: the difference is exactly 0 on every resample"
        return _result(
            spec.name,
            spec.higher_is_better,
            "exact",
            method,
            n,
            champion,
            challenger,
            0.0,
            0.0,
            alpha,
            details,
        )
    data, statistic = _row_statistic(spec, rows_a, rows_b)
    lower, upper, used = _run(data, statistic, True, alpha, method, n_resamples, seed, n)
    if used != method:
        details["fallback"] = (
            f"{method} interval undefined (degenerate bootstrap distribution); percentile used"
        )
    return _result(
        spec.name,
        spec.higher_is_better,
        used.lower(),
        method,
        n,
        champion,
        challenger,
        lower,
        upper,
        alpha,
        details,
    )


def _row_statistic(
    spec: RowMetric, rows_a: list[FloatArray], rows_b: list[FloatArray]
) -> tuple[tuple[Any, ...], Callable[..., Any]]:
    """The data and vectorised statistic scipy resamples.

    When the per-row quantities take few distinct combinations (labels: accuracy, precision, recall,
    F1), each row is replaced by the id of its combination and a resample's means come from one
    ``bincount`` of the ids: one gathered array instead of one per quantity, several times faster.
    Otherwise the quantities themselves are resampled.
    """
    k = len(rows_a)
    table = np.column_stack([*rows_a, *rows_b])
    kinds, ids = np.unique(table, axis=0, return_inverse=True)
    if kinds.shape[0] <= _MAX_ROW_KINDS:
        t = kinds.shape[0]
        ids = ids.reshape(-1).astype(np.int64)

        def by_kind(row_ids: np.ndarray[Any, Any], axis: int = -1) -> Any:
            moved = np.moveaxis(row_ids, axis, -1)
            lead, m = moved.shape[:-1], moved.shape[-1]
            flat = moved.reshape(-1, m)
            offsets = (np.arange(flat.shape[0]) * t)[:, None]
            counts = np.bincount((flat + offsets).ravel(), minlength=flat.shape[0] * t).reshape(-1, t)
            means = (counts @ kinds) / m
            cols = [means[:, j] for j in range(2 * k)]
            return (spec.value(cols[k:]) - spec.value(cols[:k])).reshape(lead)

        return (ids,), by_kind

    def by_rows(*arrays: np.ndarray[Any, Any], axis: int = -1) -> Any:
        means = [arr.mean(axis=axis) for arr in arrays]
        return spec.value(means[k:]) - spec.value(means[:k])

    return (*rows_a, *rows_b), by_rows


def _custom(
    y: Any,
    a: Any,
    b: Any,
    fn: Callable[[Any, Any], float],
    hib: bool,
    alpha: float,
    method: str,
    n_resamples: int,
    seed: int,
    n: int,
) -> PairedComparison:
    name = getattr(fn, "__name__", "metric")
    champion, challenger = float(fn(y, a)), float(fn(y, b))
    details: dict[str, Any] = {"n_resamples": n_resamples, "seed": seed, "method": method, "callable": name}

    def statistic(yy: Any, aa: Any, bb: Any) -> float:
        return float(fn(yy, bb)) - float(fn(yy, aa))

    lower, upper, used = _run((y, a, b), statistic, False, alpha, method, n_resamples, seed, n)
    if used != method:
        details["fallback"] = (
            f"{method} interval undefined (degenerate bootstrap distribution); percentile used"
        )
    return _result(name, hib, used.lower(), method, n, champion, challenger, lower, upper, alpha, details)


def _run(
    data: tuple[Any, ...],
    statistic: Callable[..., Any],
    vectorized: bool,
    alpha: float,
    method: str,
    n_resamples: int,
    seed: int,
    n: int,
) -> tuple[float, float, str]:
    """Run scipy's paired bootstrap; fall back to the percentile interval of the same resamples when the
    BCa interval is undefined (a degenerate bootstrap distribution)."""
    batch = max(1, _BATCH_CELLS // max(n, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        # BCa's acceleration is 0/0 when every jackknife value is equal; the nan it yields is handled below.
        warnings.filterwarnings(
            "ignore", "invalid value encountered", RuntimeWarning, r"scipy\.stats\._resampling"
        )
        res = stats.bootstrap(
            data,
            statistic,
            n_resamples=n_resamples,
            batch=batch,
            vectorized=vectorized,
            paired=True,
            confidence_level=1.0 - 2.0 * alpha,
            method=method,
            rng=np.random.default_rng(seed),
        )
    lower, upper = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if math.isfinite(lower) and math.isfinite(upper):
        return lower, upper, method
    dist = np.asarray(res.bootstrap_distribution, dtype=np.float64)
    lo, hi = np.quantile(dist, [alpha, 1.0 - alpha])
    return float(lo), float(hi), "percentile"


def _result(
    metric: str,
    hib: bool,
    interval: str,
    method: str,
    n: int,
    champion: float,
    challenger: float,
    lower: float,
    upper: float,
    alpha: float,
    details: dict[str, Any],
) -> PairedComparison:
    return PairedComparison(
        metric=metric,
        test="bootstrap_bca" if method == "BCa" else "bootstrap_percentile",
        interval=interval,
        n=n,
        champion=champion,
        challenger=challenger,
        difference=challenger - champion,
        higher_is_better=hib,
        alpha=alpha,
        lower=lower,
        upper=upper,
        details=details,
    )


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


__all__ = ["METHODS", "RowMetric", "paired_bootstrap"]
