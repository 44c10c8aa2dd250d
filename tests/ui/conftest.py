"""One console workspace for the session (built like the demo's: ~10 s), shared by the console's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .console_support import build_console_workspace


@pytest.fixture(scope="session")
def console_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_console_workspace(tmp_path_factory.mktemp("console") / "ws")
