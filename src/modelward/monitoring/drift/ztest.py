"""Two-proportion z-test for boolean columns."""

from __future__ import annotations

import math
from typing import ClassVar

from scipy import stats

from modelward.monitoring._columns import ColumnKind, ColumnSummary, CurrentColumn
from modelward.monitoring.drift.base import DriftTest, TestOutcome, categorical_js, new_category_details


class ZTest(DriftTest):
    """Pooled two-proportion z-test on the share of ``True``; two-sided.

    ``z = (p_cur - p_ref) / sqrt(p (1 - p) (1/n_ref + 1/n_cur))`` with ``p`` the pooled share; when
    ``p`` is 0 or 1 both samples agree and the p-value is 1. Values other than True/False in the current
    window are not counted (they are reported as new categories). The effect size is the Jensen-Shannon
    distance (base 2) between the two True/False distributions.

    Args:
        threshold: significance level when the test runs on its own (default 0.05).
    """

    name: ClassVar[str] = "ztest"
    kinds: ClassVar[frozenset[ColumnKind]] = frozenset({"boolean"})
    uses_p_value: ClassVar[bool] = True
    default_threshold: ClassVar[float] = 0.05
    effect_measure: ClassVar[str] = "jensenshannon"

    def run(self, reference: ColumnSummary, current: CurrentColumn) -> TestOutcome:
        ref, cur = self._categorical(reference, current)
        index = {c: i for i, c in enumerate(ref.categories)}
        n1, n2 = int(ref.counts.sum()), int(cur.counts.sum())
        t1 = int(ref.counts[index[True]]) if True in index else 0
        t2 = int(cur.counts[index[True]]) if True in index else 0
        if n1 == 0 or n2 == 0:
            z, p = 0.0, 1.0
        else:
            pooled = (t1 + t2) / (n1 + n2)
            var = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
            z = 0.0 if var <= 0 else (t2 / n2 - t1 / n1) / math.sqrt(var)
            p = float(2.0 * stats.norm.sf(abs(z)))
        return TestOutcome(
            statistic=z,
            p_value=p,
            effect_size=categorical_js(ref, cur),
            effect_measure=self.effect_measure,
            threshold=self.threshold_value,
            drifted=p < self.threshold_value,
            details={
                "reference_share": t1 / n1 if n1 else None,
                "current_share": t2 / n2 if n2 else None,
                **new_category_details(ref, cur),
            },
        )
