"""Population stability index."""

from __future__ import annotations

import math
from typing import ClassVar

from modelward.errors import ConfigError
from modelward.monitoring._columns import ColumnKind, ColumnSummary, CurrentColumn, NumericSummary
from modelward.monitoring._stats import binned_counts, psi, quantile_edges
from modelward.monitoring.drift.base import DriftTest, TestOutcome

#: Share used in place of an empty bin (zero share) so that ``ln(c / r)`` stays finite.
DEFAULT_EPS = 1e-4


class PSI(DriftTest):
    """Population stability index ``Σ (c_i - r_i) · ln(c_i / r_i)`` over bin shares.

    Numeric columns are binned at the reference quantiles ``1/bins, …, (bins-1)/bins`` (linear
    interpolation, duplicate edges merged; the outer bins are open-ended), so each bin holds about
    ``1/bins`` of the reference. Categorical and boolean columns use one bin per category, including
    categories only the current window has. A bin whose share is exactly zero on either side counts as
    ``eps`` (default ``1e-4``).

    Rule of thumb: < 0.1 stable, 0.1-0.2 moderate shift, ≥ 0.2 significant shift.

    Args:
        bins: number of quantile bins for numeric columns (default 10).
        eps: share substituted for an empty bin (default 1e-4).
        threshold: PSI at or above which the column is drifted (default 0.2).
    """

    name: ClassVar[str] = "psi"
    kinds: ClassVar[frozenset[ColumnKind]] = frozenset({"numeric", "categorical", "boolean"})
    uses_p_value: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 0.2
    effect_measure: ClassVar[str] = "psi"

    def __init__(self, bins: int = 10, eps: float = DEFAULT_EPS, threshold: float | None = None) -> None:
        self.bins = bins
        self.eps = eps
        super().__init__(threshold=threshold)

    def _check_params(self) -> None:
        super()._check_params()
        self._check_int(self, "bins", self.bins, 2)
        if not isinstance(self.eps, int | float) or not (0 < self.eps < 1) or not math.isfinite(self.eps):
            raise ConfigError(
                f"PSI: eps must be a number between 0 and 1 (exclusive), got {self.eps!r}. "
                "The default is 1e-4.",
                details={"test": self.name, "parameter": "eps"},
            )

    def run(self, reference: ColumnSummary, current: CurrentColumn) -> TestOutcome:
        if isinstance(reference, NumericSummary):
            ref, cur = self._numeric(reference, current)
            edges = quantile_edges(ref.values, self.bins)
            ref_counts = binned_counts(ref.values, edges)
            cur_counts = binned_counts(cur.values, edges)
            details = {"bin_edges": [float(e) for e in edges]}
        else:
            cref, ccur = self._categorical(reference, current)
            ref_counts, cur_counts = ccur.union_counts(cref)
            details = {}
        value = psi(ref_counts, cur_counts, self.eps)
        details["reference_counts"] = [int(c) for c in ref_counts]
        details["current_counts"] = [int(c) for c in cur_counts]
        return TestOutcome(
            statistic=value,
            p_value=None,
            effect_size=value,
            effect_measure=self.effect_measure,
            threshold=self.threshold_value,
            drifted=value >= self.threshold_value,
            details=details,
        )
