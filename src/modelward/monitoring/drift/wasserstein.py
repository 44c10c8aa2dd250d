"""Wasserstein (earth mover's) distance normalised by the reference standard deviation."""

from __future__ import annotations

from typing import ClassVar

from modelward.monitoring._columns import ColumnKind, ColumnSummary, CurrentColumn
from modelward.monitoring.drift.base import DriftTest, TestOutcome, normalised_wasserstein


class Wasserstein(DriftTest):
    """First Wasserstein distance divided by the reference standard deviation (ddof=0).

    The raw distance equals ``scipy.stats.wasserstein_distance`` (within 1e-9 relative). Dividing by the
    reference spread makes it unit-free: shifting every value by ``k`` standard deviations gives ``k``.
    A constant reference is divided by ``|mean|`` instead (or 1 when the mean is 0).

    Args:
        threshold: distance at or above which the column is drifted (default 0.1, Evidently's default).
    """

    name: ClassVar[str] = "wasserstein"
    kinds: ClassVar[frozenset[ColumnKind]] = frozenset({"numeric"})
    uses_p_value: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 0.1
    effect_measure: ClassVar[str] = "wasserstein_normalised"

    def run(self, reference: ColumnSummary, current: CurrentColumn) -> TestOutcome:
        ref, cur = self._numeric(reference, current)
        value = normalised_wasserstein(ref, cur)
        return TestOutcome(
            statistic=value,
            p_value=None,
            effect_size=value,
            effect_measure=self.effect_measure,
            threshold=self.threshold_value,
            drifted=value >= self.threshold_value,
            details={"wasserstein": value * ref.scale, "reference_scale": ref.scale},
        )
