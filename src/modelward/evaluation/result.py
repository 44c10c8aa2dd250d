"""The one result every paired comparison returns: :class:`PairedComparison`.

A gate compares a champion and a challenger scored on the same rows. Whatever the test (McNemar, a paired
bootstrap, DeLong, Wilcoxon), the gate needs the same few figures to decide and to explain itself: both
models' values, the difference challenger - champion, a one-sided p-value for "the challenger is better"
when the test has one, and an interval for the difference from which a non-inferiority margin can be
judged. Keeping them in one shape lets :func:`modelward.evaluation.decide` treat every item alike and lets
the loop store every number.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from modelward.errors import ConfigError
from modelward.evaluation._json import jsonable

#: Whether a larger value of a metric is better (the gate turns differences into improvements with it).
HIGHER_IS_BETTER: dict[str, bool] = {
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "roc_auc": True,
    "r2": True,
    "log_loss": False,
    "brier": False,
    "mae": False,
    "mse": False,
    "rmse": False,
}


def check_alpha(alpha: object, name: str = "alpha") -> float:
    """``alpha`` as a float in (0, 0.5); a :class:`ConfigError` that says so otherwise."""
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < float(alpha) < 0.5:
        raise ConfigError(
            f"{name} is a one-sided significance level and must be a number in (0, 0.5), got {alpha!r}. "
            "Try 0.05.",
            details={"parameter": name},
        )
    return float(alpha)


@dataclass(frozen=True)
class PairedComparison:
    """Champion against challenger on one metric, on the same rows.

    Attributes:
        metric: what was compared (``"accuracy"``, ``"f1"``, ``"roc_auc"``, ``"mae"``, …).
        test: the test behind ``p_value`` (``"mcnemar_exact"``, ``"mcnemar_chi2"``, ``"delong"``,
            ``"wilcoxon"``) or the bootstrap behind the interval (``"bootstrap_bca"``,
            ``"bootstrap_percentile"``) when there is no p-value.
        interval: how ``lower``/``upper`` were obtained (``"tango"``, ``"wald"``, ``"bca"``,
            ``"percentile"``, ``"exact"`` when the difference is known to be zero).
        n: rows compared.
        champion, challenger: each model's value of the metric on those rows.
        difference: ``challenger - champion`` in the metric's units.
        higher_is_better: direction of the metric (log loss and MAE: ``False``).
        alpha: one-sided significance level the figures were computed at.
        lower, upper: the two-sided ``1 - 2 * alpha`` interval of ``difference`` (90 % at alpha = 0.05), so
            that each end is a one-sided ``1 - alpha`` bound: the end on the improving side is the bound a
            non-inferiority margin is judged against (the usual practice of non-inferiority trials).
        p_value: one-sided p-value of "the challenger is better" (``None`` for a bootstrap).
        statistic: the test statistic (chi-square, z, W), ``None`` when there is none.
        details: counts and settings specific to the test (discordant pairs, resamples, seed, …).
    """

    metric: str
    test: str
    interval: str
    n: int
    champion: float
    challenger: float
    difference: float
    higher_is_better: bool
    alpha: float
    lower: float
    upper: float
    p_value: float | None = None
    statistic: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def confidence(self) -> float:
        """Coverage of the two-sided interval ``[lower, upper]``: ``1 - 2 * alpha``."""
        return 1.0 - 2.0 * self.alpha

    @property
    def improvement(self) -> float:
        """``difference`` signed so that positive always means the challenger is better."""
        return self.difference if self.higher_is_better else -self.difference

    @property
    def improvement_lower(self) -> float:
        """One-sided ``1 - alpha`` lower confidence bound of :attr:`improvement`."""
        return self.lower if self.higher_is_better else -self.upper

    def shows_better(self) -> bool:
        """The challenger is shown better at ``alpha``: the test's one-sided p-value is below ``alpha``,
        or, for a bootstrap without a p-value, the lower bound of the improvement is above zero."""
        if self.p_value is not None:
            return self.p_value < self.alpha
        return self.improvement_lower > 0.0

    def shows_non_inferior(self, margin: float) -> bool:
        """The challenger is shown at most ``margin`` worse (metric units): the one-sided ``1 - alpha``
        lower bound of the improvement lies above ``-margin``. A one-sided test at level ``alpha`` of
        H0: improvement <= -margin."""
        return self.improvement_lower > -margin

    def to_dict(self) -> dict[str, Any]:
        """Every figure as plain JSON values (non-finite numbers become ``None``), derived ones included."""
        out: dict[str, Any] = jsonable(asdict(self))
        out["confidence"] = self.confidence
        out["improvement"] = jsonable(self.improvement)
        out["improvement_lower"] = jsonable(self.improvement_lower)
        return out

    def describe(self) -> str:
        """One line for a report: values, difference and interval with their method."""
        p = "" if self.p_value is None else f", one-sided p = {_fmt(self.p_value)}"
        return (
            f"{self.metric}: challenger {_fmt(self.challenger)} vs champion {_fmt(self.champion)} "
            f"(difference {self.difference:+.4g}, {self.confidence:.0%} CI [{_fmt(self.lower)}, "
            f"{_fmt(self.upper)}] by {self.interval}{p}; {self.test}, n = {self.n})"
        )


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    return f"{x:.4g}"
