"""Attribution drift (monitoring.attribution_drift): Welch's test per column as scipy computes it, corrected
across columns as the drift tests are; a fair window is rarely flagged, a planted change always is; a change
too small to matter is reported, not alarmed on; the result survives its JSON form."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from modelward.errors import DataError
from modelward.monitoring import WindowReport, attribution_drift
from modelward.monitoring.attribution_drift import AttributionDrift


def _attributions(rng: np.random.Generator, n: int, scales: list[float]) -> np.ndarray:
    return np.abs(rng.normal(size=(n, len(scales)))) * np.asarray(scales)


def test_p_values_are_welchs_and_adjusted_like_benjamini_hochberg() -> None:
    rng = np.random.default_rng(1)
    ref = _attributions(rng, 300, [1.0, 0.5, 0.2, 0.1])
    cur = _attributions(rng, 250, [1.1, 0.5, 0.3, 0.1])
    result = attribution_drift(ref, cur, ["a", "b", "c", "d"])
    expected = [stats.ttest_ind(cur[:, j], ref[:, j], equal_var=False).pvalue for j in range(4)]
    assert [c.p_value for c in result.columns] == pytest.approx(expected, rel=1e-12, abs=0)
    assert [c.adjusted_p for c in result.columns] == pytest.approx(
        list(stats.false_discovery_control(expected)), rel=1e-12
    )
    total = ref.mean(axis=0).sum()
    for j, c in enumerate(result.columns):
        assert c.change == pytest.approx((cur[:, j].mean() - ref[:, j].mean()) / total, rel=1e-12)
        assert c.reference_share == pytest.approx(ref[:, j].mean() / total, rel=1e-12)
    assert sum(c.current_share for c in result.columns) == pytest.approx(1.0)
    assert (result.reference_rows, result.current_rows) == (300, 250)


def test_a_fair_window_is_flagged_at_most_alpha_and_a_planted_change_always() -> None:
    """Reduced simulation (the long one is not needed: the test is scipy's): 200 windows with no change,
    min_change 0 so only the corrected test decides; any column flagged in at most alpha + 2 SE of them."""
    rng = np.random.default_rng(2)
    windows, alpha = 200, 0.05
    flagged = sum(
        attribution_drift(
            _attributions(rng, 300, [1.0, 0.5, 0.2]),
            _attributions(rng, 300, [1.0, 0.5, 0.2]),
            ["a", "b", "c"],
            min_change=0.0,
        ).drifted
        for _ in range(windows)
    )
    assert flagged / windows <= alpha + 2 * math.sqrt(alpha * (1 - alpha) / windows), flagged
    found = [
        attribution_drift(
            _attributions(rng, 300, [1.0, 0.5, 0.2]),
            _attributions(rng, 300, [1.0, 0.8, 0.2]),  # b's pull grows by 0.3 / 1.7 = 0.18 of the total
            ["a", "b", "c"],
        ).drifted_columns
        for _ in range(50)
    ]
    assert all("b" in columns for columns in found)


def test_a_significant_change_too_small_to_matter_is_reported_not_alarmed_on() -> None:
    rng = np.random.default_rng(3)
    ref = _attributions(rng, 20_000, [1.0, 0.5])
    cur = _attributions(rng, 20_000, [1.0, 0.56])  # significant on 20,000 rows, 0.02 of the total
    result = attribution_drift(ref, cur, ["a", "b"])
    b = result.columns[1]
    assert b.adjusted_p < 0.05 and abs(b.change) < 0.05 and not b.drifted and not result.drifted
    assert attribution_drift(ref, cur, ["a", "b"], min_change=0.01).drifted_columns == ["b"]


def test_a_column_the_model_never_uses_is_never_flagged() -> None:
    rng = np.random.default_rng(4)
    ref = np.c_[_attributions(rng, 300, [1.0]), np.zeros(300)]
    cur = np.c_[_attributions(rng, 300, [1.0]), np.zeros(300)]
    result = attribution_drift(ref, cur, ["used", "ignored"])
    assert result.columns[1].p_value == 1.0 and not result.columns[1].drifted


def test_it_survives_its_json_form_inside_a_window_report() -> None:
    rng = np.random.default_rng(5)
    found = attribution_drift(
        _attributions(rng, 100, [1.0, 0.2]),
        _attributions(rng, 100, [2.0, 0.2]),
        ["a", "b"],
        method="tree_shap",
    )
    assert AttributionDrift.from_dict(found.to_dict()) == found
    report = WindowReport(n_rows=100, n_labeled=0, attribution_drift=found)
    assert WindowReport.from_dict(report.to_dict()).attribution_drift == found
    assert "attribution_drift" not in WindowReport(n_rows=1, n_labeled=0).to_dict()


@pytest.mark.parametrize(
    ("ref", "cur", "words"),
    [
        (np.ones((30, 3)), np.ones((30, 2)), "rows x 2 columns"),
        (np.ones((30, 2)), np.full((30, 2), np.nan), "NaN or infinite"),
        (np.ones((5, 2)), np.ones((30, 2)), "at least 20 rows"),
    ],
)
def test_bad_input_says_what_was_wrong(ref: np.ndarray, cur: np.ndarray, words: str) -> None:
    with pytest.raises(DataError, match=words):
        attribution_drift(ref, cur, ["a", "b"])
