"""Fixtures for the prediction log: real databases, and a PostgreSQL we can take away."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from predlog_helpers import BreakablePostgres

from modelward.store import Store


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store.open(database_url)
    yield s
    s.close()


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def breakable_pg(pg_engine: sa.Engine, pg_url: str) -> Iterator[BreakablePostgres]:
    """The test schema, migrated and owned by a fresh role that the test can lock out."""
    role = f"mw_predlog_{uuid.uuid4().hex[:10]}"
    schema = sa.engine.make_url(pg_url).query["options"].split("=", 1)[1]
    with pg_engine.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(sa.text(f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO "{role}"'))
    url = sa.engine.make_url(pg_url).set(username=role).render_as_string(hide_password=False)
    Store.open(url).close()  # the role owns the tables it creates
    pg = BreakablePostgres(url, role, pg_engine)
    try:
        yield pg
    finally:
        pg.down()
        with pg_engine.connect() as conn:
            conn.execute(sa.text(f'DROP OWNED BY "{role}"'))
            conn.execute(sa.text(f'DROP ROLE "{role}"'))
