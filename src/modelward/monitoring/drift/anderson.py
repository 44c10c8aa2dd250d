"""Anderson-Darling k-sample test (two samples)."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

from scipy import stats

from modelward.monitoring._columns import ColumnKind, ColumnSummary, CurrentColumn
from modelward.monitoring.drift.base import DriftTest, TestOutcome, normalised_wasserstein


def _anderson(ref: Any, cur: Any) -> tuple[float, float, str | None]:
    """scipy's midrank k-sample statistic and its interpolated p-value, with the cap noted not warned."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = stats.anderson_ksamp([ref, cur], variant="midrank")
        except TypeError:  # scipy < 1.17 has no `variant`
            res = stats.anderson_ksamp([ref, cur], midrank=True)
    note = None
    for w in caught:
        text = str(w.message)
        if "capped" in text:
            note = "p-value capped at 0.25 (scipy's table ends there)"
        elif "floored" in text:
            note = "p-value floored at 0.001 (scipy's table ends there)"
    return float(res.statistic), float(res.pvalue), note


class AndersonDarling(DriftTest):
    """Anderson-Darling k-sample test on reference and current: ``scipy.stats.anderson_ksamp``
    (midrank variant).

    Weighs the tails more than KS. scipy interpolates the p-value from a table, so it is floored at
    0.001 and capped at 0.25; when that happens the outcome's ``details["note"]`` says so (scipy's
    warning is not raised). Delegates to scipy, so it is slower than KS on large windows. The effect
    size is the normalised Wasserstein distance.

    Args:
        threshold: significance level when the test runs on its own (default 0.05).
    """

    name: ClassVar[str] = "anderson"
    kinds: ClassVar[frozenset[ColumnKind]] = frozenset({"numeric"})
    uses_p_value: ClassVar[bool] = True
    default_threshold: ClassVar[float] = 0.05
    effect_measure: ClassVar[str] = "wasserstein_normalised"

    def run(self, reference: ColumnSummary, current: CurrentColumn) -> TestOutcome:
        ref, cur = self._numeric(reference, current)
        effect = normalised_wasserstein(ref, cur)
        if ref.n < 2 or cur.n < 2 or ref.values[0] == ref.values[-1] == cur.values[0] == cur.values[-1]:
            return TestOutcome(
                0.0,
                1.0,
                effect,
                self.effect_measure,
                self.threshold_value,
                False,
                {"note": "too few distinct values to test"},
            )
        statistic, p, note = _anderson(ref.values, cur.values)
        return TestOutcome(
            statistic=statistic,
            p_value=p,
            effect_size=effect,
            effect_measure=self.effect_measure,
            threshold=self.threshold_value,
            drifted=p < self.threshold_value,
            details={"note": note} if note else {},
        )
