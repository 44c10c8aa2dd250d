"""monitoring.fairness: the per-group rates and gaps equal fairlearn's; the bootstrap intervals are
calibrated (a fair population is flagged at most alpha of the time, a planted gap nearly always); small
groups are reported, never failed. The 200-window version of the calibration is benchmarks/fairness_validity.py
(`make validate`)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fairlearn.metrics import MetricFrame, demographic_parity_difference, equalized_odds_difference

from modelward.errors import ConfigError, DataError
from modelward.monitoring.fairness import FairnessResult, _gap, fairness


def _population(n: int, rates: dict[str, float], seed: int, base: float = 0.5) -> tuple[np.ndarray, ...]:
    """``n`` rows split evenly over the groups of ``rates``; group g is selected with probability
    ``rates[g]`` regardless of its label (so its TPR and FPR both equal that rate)."""
    rng = np.random.default_rng(seed)
    names = list(rates)
    group = np.array(names, dtype=object)[np.arange(n) % len(names)]
    y_true = (rng.random(n) < base).astype(int)
    p = np.array([rates[g] for g in group])
    y_pred = (rng.random(n) < p).astype(int)
    return y_true, y_pred, group


def test_the_rates_and_gaps_equal_fairlearns() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    group = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    y_true = (rng.random(n) < np.where(group == "c", 0.3, 0.5)).astype(int)
    y_pred = (rng.random(n) < np.where(y_true == 1, 0.8, 0.2) - np.where(group == "b", 0.1, 0.0)).astype(int)
    result = fairness(y_true, y_pred, group, column="region")
    frame = MetricFrame(
        metrics={"accuracy": lambda t, p: float(np.mean(t == p))},
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=group,
    ).by_group
    for g in result.groups:
        assert math.isclose(g.accuracy, frame.loc[g.group, "accuracy"], abs_tol=1e-12)
        assert g.rows == g.labeled == int(np.sum(group == g.group)) and not g.too_small
    dp = demographic_parity_difference(y_true, y_pred, sensitive_features=group)
    eo = equalized_odds_difference(y_true, y_pred, sensitive_features=group)
    assert math.isclose(result.demographic_parity.value, dp, abs_tol=1e-12)
    assert math.isclose(result.equalized_odds.value, eo, abs_tol=1e-12)
    for gap in (result.demographic_parity, result.equalized_odds):
        assert gap.lower <= gap.value <= gap.upper and gap.confidence == 0.975
    assert FairnessResult.from_dict(result.to_dict()) == result


def test_unlabeled_rows_count_for_selection_but_not_for_the_error_rates() -> None:
    y_true, y_pred, group = _population(4000, {"a": 0.5, "b": 0.5}, seed=1)
    labeled = np.arange(4000) < 1000
    result = fairness(y_true, y_pred, group, labeled=labeled)
    assert [(g.rows, g.labeled) for g in result.groups] == [(2000, 500), (2000, 500)]
    only = fairness(y_true[labeled], y_pred[labeled], group[labeled])
    assert result.equalized_odds.value == pytest.approx(only.equalized_odds.value, abs=1e-12)
    assert result.demographic_parity.value != pytest.approx(only.demographic_parity.value, abs=1e-12)


@pytest.mark.slow  # 100 windows through fairlearn's MetricFrame
def test_a_planted_selection_gap_is_flagged_and_a_fair_population_is_not() -> None:
    """The acceptance check, reduced to 50 windows of 2,000 labeled rows each (benchmarks/fairness_validity.py
    runs 200): a selection-rate gap of 0.15 is flagged in >= 95 %; a fair population, at tolerance 0 (any
    gap the interval shows counts), in at most 5 % + 2 binomial standard errors."""
    windows = 50
    planted = sum(
        fairness(*_population(2000, {"a": 0.55, "b": 0.40}, seed=s), resamples=1000, seed=s).flagged
        for s in range(windows)
    )
    fair = sum(
        fairness(
            *_population(2000, {"a": 0.5, "b": 0.5}, seed=1000 + s), tolerance=0.0, resamples=1000, seed=s
        ).flagged
        for s in range(windows)
    )
    assert planted / windows >= 0.95, planted
    assert fair / windows <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / windows), fair


def test_the_intervals_are_calibrated_with_four_unequal_groups() -> None:
    """Coverage of the simultaneous intervals where the max-type correction matters: four groups of unequal
    size (880, 400, 192, 128 rows), equal selection rates of 0.1; the gap's interval at 97.5 % excludes 0 in
    at most 2.5 % + 2 SE of 2,000 windows. The counts are drawn directly (what resampling rows within a
    group gives), so the interval itself is checked, 2,000 times, in a second."""
    sizes = {"a": 880, "b": 400, "c": 192, "d": 128}
    rng = np.random.default_rng(7)
    flagged = 0
    for _ in range(2000):
        rates = {}
        for g, n in sizes.items():
            k = int(rng.binomial(n, 0.1))
            rates[g] = {"rows": n, "selected": k, "selection_rate": k / n}
        gap = _gap("dp", rates, ("selection_rate",), 0.975, 0.0, 300, rng)
        flagged += gap.flagged
    assert flagged / 2000 <= 0.025 + 2 * math.sqrt(0.025 * 0.975 / 2000), flagged


def test_small_groups_are_reported_not_failed() -> None:
    y_true, y_pred, group = _population(1000, {"a": 0.5, "b": 0.5}, seed=2)
    group[:20] = "tiny"  # 20 rows, and all of them selected
    y_pred[:20] = 1
    result = fairness(y_true, y_pred, group)
    tiny = next(g for g in result.groups if g.group == "tiny")
    assert tiny.too_small and tiny.selection_rate is None and result.too_small == ["tiny"]
    assert "tiny" not in (result.demographic_parity.between or ())
    alone = fairness(y_true[:40], y_pred[:40], group[:40])  # 20 tiny + 20 others: nothing to compare
    assert alone.demographic_parity.value is None and not alone.flagged
    assert "fewer than two groups" in alone.demographic_parity.reason


def test_missing_group_values_are_a_group_and_labels_may_be_strings() -> None:
    y_true = np.array(["yes", "no"] * 100, dtype=object)
    y_pred = np.array(["yes"] * 120 + ["no"] * 80, dtype=object)
    group = np.array([None, "x"] * 100, dtype=object)
    result = fairness(y_true, y_pred, group, positive_label="yes")
    assert {g.group for g in result.groups} == {"<missing>", "x"} and result.positive_label == "yes"


def test_bad_input_says_what_to_fix() -> None:
    with pytest.raises(DataError, match="one value per row"):
        fairness([1, 0], [1, 0, 1], ["a", "b"])
    with pytest.raises(DataError, match="binary classifier"):
        fairness([0, 1, 2], [0, 1, 2], ["a", "b", "c"])
    for bad in ({"alpha": 1.5}, {"tolerance": float("nan")}, {"resamples": 10}, {"min_group_rows": 1}):
        with pytest.raises(ConfigError):
            fairness([1, 0], [1, 0], ["a", "b"], **bad)
