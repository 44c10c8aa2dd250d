"""Fixtures for the prediction log: real databases, and a PostgreSQL we can take away."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelward.store import Store


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store.open(database_url)
    yield s
    s.close()


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"
