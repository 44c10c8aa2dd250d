"""Every monitor setting is documented."""

from __future__ import annotations

from pathlib import Path

from modelward.config import MonitorSettings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_monitor_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [name for name in MonitorSettings.model_fields if f"`monitor.{name}`" not in text]
    assert not missing, f"monitor settings missing from docs/configuration.md: {missing}"
    assert "`monitor`" in text
