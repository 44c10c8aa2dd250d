"""The base class every per-feature drift test derives from."""

from __future__ import annotations

import abc
import inspect
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from modelward.errors import ConfigError, DataError
from modelward.monitoring._columns import (
    CategoricalSummary,
    ColumnKind,
    ColumnSummary,
    CurrentCategorical,
    CurrentColumn,
    CurrentNumeric,
    NumericSummary,
    infer_kind,
    prepare_current,
    summarise,
)
from modelward.monitoring._stats import (
    js_distance,
    ks_statistic_sorted,
    searchsorted_sorted,
    wasserstein_sorted,
)


@dataclass(frozen=True)
class TestOutcome:
    """What one test found on one column, before any multiple-testing correction.

    ``drifted`` compares the p-value (p-value tests) or the statistic (distance tests) with the test's
    own threshold; :meth:`modelward.monitoring.Profile.compare` re-decides it across features.

    Attributes:
        statistic: the test statistic (the distance itself for distance tests).
        p_value: the p-value, or ``None`` for distance tests.
        effect_size: how large the change is, in the unit ``effect_measure`` names (0: none).
        effect_measure: that unit (``"wasserstein_normalised"``, ``"jensenshannon"``, …).
        threshold: the threshold in force: a significance level, or a distance.
        drifted: this test's own verdict, before any correction across features.
        details: test-specific extras for reports (new categories, bin edges, …).
    """

    __test__ = False  # not a pytest class

    statistic: float
    p_value: float | None
    effect_size: float
    effect_measure: str
    threshold: float
    drifted: bool
    details: dict[str, Any] = field(default_factory=dict)


class DriftTest(abc.ABC):
    """A two-sample test of one column: reference summary against the current window.

    Subclasses set the class attributes below, store their constructor parameters under their own names
    (and nothing else), and implement :meth:`run`.

    Attributes:
        name: the registry name (``"ks"``).
        kinds: the column kinds the test accepts.
        uses_p_value: ``True`` when the test yields a p-value (compared with ``alpha`` after correction);
            ``False`` for distances (compared with ``threshold``).
        default_threshold: significance level for p-value tests, distance for the others.
        effect_measure: what ``effect_size`` means in the outcome.
    """

    __test__ = False  # not a pytest class

    name: ClassVar[str]
    kinds: ClassVar[frozenset[ColumnKind]]
    uses_p_value: ClassVar[bool]
    default_threshold: ClassVar[float]
    effect_measure: ClassVar[str]

    def __init__(self, threshold: float | None = None) -> None:
        self.threshold = threshold
        self._check_params()

    # -- parameters -------------------------------------------------------------------------------------

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, read back from the attributes of the same names."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.get_params() == other.get_params()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_params().items()))))

    def _check_params(self) -> None:
        """Raise :class:`ConfigError` for a bad parameter; subclasses extend it for their own."""
        t = self.threshold
        if t is None:
            return
        if not isinstance(t, int | float) or isinstance(t, bool) or not math.isfinite(t):
            raise ConfigError(
                f"{type(self).__name__}: threshold must be a finite number, got {t!r}.",
                details={"test": self.name, "parameter": "threshold"},
            )
        if self.uses_p_value and not 0 < t < 1:
            raise ConfigError(
                f"{type(self).__name__}: threshold is a significance level and must be between 0 and 1 "
                f"(exclusive), got {t!r}. Try 0.05.",
                details={"test": self.name, "parameter": "threshold"},
            )
        if not self.uses_p_value and t < 0:
            raise ConfigError(
                f"{type(self).__name__}: threshold is a distance and must be >= 0, got {t!r}. "
                f"The default is {self.default_threshold}.",
                details={"test": self.name, "parameter": "threshold"},
            )

    @staticmethod
    def _check_int(test: DriftTest, name: str, value: object, minimum: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ConfigError(
                f"{type(test).__name__}: {name} must be an integer >= {minimum}, got {value!r}.",
                details={"test": test.name, "parameter": name},
            )

    @property
    def threshold_value(self) -> float:
        """The threshold in force: the one given, else the class default."""
        return float(self.default_threshold if self.threshold is None else self.threshold)

    # -- running ---------------------------------------------------------------------------------------

    def accepts(self, kind: ColumnKind) -> bool:
        return kind in self.kinds

    @abc.abstractmethod
    def run(self, reference: ColumnSummary, current: CurrentColumn) -> TestOutcome:
        """Test one prepared column. Both sides must hold at least one non-missing value."""

    def compute(
        self, reference: ArrayLike, current: ArrayLike, kind: ColumnKind | None = None
    ) -> TestOutcome:
        """Run the test on two raw 1-D samples (convenient outside a :class:`Profile`).

        The column kind is inferred from the reference sample unless ``kind`` is given.

        >>> from modelward.monitoring.drift import KolmogorovSmirnov
        >>> out = KolmogorovSmirnov().compute([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0])
        >>> out.statistic, round(out.p_value, 4)
        (0.5, 0.7714)
        """
        ref_series = pd.Series(np.asarray(reference), name="reference")
        use = kind or infer_kind(ref_series)
        if not self.accepts(use):
            raise ConfigError(
                f"{type(self).__name__} does not accept {use} columns; it accepts "
                f"{', '.join(sorted(self.kinds))}."
            )
        ref_summary = summarise(ref_series, use)
        prepared = prepare_current(pd.Series(np.asarray(current), name="current"), ref_summary)
        if isinstance(prepared, str):
            raise DataError(f"{type(self).__name__}: cannot compare the samples: {prepared}.")
        if ref_summary.n == 0 or prepared.n == 0:
            raise DataError(f"{type(self).__name__}: both samples need at least one non-missing value.")
        return self.run(ref_summary, prepared)

    # -- helpers shared by subclasses ----------------------------------------------------------------

    @staticmethod
    def _numeric(reference: ColumnSummary, current: CurrentColumn) -> tuple[NumericSummary, CurrentNumeric]:
        if not isinstance(reference, NumericSummary) or not isinstance(current, CurrentNumeric):
            raise DataError("This test needs a numeric column on both sides.")
        return reference, current

    @staticmethod
    def _categorical(
        reference: ColumnSummary, current: CurrentColumn
    ) -> tuple[CategoricalSummary, CurrentCategorical]:
        if not isinstance(reference, CategoricalSummary) or not isinstance(current, CurrentCategorical):
            raise DataError("This test needs a categorical or boolean column on both sides.")
        return reference, current


def search_right(reference: NumericSummary, current: CurrentNumeric) -> np.ndarray[Any, np.dtype[np.int64]]:
    """``searchsorted(reference, current, "right")``, computed once per column and shared by tests."""
    cached = current.cache.get("s_right")
    if cached is None:
        cached = searchsorted_sorted(reference.values, current.values, "right")
        current.cache["s_right"] = cached
    out: np.ndarray[Any, np.dtype[np.int64]] = cached
    return out


def normalised_wasserstein(reference: NumericSummary, current: CurrentNumeric) -> float:
    """Wasserstein distance divided by the reference scale (std, else ``|mean|``, else 1); cached."""
    cached = current.cache.get("wasserstein")
    if cached is None:
        s_right = (
            search_right(reference, current) if reference.n != current.n else None
        )  # equal n: not needed
        cached = wasserstein_sorted(reference.values, current.values, s_right)
        current.cache["wasserstein"] = cached
    return float(cached) / reference.scale


def ks_statistic(reference: NumericSummary, current: CurrentNumeric) -> float:
    """The KS statistic; cached. Locates every current value in the reference only when the
    Wasserstein distance needs those positions too (unequal sizes), else only the blocks that matter."""
    cached = current.cache.get("ks_d")
    if cached is None:
        s_right = (
            search_right(reference, current) if reference.n != current.n else current.cache.get("s_right")
        )
        cached = ks_statistic_sorted(reference.values, current.values, s_right)
        current.cache["ks_d"] = cached
    return float(cached)


def categorical_js(reference: CategoricalSummary, current: CurrentCategorical) -> float:
    """Jensen-Shannon distance (base 2) over the union of reference and new categories; cached."""
    cached = current.cache.get("js")
    if cached is None:
        ref, cur = current.union_counts(reference)
        cached = js_distance(ref, cur)
        current.cache["js"] = cached
    return float(cached)


def new_category_details(
    reference: CategoricalSummary, current: CurrentCategorical, top: int = 10
) -> dict[str, Any]:
    """The categories the reference never saw (most frequent first, at most ``top``), for reports."""
    if not current.new_categories:
        return {}
    return {
        "new_categories": list(current.new_categories[:top]),
        "new_category_counts": [int(c) for c in current.new_counts[:top]],
        "n_new_categories": len(current.new_categories),
        "new_category_share": float(current.new_counts.sum() / max(current.n, 1)),
    }
