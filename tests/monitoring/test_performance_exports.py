"""The performance API is exported from ``modelward.monitoring``."""

from __future__ import annotations


def test_the_performance_api_is_exported_from_modelward_monitoring() -> None:
    import modelward.monitoring as monitoring
    from modelward.monitoring import performance

    names = [
        "MetricEstimate",
        "realized_metrics",
        "CBPE",
        "DLE",
        "ConceptDriftResult",
        "detect_concept_drift",
        "compare_estimates",
    ]
    for name in names:
        assert name in monitoring.__all__ and getattr(monitoring, name) is getattr(performance, name)
    for name in performance.__all__:
        assert hasattr(performance, name)
