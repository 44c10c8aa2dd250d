"""The examples in the performance docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "modelward.monitoring.performance",
    "modelward.monitoring.performance.cbpe",
    "modelward.monitoring.performance.concept",
    "modelward.monitoring.performance.dle",
    "modelward.monitoring.performance.realized",
    "modelward.monitoring.performance.result",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_the_performance_api_is_exported_from_modelward_monitoring() -> None:
    import modelward.monitoring as monitoring
    from modelward.monitoring import performance

    names = ["MetricEstimate", "realized_metrics", "CBPE", "DLE", "ConceptDriftResult", "detect_concept_drift",
             "compare_estimates"]
    for name in names:
        assert name in monitoring.__all__ and getattr(monitoring, name) is getattr(performance, name)
    for name in performance.__all__:
        assert hasattr(performance, name)
