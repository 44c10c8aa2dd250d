"""Two-sample Kolmogorov-Smirnov test."""

from __future__ import annotations

from typing import ClassVar

from modelward.monitoring._columns import ColumnKind, ColumnSummary, CurrentColumn
from modelward.monitoring._stats import ks_pvalue
from modelward.monitoring.drift.base import DriftTest, TestOutcome, ks_statistic, normalised_wasserstein


class KolmogorovSmirnov(DriftTest):
    """Two-sided two-sample KS test; statistic and p-value equal ``scipy.stats.ks_2samp`` (within 1e-9).

    The p-value is exact when both samples hold at most 10,000 values and asymptotic above, as scipy's
    ``method="auto"``. The statistic comes from a binary search of the sorted current window into the
    sorted reference kept in the profile. The effect size is the Wasserstein distance divided by the
    reference standard deviation (a location shift of ``k`` standard deviations gives ``k``).

    Args:
        threshold: significance level when the test runs on its own (default 0.05).
    """

    name: ClassVar[str] = "ks"
    kinds: ClassVar[frozenset[ColumnKind]] = frozenset({"numeric"})
    uses_p_value: ClassVar[bool] = True
    default_threshold: ClassVar[float] = 0.05
    effect_measure: ClassVar[str] = "wasserstein_normalised"

    def run(self, reference: ColumnSummary, current: CurrentColumn) -> TestOutcome:
        ref, cur = self._numeric(reference, current)
        d = ks_statistic(ref, cur)
        d, p, method = ks_pvalue(d, ref.n, cur.n, ref.values, cur.values)
        effect = normalised_wasserstein(ref, cur)
        return TestOutcome(
            statistic=d,
            p_value=p,
            effect_size=effect,
            effect_measure=self.effect_measure,
            threshold=self.threshold_value,
            drifted=p < self.threshold_value,
            details={"p_value_method": method},
        )
