"""Two-sample Cramér-von Mises test."""

from __future__ import annotations

from typing import ClassVar

from scipy import stats

from modelward.monitoring._columns import ColumnKind, ColumnSummary, CurrentColumn
from modelward.monitoring.drift.base import DriftTest, TestOutcome, normalised_wasserstein


class CramerVonMises(DriftTest):
    """Two-sample Cramér-von Mises test: ``scipy.stats.cramervonmises_2samp`` (exact p-value up to 20
    values per sample, asymptotic above).

    More sensitive than KS to differences spread over the whole distribution. Delegates to scipy, which
    ranks both samples afresh, so it is slower than :class:`KolmogorovSmirnov` on large windows. The
    effect size is the normalised Wasserstein distance.

    Args:
        threshold: significance level when the test runs on its own (default 0.05).
    """

    name: ClassVar[str] = "cramervonmises"
    kinds: ClassVar[frozenset[ColumnKind]] = frozenset({"numeric"})
    uses_p_value: ClassVar[bool] = True
    default_threshold: ClassVar[float] = 0.05
    effect_measure: ClassVar[str] = "wasserstein_normalised"

    def run(self, reference: ColumnSummary, current: CurrentColumn) -> TestOutcome:
        ref, cur = self._numeric(reference, current)
        if ref.n < 2 or cur.n < 2:
            return TestOutcome(
                0.0,
                1.0,
                normalised_wasserstein(ref, cur),
                self.effect_measure,
                self.threshold_value,
                False,
                {"note": "fewer than 2 values on one side"},
            )
        res = stats.cramervonmises_2samp(ref.values, cur.values, method="auto")
        p = float(res.pvalue)
        return TestOutcome(
            statistic=float(res.statistic),
            p_value=p,
            effect_size=normalised_wasserstein(ref, cur),
            effect_measure=self.effect_measure,
            threshold=self.threshold_value,
            drifted=p < self.threshold_value,
        )
