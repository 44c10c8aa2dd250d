"""Data-quality and upstream-change checks of a current window against a reference profile.

Each check yields :class:`Finding` objects that name the column and say what changed:

========================  ========  ===========================================================
check                     severity  fires when
========================  ========  ===========================================================
``missing_column``        error     a reference column is absent from the current data
``extra_column``          warning   the current data has a column the reference did not
``type_changed``          error     the column's type family changed (e.g. numeric -> string); only a
                                    warning when values stay comparable (boolean -> 0/1 integers)
``all_missing``           error     every current value is missing
``missing_rate_jump``     warning   the missing share rose by ``missing_jump`` or more (absolute)
``out_of_range``          warning   ``range_share`` or more of the values fall outside the
                                    reference [min, max]
``unit_change``           warning   median and spread both moved by a power of ten (x1000, /100…)
                                    or a common unit factor (x60, x2.2046…): likely a unit change.
                                    Both sides need real spread: a constant or near-constant
                                    side is never called a unit change
``new_categories``        warning   categorical values the reference never saw
``constant_column``       warning   a single distinct value where the reference had several
========================  ========  ===========================================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from modelward.monitoring._columns import (
    CategoricalSummary,
    ColumnSummary,
    CurrentCategorical,
    CurrentColumn,
    CurrentNumeric,
    NumericSummary,
    count_missing,
    dtype_family,
    prepare_current,
    quantiles_sorted,
)
from modelward.monitoring._json import jsonable

if TYPE_CHECKING:
    from modelward.monitoring.profile import Profile

#: Scale factors other than powers of ten that usually mean a unit change: factor -> (what a
#: multiplication by it suggests, what a division by it suggests).
UNIT_FACTORS: dict[float, tuple[str, str]] = {
    60.0: ("minutes -> seconds, or hours -> minutes", "seconds -> minutes, or minutes -> hours"),
    3600.0: ("hours -> seconds", "seconds -> hours"),
    24.0: ("days -> hours", "hours -> days"),
    2.20462: ("kilograms -> pounds", "pounds -> kilograms"),
    2.54: ("inches -> centimetres", "centimetres -> inches"),
    1.609344: ("miles -> kilometres", "kilometres -> miles"),
    3.28084: ("metres -> feet", "feet -> metres"),
}
_POW10_TOLERANCE = 0.1  # in log10 units: the factor must be within x// 1.26 of a power of ten
_FACTOR_TOLERANCE = 0.02  # in log10 units: within x// 1.047 of a named factor
# A side whose interquartile range is below this share of its magnitude is (near-)constant: its
# spread is rounding noise, and a ratio of spreads or medians involving it says nothing about units.
_MIN_RELATIVE_SPREAD = 1e-9


@dataclass(frozen=True)
class Finding:
    """One data-quality finding: which check fired, on which column, and what changed.

    Attributes:
        check: the check that fired: ``missing_column``, ``extra_column``, ``all_missing``,
            ``type_changed``, ``missing_rate_jump``, ``out_of_range``, ``unit_change``,
            ``new_categories`` or ``constant_column``.
        column: the column it is about (``None`` for the frame as a whole).
        severity: ``"error"`` when the column cannot be compared as it is (missing, all missing,
            an incompatible type), ``"warning"`` otherwise.
        message: one sentence naming the column and what changed, for people.
        details: the numbers behind the message (rates, ranges, factors, categories), for code.
    """

    check: str
    column: str | None
    severity: Literal["error", "warning"]
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(asdict(self))
        return out


def _families_compatible(ref_family: str, cur_family: str) -> bool:
    return ref_family == cur_family


def _has_spread(q25: float, q75: float) -> bool:
    """Whether a side's interquartile range is real spread, not a constant or rounding noise."""
    return bool(q75 - q25 > _MIN_RELATIVE_SPREAD * max(abs(q25), abs(q75)))


def _scale_factor(ref_ratio_iqr: float, ref_ratio_median: float | None) -> tuple[float, str] | None:
    """A likely unit factor from the IQR ratio, confirmed by the median ratio when that is usable.

    >>> _scale_factor(1000.0, 1000.0)
    (1000.0, 'a power-of-ten rescaling')
    >>> _scale_factor(1000.0, 1.0) is None  # the spread grew, the median did not: not units
    True
    """
    if ref_ratio_iqr <= 0:
        return None
    lr = math.log10(ref_ratio_iqr)

    def agrees(target: float, tol: float) -> bool:
        if ref_ratio_median is None:
            return True
        return ref_ratio_median > 0 and abs(math.log10(ref_ratio_median) - target) <= tol

    k = round(lr)
    if k != 0 and abs(lr - k) <= _POW10_TOLERANCE and agrees(float(k), _POW10_TOLERANCE):
        return 10.0**k, "a power-of-ten rescaling"
    for factor, (up, down) in UNIT_FACTORS.items():
        for f, text in ((factor, up), (1.0 / factor, down)):
            t = math.log10(f)
            if abs(lr - t) <= _FACTOR_TOLERANCE and agrees(t, _FACTOR_TOLERANCE):
                return f, text
    return None


def _numeric_findings(
    name: str, ref: NumericSummary, cur: CurrentNumeric, range_share: float
) -> list[Finding]:
    out: list[Finding] = []
    if cur.n == 0 or ref.n == 0:
        return out
    values = cur.values
    below = int(np.searchsorted(values, ref.min, side="left"))
    above = int(values.size - np.searchsorted(values, ref.max, side="right"))
    share = (below + above) / values.size
    if share >= range_share and share > 0:
        out.append(
            Finding(
                "out_of_range",
                name,
                "warning",
                f"Column {name!r}: {share:.1%} of current values fall outside the reference range "
                f"[{ref.min:.6g}, {ref.max:.6g}] ({below} below, {above} above).",
                {
                    "share": share,
                    "below": below,
                    "above": above,
                    "reference_min": ref.min,
                    "reference_max": ref.max,
                    "current_min": float(values[0]),
                    "current_max": float(values[-1]),
                },
            )
        )
    if ref.n > 1 and ref.min < ref.max and values[0] == values[-1]:
        out.append(
            Finding(
                "constant_column",
                name,
                "warning",
                f"Column {name!r} is constant ({float(values[0]):.6g}) in the current data; the reference "
                f"varied from {ref.min:.6g} to {ref.max:.6g}.",
                {"value": float(values[0])},
            )
        )
    r25, r50, r75 = quantiles_sorted(ref.values, (0.25, 0.5, 0.75))
    c25, c50, c75 = quantiles_sorted(values, (0.25, 0.5, 0.75))
    r_iqr, c_iqr = float(r75 - r25), float(c75 - c25)
    if not (_has_spread(r25, r75) and _has_spread(c25, c75)):
        return out  # a (near-)constant side: nothing to compare a scale with
    usable_median = r50 != 0 and abs(r50) > 0.1 * r_iqr
    median_ratio = float(c50 / r50) if usable_median else None
    found = _scale_factor(c_iqr / r_iqr, median_ratio)
    if found is not None:
        factor, what = found
        shown = f"x{factor:g}" if factor >= 1 else f"/{1 / factor:g}"
        out.append(
            Finding(
                "unit_change",
                name,
                "warning",
                f"Column {name!r} looks rescaled by {shown} ({what}): median {r50:.6g} -> {c50:.6g}, "
                f"IQR {r_iqr:.6g} -> {c_iqr:.6g}. Likely a unit change upstream.",
                {
                    "factor": factor,
                    "suggests": what,
                    "reference_median": float(r50),
                    "current_median": float(c50),
                    "reference_iqr": r_iqr,
                    "current_iqr": c_iqr,
                },
            )
        )
    return out


def _categorical_findings(name: str, ref: CategoricalSummary, cur: CurrentCategorical) -> list[Finding]:
    out: list[Finding] = []
    if cur.n == 0:
        return out
    if cur.new_categories:
        share = float(cur.new_counts.sum() / cur.n)
        shown = ", ".join(repr(c) for c in cur.new_categories[:5])
        more = f" and {len(cur.new_categories) - 5} more" if len(cur.new_categories) > 5 else ""
        out.append(
            Finding(
                "new_categories",
                name,
                "warning",
                f"Column {name!r} has {len(cur.new_categories)} categor{'y' if len(cur.new_categories) == 1 else 'ies'} "
                f"the reference never saw: {shown}{more} ({share:.1%} of current values).",
                {
                    "new_categories": list(cur.new_categories[:20]),
                    "counts": [int(c) for c in cur.new_counts[:20]],
                    "n_new_categories": len(cur.new_categories),
                    "share": share,
                },
            )
        )
    distinct = int(np.count_nonzero(cur.counts)) + len(cur.new_categories)
    if len(ref.categories) > 1 and distinct == 1:
        value = cur.new_categories[0] if cur.new_categories else ref.categories[int(np.argmax(cur.counts))]
        out.append(
            Finding(
                "constant_column",
                name,
                "warning",
                f"Column {name!r} holds only {value!r} in the current data; the reference had "
                f"{len(ref.categories)} categories.",
                {"value": value},
            )
        )
    return out


def frame_findings(profile: Profile, current: pd.DataFrame) -> list[Finding]:
    """Schema findings of the whole frame: reference columns missing from ``current``, extra columns."""
    findings: list[Finding] = []
    columns: Mapping[str, ColumnSummary] = profile.columns
    for name in columns:
        if name not in current.columns:
            findings.append(
                Finding(
                    "missing_column",
                    name,
                    "error",
                    f"Column {name!r} is in the reference but missing from the current data.",
                )
            )
    for name in current.columns:
        if str(name) not in columns and str(name) not in profile.ignored:
            findings.append(
                Finding(
                    "extra_column",
                    str(name),
                    "warning",
                    f"Column {name!r} is in the current data but not in the reference.",
                    {"dtype": str(current[name].dtype)},
                )
            )
    return findings


def column_findings(
    name: str,
    ref: ColumnSummary,
    series: pd.Series,
    col: CurrentColumn | str | None = None,
    *,
    missing_jump: float = 0.05,
    range_share: float = 0.01,
) -> list[Finding]:
    """The findings of one column present on both sides (``col``: the column already prepared by
    :func:`~modelward.monitoring._columns.prepare_current`, or ``None`` to prepare it here)."""
    findings: list[Finding] = []
    total = len(series)
    n_missing = count_missing(series)
    if total and n_missing == total:
        findings.append(
            Finding(
                "all_missing",
                name,
                "error",
                f"Column {name!r} is missing in all {total} current rows "
                f"(reference missing rate {ref.missing_rate:.1%}).",
            )
        )
        return findings
    if col is None:
        col = prepare_current(series, ref)
    family = dtype_family(series)
    if not _families_compatible(ref.family, family):
        # an error when the values can no longer be compared at all, else a warning
        comparable = not isinstance(col, str)
        findings.append(
            Finding(
                "type_changed",
                name,
                "warning" if comparable else "error",
                f"Column {name!r} changed type: reference {ref.dtype} ({ref.family}), current "
                f"{series.dtype} ({family})"
                + ("; values are still compared." if comparable else "; drift cannot be tested."),
                {"reference_dtype": ref.dtype, "current_dtype": str(series.dtype), "comparable": comparable},
            )
        )
    if isinstance(col, str):
        return findings
    cur_missing = col.n_missing / (col.n + col.n_missing) if (col.n + col.n_missing) else 0.0
    if cur_missing - ref.missing_rate >= missing_jump:
        findings.append(
            Finding(
                "missing_rate_jump",
                name,
                "warning",
                f"Column {name!r}: missing rate rose from {ref.missing_rate:.1%} to {cur_missing:.1%}.",
                {"reference_missing_rate": ref.missing_rate, "current_missing_rate": cur_missing},
            )
        )
    if isinstance(ref, NumericSummary) and isinstance(col, CurrentNumeric):
        findings.extend(_numeric_findings(name, ref, col, range_share))
    elif isinstance(ref, CategoricalSummary) and isinstance(col, CurrentCategorical):
        findings.extend(_categorical_findings(name, ref, col))
    return findings


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Errors first, otherwise in the order found (stable)."""
    findings.sort(key=lambda f: 0 if f.severity == "error" else 1)
    return findings


def check_quality(
    profile: Profile,
    current: pd.DataFrame,
    *,
    missing_jump: float = 0.05,
    range_share: float = 0.01,
    prepared: Mapping[str, CurrentColumn | str] | None = None,
) -> list[Finding]:
    """Compare ``current`` with the reference ``profile`` and list what changed, errors first.

    Args:
        profile: the fitted reference profile.
        current: the current window.
        missing_jump: absolute rise in the missing share that is reported (default 0.05).
        range_share: share of values outside the reference range that is reported (default 0.01).
        prepared: columns already prepared (avoids sorting twice).
    """
    findings = frame_findings(profile, current)
    for name, ref in profile.columns.items():
        if name not in current.columns:
            continue
        col = prepared.get(name) if prepared is not None else None
        findings.extend(
            column_findings(name, ref, current[name], col, missing_jump=missing_jump, range_share=range_share)
        )
    return sort_findings(findings)
