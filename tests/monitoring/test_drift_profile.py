"""Profile fitting, saving and comparing; the report and its decisions."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from modelward.errors import ConfigError, DataError, NotFoundError
from modelward.monitoring import PSI, DriftReport, Profile, adjust_p_values


@pytest.fixture
def pair(frame) -> tuple[pd.DataFrame, pd.DataFrame]:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(42)
    return frame(rng, 3000), frame(rng, 2000, shift_col="x0", shift_sd=0.5)


def test_fit_infers_kinds_and_keeps_sorted_values(pair) -> None:  # type: ignore[no-untyped-def]
    reference, _ = pair
    profile = Profile.fit(reference)
    assert profile.schema["x0"] == "numeric"
    assert profile.schema["c0"] == "categorical"
    assert profile.schema["b0"] == "boolean"
    values = profile.columns["x0"].values  # type: ignore[union-attr]
    assert np.array_equal(values, np.sort(reference["x0"].to_numpy()))
    assert profile.n_rows == 3000


def test_schema_overrides_inference_and_can_ignore_columns() -> None:
    ref = pd.DataFrame({"zip": [10115, 10117, 10115, 20095], "flag": [0, 1, 1, 0], "id": [1, 2, 3, 4]})
    profile = Profile.fit(ref, schema={"zip": "categorical", "flag": "boolean", "id": "ignore"})
    assert profile.schema == {"zip": "categorical", "flag": "boolean"}
    report = profile.compare(pd.DataFrame({"zip": [10115, 99999], "flag": [1, 1], "id": [5, 6]}))
    assert report["zip"].method == "chi2"
    assert report["zip"].details["new_categories"] == [99999]
    assert report["flag"].method == "ztest"
    assert not any(f.check == "extra_column" for f in report.quality)  # ignored, not extra


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"nope": "numeric"}, "schema names column\\(s\\) the reference does not have: nope"),
        ({"a": "float"}, "schema gives column 'a' the kind 'float'; expected one of numeric, categorical"),
        ({"b": "numeric"}, "Column 'b' is declared numeric but has dtype"),
        ({"b": "boolean"}, "Column 'b' is declared boolean but holds"),
    ],
)
def test_bad_schema_is_refused_with_a_message_naming_the_column(schema: dict[str, str], message: str) -> None:
    ref = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    with pytest.raises((ConfigError, DataError), match=message):
        Profile.fit(ref, schema=schema)


def test_unprofilable_dtype_says_how_to_fix_it() -> None:
    ref = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=3)})
    with pytest.raises(DataError, match="Column 'ts' has dtype datetime64.*declare it 'ignore'"):
        Profile.fit(ref)
    assert Profile.fit(ref, schema={"ts": "ignore"}).schema == {}


def test_saved_profile_gives_the_same_report_without_the_reference(pair) -> None:  # type: ignore[no-untyped-def]
    reference, current = pair
    profile = Profile.fit(reference)
    blob = profile.to_bytes()
    del reference
    loaded = Profile.from_bytes(blob)
    assert loaded.schema == profile.schema
    assert loaded.compare(current).to_dict() == profile.compare(current).to_dict()


def test_saved_profile_is_npz_and_json_not_pickle(pair) -> None:  # type: ignore[no-untyped-def]
    blob = Profile.fit(pair[0]).to_bytes()
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        names = archive.namelist()
        meta = json.loads(np.load(io.BytesIO(archive.read("meta.npy")), allow_pickle=False).tobytes())
    assert "meta.npy" in names and all(n.endswith(".npy") for n in names)
    assert meta["format"] == "modelward.profile/1"
    assert [c["name"] for c in meta["columns"]][:2] == ["x0", "x1"]
    assert b"pickle" not in blob


def test_garbage_bytes_are_refused_clearly() -> None:
    with pytest.raises(DataError, match="Cannot read the profile"):
        Profile.from_bytes(b"not a profile")


def test_report_records_method_reason_statistic_p_value_and_effect(pair) -> None:  # type: ignore[no-untyped-def]
    reference, current = pair
    report = Profile.fit(reference).compare(current)
    x0 = report["x0"]
    assert x0.drifted and x0.method == "ks" and x0.auto
    assert "Kolmogorov-Smirnov" in x0.reason
    assert x0.p_value is not None and x0.p_value_adjusted is not None and x0.p_value_adjusted >= x0.p_value
    assert x0.effect_measure == "wasserstein_normalised" and x0.effect_size == pytest.approx(0.5, abs=0.06)
    assert report["c0"].method == "chi2" and report["b0"].method == "ztest"
    assert report.drifted_features == ["x0"]
    assert not report.dataset_drift
    assert "1 of 20 features drifted" in report.dataset_reason
    with pytest.raises(NotFoundError, match="No drift result for column 'nope'"):
        report["nope"]


def test_report_serialises_to_json_without_nan(pair) -> None:  # type: ignore[no-untyped-def]
    reference, current = pair
    current = current.copy()
    current["x3"] = np.nan  # all missing -> skipped, statistics None
    report = Profile.fit(reference).compare(current)
    doc = json.loads(report.to_json())
    assert doc["drifted_features"] == ["x0"]
    x3 = next(f for f in doc["features"] if f["column"] == "x3")
    assert x3["status"] == "skipped" and x3["statistic"] is None
    assert "no non-missing values in the current window" in x3["reason"]
    assert isinstance(report, DriftReport)


def test_explicit_methods_per_column_and_fallback_to_auto(pair) -> None:  # type: ignore[no-untyped-def]
    reference, current = pair
    profile = Profile.fit(reference)
    report = profile.compare(
        current, method={"x0": "psi", "x1": PSI(bins=5, threshold=0.5), "c0": "jensenshannon"}
    )
    assert report["x0"].method == "psi" and not report["x0"].auto
    assert report["x0"].p_value is None and report["x0"].threshold == 0.2
    assert len(report["x1"].details["bin_edges"]) == 4
    assert report["c0"].method == "jensenshannon"
    assert report["x2"].method == "ks" and report["x2"].auto
    everywhere = profile.compare(current, method="wasserstein")
    assert everywhere["x0"].method == "wasserstein"
    assert everywhere["c0"].method == "chi2"
    assert (
        "'wasserstein' does not accept categorical columns, so auto chose 'chi2'" in everywhere["c0"].reason
    )


def test_explicit_method_that_cannot_handle_the_column_is_an_error(pair) -> None:  # type: ignore[no-untyped-def]
    reference, current = pair
    with pytest.raises(ConfigError, match="Method 'ks' does not accept categorical column 'c0'.*chi2"):
        Profile.fit(reference).compare(current, method={"c0": "ks"})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 0}, "alpha must be between 0 and 1"),
        ({"correction": "holm"}, "Unknown correction 'holm'"),
        ({"drift_share": 0}, "drift_share must be in \\(0, 1\\]"),
        ({"important_features": ["nope"]}, "important_features names column\\(s\\) not in the profile: nope"),
        ({"min_effect": {"text": 0.1}}, "min_effect has unknown kind 'text'"),
        ({"min_effect": -1}, "min_effect for numeric must be a number >= 0"),
        ({"method": "kolmogorov"}, "Unknown drift method 'kolmogorov'"),
    ],
)
def test_bad_compare_settings_are_refused(pair, kwargs: dict[str, object], message: str) -> None:  # type: ignore[no-untyped-def]
    reference, current = pair
    with pytest.raises(ConfigError, match=message):
        Profile.fit(reference).compare(current, **kwargs)  # type: ignore[arg-type]


def test_minimum_effect_stops_negligible_shifts_from_alarming_at_large_n() -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 400_000)})
    current = pd.DataFrame({"x": rng.normal(0.02, 1, 400_000)})  # 0.02 sd: significant, negligible
    profile = Profile.fit(reference)
    default = profile.compare(current)
    assert default["x"].p_value_adjusted is not None and default["x"].p_value_adjusted < 1e-6
    assert default["x"].effect_size is not None and default["x"].effect_size < 0.05
    assert not default["x"].drifted
    assert default["x"].min_effect == 0.05
    assert profile.compare(current, min_effect=0)["x"].drifted
    assert profile.compare(current, min_effect={"numeric": 0.01})["x"].drifted


def test_corrections_change_the_adjusted_p_values() -> None:
    assert adjust_p_values([0.01, 0.02, 0.03], "bh") == pytest.approx([0.03, 0.03, 0.03])
    assert adjust_p_values([0.01, 0.02, 0.03], "bonferroni") == pytest.approx([0.03, 0.06, 0.09])
    assert adjust_p_values([0.01, 0.02, 0.03], "none") == [0.01, 0.02, 0.03]
    assert adjust_p_values([], "bh") == []


def test_bonferroni_is_stricter_than_bh_in_a_compare() -> None:
    rng = np.random.default_rng(11)
    n = 600
    ref = pd.DataFrame({f"x{i}": rng.normal(0, 1, n) for i in range(6)})
    cur = pd.DataFrame({f"x{i}": rng.normal(0.2 if i < 3 else 0, 1, n) for i in range(6)})
    profile = Profile.fit(ref)
    bh = profile.compare(cur, correction="bh", min_effect=0)
    bonf = profile.compare(cur, correction="bonferroni", min_effect=0)
    for col in ref.columns:
        assert bonf[col].p_value_adjusted >= bh[col].p_value_adjusted  # type: ignore[operator]
    assert set(bonf.drifted_features) <= set(bh.drifted_features)
    assert bh.settings["correction"] == "bh" and bonf.settings["correction"] == "bonferroni"


def test_dataset_rule_share_or_important_feature(pair) -> None:  # type: ignore[no-untyped-def]
    reference, current = pair
    profile = Profile.fit(reference)
    assert not profile.compare(current).dataset_drift  # 1 of 20 < 50%
    assert profile.compare(current, drift_share=0.05).dataset_drift  # 1 of 20 >= 5%
    important = profile.compare(current, important_features=["x0"])
    assert important.dataset_drift and "important feature(s) drifted: x0" in important.dataset_reason
    calm = profile.compare(current, important_features=["x1"])
    assert not calm.dataset_drift and "no important feature drifted" in calm.dataset_reason


def test_missing_and_retyped_columns_are_skipped_not_crashed(pair) -> None:  # type: ignore[no-untyped-def]
    reference, current = pair
    current = current.drop(columns=["x1"]).assign(x2=lambda d: d["x2"].astype(str))
    report = Profile.fit(reference).compare(current)
    assert report["x1"].status == "skipped" and report["x1"].reason == "column missing from the current data"
    assert report["x2"].status == "skipped" and report["x2"].reason.startswith(
        "type changed: reference is numeric"
    )
    checks = {(f.check, f.column) for f in report.quality}
    assert ("missing_column", "x1") in checks and ("type_changed", "x2") in checks
    assert report.drifted_features == ["x0"]


def test_new_categories_are_counted_reported_and_tested(pair) -> None:  # type: ignore[no-untyped-def]
    reference, current = pair
    current = current.copy()
    current.loc[current.index[:300], "c0"] = "brand-new"
    report = Profile.fit(reference).compare(current, method={"c1": "new_category"})
    c0 = report["c0"]
    assert c0.drifted and c0.details["new_categories"] == ["brand-new"]
    assert c0.details["new_category_counts"] == [300]
    assert report["c1"].method == "new_category" and not report["c1"].drifted
    assert any(f.check == "new_categories" and f.column == "c0" for f in report.quality)


def test_pandas_extension_dtypes_and_missing_values_are_handled() -> None:
    ref = pd.DataFrame(
        {
            "i": pd.array([1, 2, None, 4, 5, 6], dtype="Int64"),
            "s": pd.array(["a", "b", None, "a", "b", "a"], dtype="string"),
            "c": pd.Categorical(["u", "v", "u", "u", "v", "u"]),
            "f": [0.1, np.inf, 0.3, np.nan, 0.5, 0.6],
        }
    )
    profile = Profile.fit(ref)
    assert profile.schema == {"i": "numeric", "s": "categorical", "c": "categorical", "f": "numeric"}
    assert profile.columns["i"].n_missing == 1 and profile.columns["f"].n_missing == 2
    report = profile.compare(ref)
    assert report.drifted_features == []
    assert all(f.status == "ok" for f in report.features)
    assert report.quality == ()


def test_large_frames_compare_on_threads_with_identical_results() -> None:
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({f"x{i}": rng.normal(0, 1, 60_000) for i in range(10)})
    cur = pd.DataFrame({f"x{i}": rng.normal(0.1 * (i == 3), 1, 60_000) for i in range(10)})
    profile = Profile.fit(ref)
    threaded = profile.compare(cur)  # 600k values: runs columns on a thread pool
    serial = [profile.compare(cur[[c]]) for c in cur.columns]
    for col, single in zip(cur.columns, serial, strict=True):
        assert threaded[col].statistic == single[col].statistic
        assert threaded[col].p_value == single[col].p_value
    assert threaded.drifted_features == ["x3"]


def test_non_string_column_names_match_and_duplicates_are_refused() -> None:
    rng = np.random.default_rng(2)
    ref = pd.DataFrame(rng.normal(size=(500, 3)))  # integer column labels 0, 1, 2
    profile = Profile.fit(ref)
    assert list(profile.schema) == ["0", "1", "2"]
    report = profile.compare(pd.DataFrame(rng.normal(size=(400, 3))))
    assert all(f.status == "ok" for f in report.features)
    assert report.quality == ()
    dup = pd.DataFrame([[1.0, 2.0]], columns=["a", "a"])
    with pytest.raises(DataError, match=r"compare: the frame has duplicate column names \(a\); rename them"):
        profile.compare(dup)


def test_each_feature_carries_a_small_distribution_summary_for_plots(frame) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(21)
    reference, current = frame(rng, 200_000), frame(rng, 150_000, shift_col="x0", shift_sd=1.0)
    current.loc[current.index[:10], "c0"] = "new"
    report = Profile.fit(reference).compare(current)
    x0 = report["x0"].distribution
    assert len(x0["edges"]) == 31 and len(x0["reference_counts"]) == 30
    assert sum(x0["reference_counts"]) == 200_000 and sum(x0["current_counts"]) == 150_000
    assert x0["current"]["mean"] - x0["reference"]["mean"] == pytest.approx(1.0, abs=0.02)
    assert x0["reference"]["quantiles"]["0.5"] == pytest.approx(0.0, abs=0.02)
    c0 = report["c0"].distribution
    assert "new" in c0["categories"]
    assert sum(c0["current_counts"]) + c0["other_current_count"] == 150_000
    # summaries, not rows: the whole 20-feature report is a few tens of kilobytes
    assert len(report.to_json()) < 60_000
    assert Profile.fit(reference).compare(current, distributions=False)["x0"].distribution == {}
