"""Jensen-Shannon distance."""

from __future__ import annotations

from typing import ClassVar

from modelward.monitoring._columns import ColumnKind, ColumnSummary, CurrentColumn, NumericSummary
from modelward.monitoring._stats import binned_counts, js_distance, quantile_edges
from modelward.monitoring.drift.base import DriftTest, TestOutcome, categorical_js


class JensenShannon(DriftTest):
    """Jensen-Shannon distance in base 2: 0 for identical distributions, 1 for disjoint ones.

    Equals ``scipy.spatial.distance.jensenshannon(p, q, base=2)`` on the same histograms. Numeric
    columns use ``bins`` reference-quantile bins (as :class:`PSI`); categorical and boolean columns one
    bin per category over the union of reference and current categories.

    Args:
        bins: number of quantile bins for numeric columns (default 20).
        threshold: distance at or above which the column is drifted (default 0.1).
    """

    name: ClassVar[str] = "jensenshannon"
    kinds: ClassVar[frozenset[ColumnKind]] = frozenset({"numeric", "categorical", "boolean"})
    uses_p_value: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 0.1
    effect_measure: ClassVar[str] = "jensenshannon"

    def __init__(self, bins: int = 20, threshold: float | None = None) -> None:
        self.bins = bins
        super().__init__(threshold=threshold)

    def _check_params(self) -> None:
        super()._check_params()
        self._check_int(self, "bins", self.bins, 2)

    def run(self, reference: ColumnSummary, current: CurrentColumn) -> TestOutcome:
        if isinstance(reference, NumericSummary):
            ref, cur = self._numeric(reference, current)
            edges = quantile_edges(ref.values, self.bins)
            value = js_distance(binned_counts(ref.values, edges), binned_counts(cur.values, edges))
        else:
            cref, ccur = self._categorical(reference, current)
            value = categorical_js(cref, ccur)
        return TestOutcome(
            statistic=value,
            p_value=None,
            effect_size=value,
            effect_measure=self.effect_measure,
            threshold=self.threshold_value,
            drifted=value >= self.threshold_value,
        )
