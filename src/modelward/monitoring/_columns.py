"""Column summaries: what a reference profile keeps per column, and the matching view of a current window.

A reference column is summarised once (sorted finite values for numeric columns; category counts for
categorical and boolean ones). A current column is prepared once per comparison (sorted once, counted
once) and then shared by every test that runs on it.

Missing values are ``NaN``/``None``/``pd.NA`` and, for numeric columns, also ``±inf``: a non-finite number
cannot take part in a distribution test, so it is counted as missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from modelward.errors import DataError

ColumnKind: TypeAlias = Literal["numeric", "categorical", "boolean"]
KINDS: tuple[ColumnKind, ...] = ("numeric", "categorical", "boolean")
Category: TypeAlias = str | int | float | bool
FloatArray: TypeAlias = NDArray[np.float64]
IntArray: TypeAlias = NDArray[np.int64]

#: Quantiles kept in every numeric summary (reports, quality checks).
SUMMARY_QUANTILES: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def dtype_family(series: pd.Series) -> str:
    """The coarse type of a column: ``numeric``, ``boolean``, ``string``, ``datetime`` or ``other``."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "string"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return "datetime"
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        return "string"
    return "other"


def infer_kind(series: pd.Series, name: str | None = None) -> ColumnKind:
    """The column kind a test needs: bool → boolean, numbers → numeric, text/category → categorical."""
    family = dtype_family(series)
    if family == "boolean":
        return "boolean"
    if family == "numeric":
        return "numeric"
    if family == "string":
        return "categorical"
    name = str(series.name) if name is None else name
    raise DataError(
        f"Column {name!r} has dtype {series.dtype}, which modelward cannot profile for drift. "
        "Drop it, declare it 'ignore' in the schema, or convert it to numbers or strings first.",
        details={"column": name, "dtype": str(series.dtype)},
    )


def quantiles_sorted(values: FloatArray, qs: FloatArray | tuple[float, ...]) -> FloatArray:
    """Quantiles of an already sorted array by linear interpolation (numpy's default method), in O(len(qs))."""
    q = np.asarray(qs, dtype=np.float64)
    if values.size == 0:
        return np.full(q.shape, np.nan)
    pos = q * (values.size - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, values.size - 1)
    frac = pos - lo
    low, high = values[lo], values[hi]
    out: FloatArray = low + (high - low) * frac
    return out


def count_missing(series: pd.Series) -> int:
    """``int(series.isna().sum())``, without pandas' per-call overhead for numpy and Arrow columns."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind == "f":
            return int(np.count_nonzero(np.isnan(series.to_numpy())))
        if dtype.kind in "iub":
            return 0
    array = series.array
    if isinstance(array, pd.arrays.ArrowStringArray | pd.arrays.ArrowExtensionArray):
        return int(array.__arrow_array__().null_count)  # zero-copy for Arrow-backed arrays
    return int(series.isna().sum())


def mean_std(values: FloatArray) -> tuple[float, float]:
    """``(values.mean(), values.std())`` in one fewer pass, with numpy's own operations in numpy's order
    (pairwise sum / n, then the pairwise sum of squared deviations / n), so bit-for-bit the same floats."""
    if values.size == 0:
        return float("nan"), float("nan")
    mean = np.add.reduce(values) / values.size
    dev = np.subtract(values, mean)
    np.multiply(dev, dev, out=dev)
    return float(mean), float(np.sqrt(np.add.reduce(dev) / values.size))


def finite_sorted(series: pd.Series) -> tuple[FloatArray, int]:
    """Sorted finite float64 values of a numeric column, and how many values were missing or non-finite."""
    raw = series.to_numpy(dtype=np.float64, na_value=np.nan)
    dtype = series.dtype
    # A numpy int/uint/bool/float32 column was just converted into a new array we own: sort that one
    # in place. A float64 column comes back as a view of the caller's data, which is never modified.
    converted = isinstance(dtype, np.dtype) and dtype.kind in "iubf" and dtype != np.float64
    finite = None if converted and dtype.kind in "iub" else np.isfinite(raw)  # integers are all finite
    n_missing = 0 if finite is None else int(raw.size - np.count_nonzero(finite))
    if finite is not None and n_missing:
        values = raw[finite]
    elif converted:
        values = raw
    else:
        values = raw.copy()
    values.sort(kind="quicksort")
    return values, n_missing


@dataclass(frozen=True, eq=False)
class NumericSummary:
    """A numeric reference column: its sorted finite values plus the usual summaries.

    Attributes:
        name: the column's name.
        dtype: its pandas dtype, as text (``"float64"``).
        family: its coarse type (``numeric``, ``boolean``, …; see :func:`dtype_family`), against
            which a current column's type is checked.
        n_missing: missing and non-finite values (left out of ``values``).
        values: the finite values, sorted ascending (float64); ``n`` counts them.
        mean, std: their mean and standard deviation (ddof=0); ``scale`` is what distances are
            divided by.
        kind: always ``"numeric"``.
    """

    name: str
    dtype: str
    family: str
    n_missing: int
    values: FloatArray
    mean: float
    std: float
    kind: ColumnKind = "numeric"

    @property
    def n(self) -> int:
        """Number of finite values."""
        return int(self.values.size)

    @property
    def missing_rate(self) -> float:
        total = self.n + self.n_missing
        return self.n_missing / total if total else 0.0

    @property
    def min(self) -> float:
        return float(self.values[0]) if self.n else float("nan")

    @property
    def max(self) -> float:
        return float(self.values[-1]) if self.n else float("nan")

    @property
    def scale(self) -> float:
        """What distances are normalised by: the standard deviation (ddof=0), else ``|mean|``, else 1."""
        if self.std > 0:
            return self.std
        return abs(self.mean) if self.mean != 0 else 1.0

    def quantiles(self, qs: tuple[float, ...] = SUMMARY_QUANTILES) -> dict[float, float]:
        return {q: float(v) for q, v in zip(qs, quantiles_sorted(self.values, qs), strict=True)}

    @classmethod
    def from_series(cls, series: pd.Series, name: str | None = None) -> NumericSummary:
        values, n_missing = finite_sorted(series)
        mean, std = mean_std(values)
        return cls(
            name=str(series.name) if name is None else name,
            dtype=str(series.dtype),
            family=dtype_family(series),
            n_missing=n_missing,
            values=values,
            mean=mean,
            std=std,
        )

    def meta(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "dtype": self.dtype,
            "family": self.family,
            "n_missing": self.n_missing,
            "mean": self.mean,
            "std": self.std,
        }


def value_counts(series: pd.Series) -> list[tuple[Any, int]]:
    """``(value, count)`` of the non-missing values, as ``series.value_counts(dropna=True, sort=False)``.

    Object columns are factorised and counted with ``np.bincount`` (the same hash table, about twice as
    fast as pandas' object ``value_counts``); other dtypes (Arrow strings, categories, numbers) use
    pandas directly, which is already a single native pass for them.
    """
    if series.dtype == object:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        counts = np.bincount(codes + 1, minlength=len(uniques) + 1)[1:]
        return [(v, int(k)) for v, k in zip(uniques, counts.tolist(), strict=True) if k > 0]
    seen = series.value_counts(dropna=True, sort=False)
    return [(v, int(k)) for v, k in seen.items()]


def _to_category(value: Any, column: str) -> Category:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str | bool | int | float):
        return value
    raise DataError(
        f"Column {column!r} holds a category of type {type(value).__name__} ({value!r}); categorical "
        "columns must hold str, int, float or bool values. Convert the column to strings first.",
        details={"column": column, "type": type(value).__name__},
    )


@dataclass(frozen=True, eq=False)
class CategoricalSummary:
    """A categorical or boolean reference column: its categories (most frequent first) and their counts.

    Attributes:
        name, dtype, family, n_missing: as in :class:`NumericSummary`.
        categories: the distinct values (``True``/``False`` for boolean columns), most frequent first.
        counts: how often each of ``categories`` occurs (int64, same order); ``n`` is their sum.
        kind: ``"categorical"`` or ``"boolean"``.
    """

    name: str
    dtype: str
    family: str
    n_missing: int
    categories: tuple[Category, ...]
    counts: IntArray
    kind: ColumnKind = "categorical"

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def missing_rate(self) -> float:
        total = self.n + self.n_missing
        return self.n_missing / total if total else 0.0

    @classmethod
    def from_series(
        cls, series: pd.Series, kind: ColumnKind = "categorical", name: str | None = None
    ) -> CategoricalSummary:
        name = str(series.name) if name is None else name
        pairs = [(_to_category(cat, name), n) for cat, n in value_counts(series)]
        if kind == "boolean":
            bad = [c for c, _ in pairs if c not in (True, False)]
            if bad:
                raise DataError(
                    f"Column {name!r} is declared boolean but holds {bad[0]!r}; boolean columns hold only "
                    "True/False (or 1/0). Declare it 'categorical' instead.",
                    details={"column": name},
                )
            pairs = [(bool(c), n) for c, n in pairs]
            merged = {False: 0, True: 0}
            for c, n in pairs:
                merged[bool(c)] += n
            pairs = list(merged.items())
        pairs.sort(key=lambda cn: (-cn[1], str(cn[0])))
        return cls(
            name=name,
            dtype=str(series.dtype),
            family=dtype_family(series),
            n_missing=count_missing(series),
            categories=tuple(c for c, _ in pairs),
            counts=np.array([n for _, n in pairs], dtype=np.int64),
            kind=kind,
        )

    def meta(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "dtype": self.dtype,
            "family": self.family,
            "n_missing": self.n_missing,
            "categories": list(self.categories),
        }


ColumnSummary: TypeAlias = NumericSummary | CategoricalSummary


@dataclass(eq=False)
class CurrentNumeric:
    """A numeric column of the current window: sorted finite values, computed once per comparison.

    Attributes:
        values: the finite values, sorted ascending (float64); ``n`` counts them.
        n_missing: missing and non-finite values.
        cache: intermediate results shared by the tests that run on this column in one comparison
            (keys are the tests' own); a test of your own may use it, with keys of its own.
    """

    values: FloatArray
    n_missing: int
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.values.size)

    @classmethod
    def from_series(cls, series: pd.Series) -> CurrentNumeric:
        values, n_missing = finite_sorted(series)
        return cls(values=values, n_missing=n_missing)


@dataclass(eq=False)
class CurrentCategorical:
    """A categorical column of the current window, counted against the reference categories.

    ``counts[i]`` counts ``reference.categories[i]``; values the reference never saw are in
    ``new_categories`` / ``new_counts`` (most frequent first). ``n_missing`` counts missing values;
    ``cache`` is as in :class:`CurrentNumeric`. :meth:`union_counts` aligns both sides.
    """

    counts: IntArray
    new_categories: tuple[Category, ...]
    new_counts: IntArray
    n_missing: int
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.counts.sum() + self.new_counts.sum())

    @classmethod
    def from_series(cls, series: pd.Series, reference: CategoricalSummary) -> CurrentCategorical:
        # One hash pass (value_counts) over the window, then a dict lookup per distinct value: faster
        # than mapping every row to a reference code.
        name = reference.name
        seen = value_counts(series)
        index = {c: i for i, c in enumerate(reference.categories)}
        counts = np.zeros(len(reference.categories), dtype=np.int64)
        new: dict[Category, int] = {}
        for raw, k in seen:
            cat = _to_category(raw, name)
            i = index.get(cat)
            if i is None:
                new[cat] = new.get(cat, 0) + k
            else:
                counts[i] += k
        new_pairs = sorted(new.items(), key=lambda cn: (-cn[1], str(cn[0])))
        return cls(
            counts=counts,
            new_categories=tuple(c for c, _ in new_pairs),
            new_counts=np.array([k for _, k in new_pairs], dtype=np.int64),
            n_missing=int(len(series) - sum(k for _, k in seen)),
        )

    def union_counts(self, reference: CategoricalSummary) -> tuple[IntArray, IntArray]:
        """Reference and current counts over the union of categories (reference ones first, then new)."""
        k_new = len(self.new_categories)
        ref = np.concatenate([reference.counts, np.zeros(k_new, dtype=np.int64)])
        cur = np.concatenate([self.counts, self.new_counts])
        return ref, cur


CurrentColumn: TypeAlias = CurrentNumeric | CurrentCategorical


def summarise(series: pd.Series, kind: ColumnKind, name: str | None = None) -> ColumnSummary:
    """Summarise a reference column as the given kind (``name`` defaults to the series name)."""
    name = str(series.name) if name is None else name
    if kind == "numeric":
        family = dtype_family(series)
        if family not in ("numeric", "boolean"):
            raise DataError(
                f"Column {name!r} is declared numeric but has dtype {series.dtype}. Convert it with "
                "pd.to_numeric, or declare it 'categorical'.",
                details={"column": name, "dtype": str(series.dtype)},
            )
        return NumericSummary.from_series(series, name)
    return CategoricalSummary.from_series(series, kind, name)


def prepare_current(series: pd.Series, reference: ColumnSummary) -> CurrentColumn | str:
    """The current column ready for testing, or a sentence saying why it cannot be compared."""
    family = dtype_family(series)
    if isinstance(reference, NumericSummary):
        if family not in ("numeric", "boolean"):
            return f"type changed: reference is numeric ({reference.dtype}), current is {series.dtype}"
        return CurrentNumeric.from_series(series)
    if reference.kind == "boolean" and family not in ("boolean", "numeric", "string"):
        return f"type changed: reference is boolean, current is {series.dtype}"
    return CurrentCategorical.from_series(series, reference)
