"""The examples in the monitoring docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "modelward.monitoring",
    "modelward.monitoring._decision",
    "modelward.monitoring.drift",
    "modelward.monitoring.drift.base",
    "modelward.monitoring.profile",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
