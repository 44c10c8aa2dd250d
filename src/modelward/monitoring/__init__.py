"""Monitoring analysis: drift tests, data-quality checks and reports — pure functions over frames.

Fit a reference profile once, then compare every window with it:

>>> import numpy as np, pandas as pd
>>> from modelward.monitoring import Profile
>>> rng = np.random.default_rng(0)
>>> reference = pd.DataFrame({"age": rng.normal(40, 10, 5000), "plan": rng.choice(["a", "b"], 5000)})
>>> current = pd.DataFrame({"age": rng.normal(45, 10, 5000), "plan": rng.choice(["a", "b"], 5000)})
>>> report = Profile.fit(reference).compare(current)
>>> report.drifted_features
['age']
>>> report["age"].method, report["plan"].method
('ks', 'chi2')

A whole window — features, the model's outputs and labels, performance — is checked in one call,
:func:`analyse`, against a :class:`Reference` fitted once; it returns a :class:`WindowReport`.

Nothing here reads files, touches a database or prints; results are plain objects with ``to_dict()``.
"""

from __future__ import annotations

from modelward.monitoring._columns import dtype_family
from modelward.monitoring._decision import adjust_p_values
from modelward.monitoring.analysis import AnalysisSettings, Current, LoggedOutputs, Progress, analyse, relabel
from modelward.monitoring.attribution_drift import AttributionDrift, AttributionShift, attribution_drift
from modelward.monitoring.drift import (
    PSI,
    REGISTRY,
    AndersonDarling,
    ChiSquare,
    CramerVonMises,
    DriftTest,
    JensenShannon,
    KolmogorovSmirnov,
    NewCategory,
    TestOutcome,
    Wasserstein,
    ZTest,
    available_tests,
    get_test,
)
from modelward.monitoring.drift_report import DriftReport, FeatureResult
from modelward.monitoring.html import render_html
from modelward.monitoring.importance_drift import RankedDrift, rank_by_importance
from modelward.monitoring.multivariate import FeatureAttribution, MultivariateResult, multivariate_drift
from modelward.monitoring.outputs import OutputDriftResult, OutputReference, label_drift, prediction_drift
from modelward.monitoring.performance import (
    CBPE,
    DLE,
    ConceptDriftResult,
    MetricEstimate,
    compare_estimates,
    detect_concept_drift,
    realized_metrics,
)
from modelward.monitoring.profile import AUTO_METHODS, DEFAULT_MIN_EFFECT, Profile
from modelward.monitoring.quality import Finding, check_quality
from modelward.monitoring.reference import Holdout, Reference
from modelward.monitoring.window_report import MonitoringReport, WindowReport

__all__ = [
    "AUTO_METHODS",
    "CBPE",
    "DEFAULT_MIN_EFFECT",
    "DLE",
    "PSI",
    "REGISTRY",
    "AnalysisSettings",
    "AndersonDarling",
    "AttributionDrift",
    "AttributionShift",
    "ChiSquare",
    "ConceptDriftResult",
    "CramerVonMises",
    "Current",
    "DriftReport",
    "DriftTest",
    "FeatureAttribution",
    "FeatureResult",
    "Finding",
    "Holdout",
    "JensenShannon",
    "KolmogorovSmirnov",
    "LoggedOutputs",
    "MetricEstimate",
    "MonitoringReport",
    "MultivariateResult",
    "NewCategory",
    "OutputDriftResult",
    "OutputReference",
    "Profile",
    "Progress",
    "RankedDrift",
    "Reference",
    "TestOutcome",
    "Wasserstein",
    "WindowReport",
    "ZTest",
    "adjust_p_values",
    "analyse",
    "attribution_drift",
    "available_tests",
    "check_quality",
    "compare_estimates",
    "detect_concept_drift",
    "dtype_family",
    "get_test",
    "label_drift",
    "multivariate_drift",
    "prediction_drift",
    "rank_by_importance",
    "realized_metrics",
    "relabel",
    "render_html",
]
