"""Drift ranked by the model's importance (issue 13, acceptance 2): on the planted data, a drifted column
the model does not use is reported and not alarmed on, and drift in x1 is ranked first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from modelward.explain import global_importance
from modelward.monitoring import AnalysisSettings, Current, Profile, Reference, WindowReport, analyse

from .test_importance import planted


@pytest.fixture(scope="module")
def shares() -> dict[str, float]:
    x, y = planted(5000)
    rf = RandomForestClassifier(n_estimators=30, max_depth=8, random_state=0).fit(x[:4000], y[:4000])
    return global_importance(rf, list(x.columns), x[4000:], y[4000:], task="classification").shap_shares()


def window(seed: int, shift: dict[str, float]) -> pd.DataFrame:
    x, _ = planted(2000, seed=seed)
    return x.assign(**{c: x[c] + d for c, d in shift.items()})


def check(shares: dict[str, float], current: pd.DataFrame) -> WindowReport:
    reference = Reference(Profile.fit(planted(5000)[0]))
    settings = AnalysisSettings(drift_share=0.1)  # one drifted column of ten is an alarm, without importance
    plain = analyse(reference, Current(current), settings)
    ranked = analyse(
        reference, Current(current), AnalysisSettings(drift_share=0.1, feature_importance=shares)
    )
    assert plain.drift is not None and ranked.drift is not None
    assert plain.drift.drifted_features == ranked.drift.drifted_features  # the same columns reported
    assert WindowReport.from_dict(ranked.to_dict()).drift_by_importance == ranked.drift_by_importance
    return ranked


def test_unused_column_drift_is_reported_not_alarmed(shares: dict[str, float]) -> None:
    assert shares["x10"] < 0.02 and shares["x1"] + shares["x2"] > 0.9
    report = check(shares, window(1, {"x10": 1.0}))
    assert report.drift is not None
    assert report.drift.drifted_features == ["x10"]
    assert not report.dataset_drift  # plain analysis alarms (drift_share 0.1); the model ignores x10
    assert "ignored by the model" in report.drift.dataset_reason and "x10" in report.drift.dataset_reason
    first = report.drift_by_importance[0]
    assert (first.column, first.drifted, first.ignored) == ("x10", True, True)


def test_drift_in_x1_is_ranked_first_and_alarms(shares: dict[str, float]) -> None:
    report = check(shares, window(2, {"x1": 0.5, "x10": 1.0, "x7": 0.6}))
    ranking = report.drift_by_importance
    drifted = sorted(["x1", "x7", "x10"], key=lambda c: -shares[c])
    assert [r.column for r in ranking[:3]] == drifted and drifted[0] == "x1"  # drifted first, by importance
    assert all(not r.drifted for r in ranking[3:])
    assert (
        ranking[0].drifted
        and not ranking[0].ignored
        and ranking[0].importance == pytest.approx(shares["x1"] / sum(shares.values()))
    )
    assert report.dataset_drift
    assert np.isclose(sum(r.importance or 0 for r in ranking), 1.0)
