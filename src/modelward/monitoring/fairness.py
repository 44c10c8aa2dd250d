"""Fairness of one window: per-group rates of a binary classifier, and the two gaps between groups that
fairlearn names, each with an interval that holds for both gaps at once.

Why this exists: a model can keep its accuracy while it drifts apart on groups of people (the population
moves, the labels of one group change). Monitoring per window shows *when* a gap opened; the loop's gate
uses the same numbers to refuse a challenger that treats groups worse.

Per group (fairlearn's ``MetricFrame``): selection rate over every row with a prediction; true and false
positive rates and accuracy over the labeled rows. Between groups:

- **demographic parity difference**: the largest gap in selection rate between two groups;
- **equalized odds difference**: the larger of the largest TPR gap and the largest FPR gap.

**Intervals.** A stratified bootstrap: rows resampled with replacement *within* each group, group sizes
kept. A group's resampled counts are then a multinomial draw over its cells (selected or not; TP, FN, FP,
TN), so ``resamples`` draws cost ``resamples`` multinomials per group, not ``resamples x n`` row indices —
the same distribution, exactly. Every pairwise difference of the group rates gets a simultaneous interval
from the bootstrap distribution of the largest studentized deviation (max-t over pairs, and over TPR and
FPR together for equalized odds), so the interval for a gap — a maximum over pairs — keeps its coverage.
**Testing both gaps is corrected** (Bonferroni): each gets level ``1 - alpha / (2 x sensitive columns)``,
so a fair population is flagged on any gap of any column with probability at most ``alpha``.

A gap is **flagged** when its interval's lower bound exceeds ``tolerance``: the window shows, at that
confidence, a gap larger than the one tolerated. Groups with fewer than ``min_group_rows`` rows (labeled
rows, for the rates that need labels) are reported as too small and left out of the gaps, never failed.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> group = np.repeat(["a", "b"], 1000)
>>> y_true = rng.random(2000) < 0.5
>>> y_pred = np.where(group == "a", rng.random(2000) < 0.55, rng.random(2000) < 0.40)   # a gap of 0.15
>>> result = fairness(y_true, y_pred, group, labeled=np.ones(2000, bool), column="group")
>>> result.demographic_parity.flagged, round(result.demographic_parity.value, 3)
(True, 0.177)
>>> [g.group for g in result.groups], result.flagged
(['a', 'b'], True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from modelward.errors import ConfigError, DataError

__all__ = ["FairnessResult", "Gap", "GroupRates", "fairness", "fairness_of_columns"]

MIN_GROUP_ROWS = 30
TOLERANCE = 0.05
RESAMPLES = 2000


@dataclass(frozen=True)
class GroupRates:
    """One group's rows and rates (``None`` where the group has too few rows, or no positives / negatives
    among its labeled rows for TPR / FPR)."""

    group: str
    rows: int
    labeled: int
    selection_rate: float | None
    tpr: float | None
    fpr: float | None
    accuracy: float | None
    too_small: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> GroupRates:
        def rate(key: str) -> float | None:
            return None if doc.get(key) is None else float(doc[key])

        return cls(
            str(doc["group"]),
            int(doc["rows"]),
            int(doc["labeled"]),
            rate("selection_rate"),
            rate("tpr"),
            rate("fpr"),
            rate("accuracy"),
            bool(doc["too_small"]),
        )


@dataclass(frozen=True)
class Gap:
    """A gap between groups: its value, its interval (``confidence``, simultaneous over the pairs) and the
    verdict. ``value`` is ``None`` when fewer than two groups could be compared (``reason`` says why)."""

    name: str
    value: float | None
    lower: float | None
    upper: float | None
    confidence: float
    tolerance: float
    flagged: bool
    between: tuple[str, str] | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["between"] = None if self.between is None else list(self.between)
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Gap:
        between = doc.get("between")
        return cls(
            str(doc["name"]),
            doc.get("value"),
            doc.get("lower"),
            doc.get("upper"),
            float(doc["confidence"]),
            float(doc["tolerance"]),
            bool(doc["flagged"]),
            None if between is None else (str(between[0]), str(between[1])),
            str(doc.get("reason") or ""),
        )


@dataclass(frozen=True)
class FairnessResult:
    """The fairness of one sensitive column in one window."""

    column: str
    groups: tuple[GroupRates, ...]
    demographic_parity: Gap
    equalized_odds: Gap
    positive_label: Any
    resamples: int

    @property
    def flagged(self) -> bool:
        return self.demographic_parity.flagged or self.equalized_odds.flagged

    @property
    def too_small(self) -> list[str]:
        return [g.group for g in self.groups if g.too_small]

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "flagged": self.flagged,
            "groups": [g.to_dict() for g in self.groups],
            "demographic_parity": self.demographic_parity.to_dict(),
            "equalized_odds": self.equalized_odds.to_dict(),
            "positive_label": _plain(self.positive_label),
            "resamples": self.resamples,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> FairnessResult:
        return cls(
            str(doc["column"]),
            tuple(GroupRates.from_dict(g) for g in doc["groups"]),
            Gap.from_dict(doc["demographic_parity"]),
            Gap.from_dict(doc["equalized_odds"]),
            doc.get("positive_label"),
            int(doc["resamples"]),
        )


def fairness(
    y_true: Any,
    y_pred: Any,
    groups: Any,
    *,
    labeled: Any = None,
    column: str = "group",
    positive_label: Any = None,
    alpha: float = 0.05,
    tests: int = 2,
    tolerance: float = TOLERANCE,
    min_group_rows: int = MIN_GROUP_ROWS,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> FairnessResult:
    """Per-group rates and the two gaps of one sensitive column (see the module docstring).

    Args:
        y_true: the labels (any value where ``labeled`` is false).
        y_pred: the predicted classes, one per row.
        groups: the sensitive column's value per row (missing values are a group of their own, "<missing>").
        labeled: which rows have a label (default: all).
        positive_label: the class that counts as selected; default: the larger of the two classes seen.
        alpha, tests: each gap's interval has level ``1 - alpha / tests`` (``tests`` = the gaps tested
            together: 2 per sensitive column).
        tolerance: a gap is flagged when its lower bound exceeds this.
        min_group_rows: groups with fewer rows (labeled rows for TPR, FPR and accuracy) are too small.
        resamples, seed: the bootstrap.
    """
    _check(alpha, tests, tolerance, min_group_rows, resamples)
    pred = np.asarray(y_pred, dtype=object).reshape(-1)
    truth = np.asarray(y_true, dtype=object).reshape(-1)
    n = len(pred)
    if len(truth) != n or len(np.asarray(groups, dtype=object).reshape(-1)) != n:
        raise DataError(
            f"fairness({column!r}): y_true, y_pred and the sensitive column need one value per row; got "
            f"{len(truth)}, {n} and {len(np.asarray(groups, dtype=object).reshape(-1))}."
        )
    has_label = np.ones(n, dtype=bool) if labeled is None else np.asarray(labeled, dtype=bool).reshape(-1)
    group = pd.Series([_group_name(v) for v in np.asarray(groups, dtype=object).reshape(-1)], dtype=object)
    positive = _positive(pred, truth[has_label], positive_label, column)
    selected = np.asarray([p == positive for p in pred], dtype=bool)
    actual = np.asarray([t == positive for t in truth], dtype=bool) & has_label

    rates = _by_group(selected, actual, has_label, group.to_numpy(dtype=object))
    table = tuple(_group_rates(name, r, min_group_rows) for name, r in rates.items())
    confidence = 1.0 - alpha / tests
    rng = np.random.default_rng(seed)
    dp = _gap(
        "demographic parity difference",
        {g.group: rates[g.group] for g in table if g.selection_rate is not None},
        ("selection_rate",),
        confidence,
        tolerance,
        resamples,
        rng,
    )
    eo = _gap(
        "equalized odds difference",
        {g.group: rates[g.group] for g in table if g.tpr is not None and g.fpr is not None},
        ("tpr", "fpr"),
        confidence,
        tolerance,
        resamples,
        rng,
    )
    return FairnessResult(column, table, dp, eo, positive, resamples)


def fairness_of_columns(
    y_true: Any,
    y_pred: Any,
    frame: pd.DataFrame,
    columns: Sequence[str],
    **options: Any,
) -> tuple[dict[str, FairnessResult], list[str], dict[str, str]]:
    """:func:`fairness` of each of ``columns`` found in ``frame``, both gaps of all of them tested together
    (``tests = 2 x found``); ``options`` are :func:`fairness`'s. Returns the results by column, the columns
    ``frame`` lacks, and the columns that could not be checked with the reason (e.g. more than two classes):
    the callers (the monitor's window, the loop's gate) say so in their own words and go on."""
    present = [c for c in columns if c in frame.columns]
    results: dict[str, FairnessResult] = {}
    errors: dict[str, str] = {}
    for column in present:
        groups = frame[column].to_numpy(dtype=object)
        try:
            results[column] = fairness(
                y_true, y_pred, groups, column=column, tests=2 * len(present), **options
            )
        except DataError as exc:
            errors[column] = exc.message
    return results, [c for c in columns if c not in frame.columns], errors


def _check(alpha: float, tests: int, tolerance: float, min_group_rows: int, resamples: int) -> None:
    if not 0 < alpha < 1:
        raise ConfigError(f"fairness: alpha must be in (0, 1), got {alpha!r}.")
    if tests < 1:
        raise ConfigError(f"fairness: tests must be >= 1, got {tests!r}.")
    if not math.isfinite(tolerance) or tolerance < 0:
        raise ConfigError(f"fairness: tolerance must be a finite number >= 0, got {tolerance!r}.")
    if min_group_rows < 2:
        raise ConfigError(f"fairness: min_group_rows must be >= 2, got {min_group_rows!r}.")
    if resamples < 100:
        raise ConfigError(f"fairness: resamples must be >= 100, got {resamples!r}.")


def _positive(pred: npt.NDArray[Any], labels: npt.NDArray[Any], given: Any, column: str) -> Any:
    """The positive class: ``given``, or the larger of the (at most two) classes seen."""
    seen = sorted({_plain(v) for v in (*pred, *labels)}, key=lambda v: (str(type(v)), v))
    if given is not None:
        return given
    if len(seen) > 2:
        raise DataError(
            f"fairness({column!r}) needs a binary classifier; the predictions and labels hold {len(seen)} "
            f"classes ({', '.join(map(str, seen[:5]))}{', …' if len(seen) > 5 else ''}). Set the positive "
            "class (monitor.fairness.positive_label) to compare one class against the rest."
        )
    return seen[-1] if seen else 1


def _group_name(value: Any) -> str:
    """A group's name: missing values are one group, "<missing>"; 2.0 read back from a log is "2"."""
    if value is None or value is pd.NA or (isinstance(value, float | np.floating) and math.isnan(value)):
        return "<missing>"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _by_group(
    selected: npt.NDArray[np.bool_],
    actual: npt.NDArray[np.bool_],
    labeled: npt.NDArray[np.bool_],
    group: npt.NDArray[Any],
) -> dict[str, dict[str, Any]]:
    """Each group's counts (fairlearn's MetricFrame gives the rates; the counts feed the bootstrap)."""
    from fairlearn.metrics import MetricFrame, count, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import accuracy_score

    everyone = MetricFrame(
        metrics={"selection_rate": selection_rate, "rows": count},
        y_true=selected,
        y_pred=selected,
        sensitive_features=pd.Series(group, name="group"),
    ).by_group
    lab = np.flatnonzero(labeled)
    with_labels: pd.DataFrame | None = None
    if len(lab):
        with np.errstate(invalid="ignore", divide="ignore"):
            with_labels = MetricFrame(
                metrics={
                    "tpr": true_positive_rate,
                    "fpr": false_positive_rate,
                    "accuracy": accuracy_score,
                    "labeled": count,
                },
                y_true=actual[lab],
                y_pred=selected[lab],
                sensitive_features=pd.Series(group[lab], name="group"),
            ).by_group
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(everyone.index, key=str):
        in_group = group == name
        tp = int(np.sum(in_group & labeled & actual & selected))
        fn = int(np.sum(in_group & labeled & actual & ~selected))
        fp = int(np.sum(in_group & labeled & ~actual & selected))
        tn = int(np.sum(in_group & labeled & ~actual & ~selected))
        row = None if with_labels is None or name not in with_labels.index else with_labels.loc[name]
        out[str(name)] = {
            "rows": int(everyone.loc[name, "rows"]),
            "selected": int(np.sum(in_group & selected)),
            "selection_rate": float(everyone.loc[name, "selection_rate"]),
            "cells": np.array([tp, fn, fp, tn]),
            "tpr": None if row is None or tp + fn == 0 else float(row["tpr"]),
            "fpr": None if row is None or fp + tn == 0 else float(row["fpr"]),
            "accuracy": None if row is None else float(row["accuracy"]),
        }
    return out


def _group_rates(name: str, r: Mapping[str, Any], min_rows: int) -> GroupRates:
    labeled = int(r["cells"].sum())
    small_rows, small_labels = r["rows"] < min_rows, labeled < min_rows
    return GroupRates(
        name,
        int(r["rows"]),
        labeled,
        None if small_rows else r["selection_rate"],
        None if small_labels else r["tpr"],
        None if small_labels else r["fpr"],
        None if small_labels else r["accuracy"],
        bool(small_rows or small_labels),
    )


def _counts(r: Mapping[str, Any], kind: str) -> tuple[int, int]:
    """A group's successes and trials for one rate."""
    if kind == "selection_rate":
        return int(r["selected"]), int(r["rows"])
    tp, fn, fp, tn = (int(c) for c in r["cells"])
    return (tp, tp + fn) if kind == "tpr" else (fp, fp + tn)


def _draws(r: Mapping[str, Any], kinds: Sequence[str], resamples: int, rng: np.random.Generator) -> Any:
    """Bootstrap draws of one group's successes and trials per rate (``2 x resamples x len(kinds)``): its
    rows resampled with replacement, as binomial (selection) or multinomial (TP, FN, FP, TN) counts."""
    k = np.empty((resamples, len(kinds)))
    n = np.empty((resamples, len(kinds)))
    if tuple(kinds) == ("selection_rate",):
        rows = r["rows"]
        k[:, 0], n[:, 0] = rng.binomial(rows, r["selected"] / rows, size=resamples), rows
        return np.stack([k, n])
    cells = r["cells"]
    total = int(cells.sum())
    tp, fn, fp, tn = rng.multinomial(total, cells / total, size=resamples).T
    k[:, 0], n[:, 0], k[:, 1], n[:, 1] = tp, tp + fn, fp, fp + tn
    return np.stack([k, n])


def _adjusted(k: Any, n: Any) -> tuple[Any, Any]:
    """Agresti-Caffo: a rate with one success and one failure added, and its standard error. A group whose
    rate is 0 or 1 does not look certain, and small groups' intervals keep their coverage."""
    p = (k + 1.0) / (n + 2.0)
    return p, np.sqrt(p * (1.0 - p) / (n + 2.0))


def _gap(
    name: str,
    rates: Mapping[str, Mapping[str, Any]],
    kinds: tuple[str, ...],
    confidence: float,
    tolerance: float,
    resamples: int,
    rng: np.random.Generator,
) -> Gap:
    names = list(rates)
    if len(names) < 2:
        reason = "fewer than two groups large enough to compare"
        return Gap(name, None, None, None, confidence, tolerance, False, reason=reason)
    i, j = np.triu_indices(len(names), k=1)
    raw = np.array([[rates[g][k] for k in kinds] for g in names])  # groups x kinds: the rates as reported
    diff = raw[i] - raw[j]  # pairs x kinds
    counts = np.array([[_counts(rates[g], k) for k in kinds] for g in names], dtype=float)
    p, se = _adjusted(counts[..., 0], counts[..., 1])
    centre, spread = p[i] - p[j], np.hypot(se[i], se[j])
    # Bootstrap-t: each resample studentized by its own standard error, and the largest deviation over the
    # pairs (and the rates) taken, so that one quantile covers every pair at once.
    draws = np.stack(
        [_draws(rates[g], kinds, resamples, rng) for g in names], axis=2
    )  # 2 x B x groups x kinds
    p_b, se_b = _adjusted(draws[0], draws[1])
    t_max = np.max(np.abs(p_b[:, i] - p_b[:, j] - centre) / np.hypot(se_b[:, i], se_b[:, j]), axis=(1, 2))
    q = float(np.quantile(t_max, confidence))
    low, high = centre - q * spread, centre + q * spread
    abs_low = np.where((low <= 0) & (high >= 0), 0.0, np.minimum(np.abs(low), np.abs(high)))
    abs_high = np.maximum(np.abs(low), np.abs(high))
    widest = np.unravel_index(int(np.argmax(np.abs(diff))), diff.shape)
    value = float(np.abs(diff).max())
    lower = min(float(abs_low.max()), value)
    upper = min(max(float(abs_high.max()), value), 1.0)
    between = (names[i[widest[0]]], names[j[widest[0]]])
    return Gap(name, value, lower, upper, confidence, tolerance, lower > tolerance, between)
