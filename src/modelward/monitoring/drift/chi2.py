"""Chi-square test of homogeneity on the 2xK contingency table."""

from __future__ import annotations

from typing import ClassVar

from modelward.monitoring._columns import ColumnKind, ColumnSummary, CurrentColumn
from modelward.monitoring._stats import chi2_2xk
from modelward.monitoring.drift.base import DriftTest, TestOutcome, categorical_js, new_category_details


class ChiSquare(DriftTest):
    """Pearson chi-square on the reference/current x category table, as ``scipy.stats.chi2_contingency``
    (with Yates' correction when there are two categories).

    Both samples are treated as samples — unlike a goodness-of-fit test against reference shares taken
    as exact, which over-alarms. Categories the reference never saw become extra columns (reference
    count 0) and are listed in ``details["new_categories"]``. The effect size is the Jensen-Shannon
    distance (base 2) over the same categories.

    Args:
        threshold: significance level when the test runs on its own (default 0.05).
    """

    name: ClassVar[str] = "chi2"
    kinds: ClassVar[frozenset[ColumnKind]] = frozenset({"categorical", "boolean"})
    uses_p_value: ClassVar[bool] = True
    default_threshold: ClassVar[float] = 0.05
    effect_measure: ClassVar[str] = "jensenshannon"

    def run(self, reference: ColumnSummary, current: CurrentColumn) -> TestOutcome:
        ref, cur = self._categorical(reference, current)
        ref_counts, cur_counts = cur.union_counts(ref)
        statistic, p, dof = chi2_2xk(ref_counts, cur_counts)
        details = {"dof": dof, **new_category_details(ref, cur)}
        return TestOutcome(
            statistic=statistic,
            p_value=p,
            effect_size=categorical_js(ref, cur),
            effect_measure=self.effect_measure,
            threshold=self.threshold_value,
            drifted=p < self.threshold_value,
            details=details,
        )
