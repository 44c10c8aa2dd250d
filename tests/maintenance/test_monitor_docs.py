"""Doctests of the maintenance package, and every monitor setting documented."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

from modelward.config import MonitorSettings

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize(
    "module",
    ["modelward.maintenance", "modelward.maintenance._windows", "modelward.maintenance._performance"],
)
def test_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def test_every_monitor_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [name for name in MonitorSettings.model_fields if f"`monitor.{name}`" not in text]
    assert not missing, f"monitor settings missing from docs/configuration.md: {missing}"
    assert "`monitor`" in text
