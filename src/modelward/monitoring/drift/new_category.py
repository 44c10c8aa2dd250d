"""Share of current values in categories the reference never saw."""

from __future__ import annotations

from typing import ClassVar

from modelward.monitoring._columns import ColumnKind, ColumnSummary, CurrentColumn
from modelward.monitoring.drift.base import DriftTest, TestOutcome, new_category_details


class NewCategory(DriftTest):
    """Share of the current window's non-missing values whose category is absent from the reference.

    Args:
        threshold: share at or above which the column is drifted (default 0.01).
    """

    name: ClassVar[str] = "new_category"
    kinds: ClassVar[frozenset[ColumnKind]] = frozenset({"categorical", "boolean"})
    uses_p_value: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 0.01
    effect_measure: ClassVar[str] = "new_category_share"

    def run(self, reference: ColumnSummary, current: CurrentColumn) -> TestOutcome:
        ref, cur = self._categorical(reference, current)
        share = float(cur.new_counts.sum() / cur.n) if cur.n else 0.0
        return TestOutcome(
            statistic=share,
            p_value=None,
            effect_size=share,
            effect_measure=self.effect_measure,
            threshold=self.threshold_value,
            drifted=share >= self.threshold_value and share > 0,
            details=new_category_details(ref, cur),
        )
