"""Performance results: :class:`MetricEstimate`, and estimated vs realized side by side."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from modelward.errors import DataError
from modelward.monitoring._json import jsonable

Method = Literal["realized", "cbpe", "dle"]


@dataclass(frozen=True)
class MetricEstimate:
    """One performance figure for one window, with its interval.

    Attributes:
        metric: ``"accuracy"``, ``"precision"``, ``"recall"``, ``"f1"``, ``"roc_auc"``, ``"log_loss"``,
            ``"mae"``, ``"rmse"`` or ``"r2"``.
        value: the metric (``nan`` when undefined, e.g. ROC AUC on a window holding one class).
        lower, upper: the interval at ``confidence`` (``None`` when it cannot be formed).
        n: rows the figure is based on.
        method: ``"realized"`` (computed from labels), ``"cbpe"`` or ``"dle"`` (estimated without labels).
        interval: how ``lower``/``upper`` were obtained: ``"wilson"`` (score interval of an exact
            proportion), ``"bootstrap"`` (seeded percentile bootstrap over rows), ``"simulated"`` (CBPE:
            labels drawn from the calibrated probabilities, i.e. where the realized value should fall if
            the probabilities are right), ``"normal"`` (DLE: normal approximation from the estimated
            per-row error variance) or ``"none"``.
        confidence: the interval's nominal coverage.
    """

    metric: str
    value: float
    lower: float | None
    upper: float | None
    n: int
    method: Method
    interval: str = "none"
    confidence: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values; ``nan`` becomes ``None``."""
        out: dict[str, Any] = jsonable(asdict(self))
        return out

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> MetricEstimate:
        """The figure :meth:`to_dict` wrote (an undefined ``value`` comes back as ``nan``).

        >>> m = MetricEstimate("roc_auc", float("nan"), None, None, 20, "realized")
        >>> MetricEstimate.from_dict(m.to_dict()).to_dict() == m.to_dict()
        True
        """
        values = {f.name: doc[f.name] for f in fields(cls) if f.name in doc}
        if values.get("value") is None:
            values["value"] = math.nan
        return cls(**values)


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def compare_estimates(
    estimated: Mapping[str, MetricEstimate], realized: Mapping[str, MetricEstimate]
) -> list[dict[str, Any]]:
    """Estimated and realized values of the metrics both sides have, with the estimator's error.

    Returns one JSON-ready row per shared metric (in ``estimated``'s order): ``metric``, ``method``,
    ``estimated``, ``estimated_lower``, ``estimated_upper``, ``realized``, ``realized_lower``,
    ``realized_upper``, ``absolute_error`` (``|estimated - realized|``), ``within_interval`` (the realized
    value lies inside the estimate's interval; ``None`` without one) and ``n_estimated``/``n_realized``.

    >>> from modelward.monitoring.performance import MetricEstimate
    >>> est = {"accuracy": MetricEstimate("accuracy", 0.91, 0.89, 0.93, 1000, "cbpe", "simulated")}
    >>> real = {"accuracy": MetricEstimate("accuracy", 0.9, 0.88, 0.92, 1000, "realized", "wilson")}
    >>> row = compare_estimates(est, real)[0]
    >>> round(row["absolute_error"], 6), row["within_interval"]
    (0.01, True)
    """
    shared = [m for m in estimated if m in realized]
    if not shared:
        raise DataError(
            f"No metric appears on both sides: estimated has {sorted(estimated) or 'none'}, "
            f"realized has {sorted(realized) or 'none'}. Compare figures of the same metrics."
        )
    rows = []
    for metric in shared:
        est, real = estimated[metric], realized[metric]
        e, r = _num(est.value), _num(real.value)
        error = None if e is None or r is None else abs(e - r)
        within = None
        if r is not None and est.lower is not None and est.upper is not None:
            within = bool(est.lower <= r <= est.upper)
        rows.append(
            {
                "metric": metric,
                "method": est.method,
                "estimated": e,
                "estimated_lower": _num(est.lower),
                "estimated_upper": _num(est.upper),
                "realized": r,
                "realized_lower": _num(real.lower),
                "realized_upper": _num(real.upper),
                "absolute_error": error,
                "within_interval": within,
                "n_estimated": est.n,
                "n_realized": real.n,
            }
        )
    return rows
