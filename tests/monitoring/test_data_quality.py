"""Data-quality and upstream-change checks (acceptance 4): each finding names the column and the change."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelward.monitoring import Finding, Profile, check_quality


@pytest.fixture
def reference() -> pd.DataFrame:
    rng = np.random.default_rng(8)
    n = 5000
    return pd.DataFrame(
        {
            "income": rng.lognormal(10.5, 0.4, n),  # euros
            "weight_kg": rng.normal(75, 12, n),
            "duration_min": rng.gamma(4.0, 10.0, n),
            "temperature": rng.normal(0, 5, n),  # centred on zero: median unusable for ratios
            "city": rng.choice(np.array(["berlin", "paris", "rome"], dtype=object), n),
            "active": rng.random(n) < 0.4,
        }
    )


def _current(reference: pd.DataFrame, seed: int = 9) -> pd.DataFrame:
    """A fresh sample from the same distribution as the reference fixture."""
    rng = np.random.default_rng(seed)
    n = 4000
    return pd.DataFrame(
        {
            "income": rng.lognormal(10.5, 0.4, n),
            "weight_kg": rng.normal(75, 12, n),
            "duration_min": rng.gamma(4.0, 10.0, n),
            "temperature": rng.normal(0, 5, n),
            "city": rng.choice(np.array(["berlin", "paris", "rome"], dtype=object), n),
            "active": rng.random(n) < 0.4,
        }
    )


def _by(findings: list[Finding], check: str) -> dict[str | None, Finding]:
    return {f.column: f for f in findings if f.check == check}


def test_clean_data_has_no_findings(reference: pd.DataFrame) -> None:
    assert check_quality(Profile.fit(reference), _current(reference)) == []


@pytest.mark.parametrize(("factor", "shown"), [(1000.0, "x1000"), (0.01, "/100"), (10.0, "x10")])
@pytest.mark.parametrize("column", ["income", "weight_kg", "temperature"])
def test_unit_change_by_a_power_of_ten_is_named_with_its_factor(
    reference: pd.DataFrame, column: str, factor: float, shown: str
) -> None:
    current = _current(reference)
    current[column] = current[column] * factor
    found = _by(check_quality(Profile.fit(reference), current), "unit_change")
    assert set(found) == {column}
    assert found[column].details["factor"] == pytest.approx(factor)
    assert f"Column {column!r} looks rescaled by {shown}" in found[column].message
    assert "unit change" in found[column].message


def test_common_unit_factors_are_recognised(reference: pd.DataFrame) -> None:
    current = _current(reference)
    current["weight_kg"] = current["weight_kg"] * 2.20462  # pounds now
    current["duration_min"] = current["duration_min"] * 60  # seconds now
    found = _by(check_quality(Profile.fit(reference), current), "unit_change")
    assert found["weight_kg"].details["factor"] == pytest.approx(2.20462)
    assert "kilograms -> pounds" in found["weight_kg"].message
    assert found["duration_min"].details["factor"] == pytest.approx(60.0)
    assert "minutes -> seconds" in found["duration_min"].message
    current["weight_kg"] = current["weight_kg"] / 2.20462**2  # back to kg, then pounds -> kg again
    found = _by(check_quality(Profile.fit(reference), current), "unit_change")
    assert "pounds -> kilograms" in found["weight_kg"].message


def test_an_ordinary_shift_is_not_called_a_unit_change(reference: pd.DataFrame) -> None:
    current = _current(reference)
    current["weight_kg"] = current["weight_kg"] + 6  # drift, not units
    current["income"] = current["income"] * 1.3
    assert _by(check_quality(Profile.fit(reference), current), "unit_change") == {}


@pytest.mark.parametrize("factor", [1 / 1.609344, 1 / 2.20462, 60.0, 1000.0])
def test_a_constant_window_is_never_called_a_unit_change(reference: pd.DataFrame, factor: float) -> None:
    """A window in which a column holds one value (the same request sent again and again) has no
    spread to compare: its median alone, at a unit factor from the reference's, is no evidence."""
    current = _current(reference)
    for column in ("income", "weight_kg", "duration_min"):
        current[column] = float(reference[column].median()) * factor
    findings = check_quality(Profile.fit(reference), current)
    assert _by(findings, "unit_change") == {}
    assert set(_by(findings, "constant_column")) == {"income", "weight_kg", "duration_min"}


@pytest.mark.parametrize("factor", [1.609344, 1000.0])
def test_a_constant_reference_is_never_called_a_unit_change(reference: pd.DataFrame, factor: float) -> None:
    constant = reference.assign(weight_kg=75.0)
    current = _current(reference)
    current["weight_kg"] = 75.0 * factor + np.random.default_rng(1).normal(0, 1e-3, len(current))
    assert _by(check_quality(Profile.fit(constant), current), "unit_change") == {}


def test_a_near_constant_window_is_never_called_a_unit_change(reference: pd.DataFrame) -> None:
    """Spread that is rounding noise (relative 1e-12) is no spread."""
    current = _current(reference)
    median = float(reference["weight_kg"].median())
    current["weight_kg"] = (
        median / 2.20462 * (1 + 1e-12 * np.random.default_rng(2).standard_normal(len(current)))
    )
    assert _by(check_quality(Profile.fit(reference), current), "unit_change") == {}


def test_schema_changes_are_named(reference: pd.DataFrame) -> None:
    current = (
        _current(reference)
        .drop(columns=["city"])
        .assign(loyalty_tier=1, weight_kg=lambda d: d["weight_kg"].round(1).astype(str))
    )
    findings = check_quality(Profile.fit(reference), current)
    assert _by(findings, "missing_column")["city"].message == (
        "Column 'city' is in the reference but missing from the current data."
    )
    assert (
        _by(findings, "extra_column")["loyalty_tier"].message
    ) == "Column 'loyalty_tier' is in the current data but not in the reference."
    changed = _by(findings, "type_changed")["weight_kg"]
    assert changed.message.startswith("Column 'weight_kg' changed type: reference float64 (numeric), current")
    assert changed.message.endswith("drift cannot be tested.") and changed.severity == "error"
    assert [f.severity for f in findings][:2] == ["error", "error"]  # errors come first


def test_a_boolean_arriving_as_integers_is_a_comparable_type_change(reference: pd.DataFrame) -> None:
    current = _current(reference).assign(active=lambda d: d["active"].astype(int))
    profile = Profile.fit(reference)
    changed = _by(check_quality(profile, current), "type_changed")["active"]
    assert changed.severity == "warning" and changed.message.endswith("values are still compared.")
    result = profile.compare(current)["active"]
    assert result.status == "ok" and result.method == "ztest" and not result.drifted


def test_new_categories_are_listed_with_their_share(reference: pd.DataFrame) -> None:
    current = _current(reference)
    current.loc[current.index[:120], "city"] = "madrid"
    current.loc[current.index[120:130], "city"] = "lisbon"
    found = _by(check_quality(Profile.fit(reference), current), "new_categories")["city"]
    assert found.details["new_categories"] == ["madrid", "lisbon"]
    assert found.details["counts"] == [120, 10]
    assert found.message == (
        "Column 'city' has 2 categories the reference never saw: 'madrid', 'lisbon' (3.2% of current values)."
    )


def test_missing_rate_jump_out_of_range_constant_and_all_missing(reference: pd.DataFrame) -> None:
    current = _current(reference)
    current.loc[current.index[:800], "income"] = np.nan  # 20% missing, reference 0%
    current.loc[current.index[:200], "weight_kg"] = 500.0  # 5% far outside the reference range
    current["duration_min"] = 30.0
    current["city"] = "rome"
    current["temperature"] = np.nan
    findings = check_quality(Profile.fit(reference), current)
    jump = _by(findings, "missing_rate_jump")["income"]
    assert jump.message == "Column 'income': missing rate rose from 0.0% to 20.0%."
    rng = _by(findings, "out_of_range")["weight_kg"]
    assert 200 <= rng.details["above"] <= 202 and rng.details["share"] == pytest.approx(0.05, abs=0.001)
    constant = _by(findings, "constant_column")
    assert set(constant) == {"duration_min", "city"}
    assert "holds only 'rome'" in constant["city"].message
    assert _by(findings, "all_missing")["temperature"].severity == "error"


def test_quality_findings_are_part_of_the_drift_report(reference: pd.DataFrame) -> None:
    current = _current(reference)
    current["income"] = current["income"] * 1000
    report = Profile.fit(reference).compare(current)
    assert [(f.check, f.column) for f in report.quality][:2] == [
        ("out_of_range", "income"),
        ("unit_change", "income"),
    ]
    assert report.drifted_features == ["income"]
    assert report.to_dict()["quality"][1]["details"]["factor"] == 1000.0
    assert Profile.fit(reference).compare(current, quality=False).quality == ()
