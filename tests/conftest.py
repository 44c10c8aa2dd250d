"""Shared fixtures. Store-touching tests run on both SQLite and a real PostgreSQL.

PostgreSQL comes from MW_TEST_PG_URL (default: the local server at 127.0.0.1:5432,
database ``test``). Each test gets a schema of its own, dropped afterwards, so runs never
collide. When the server is unreachable the tests fail: CI must start it (see .ci/run).
"""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from support.pg import BreakablePostgres, breakable_postgres

PG_BASE = os.environ.get("MW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is required for the store tests and is not reachable at {PG_BASE}: {exc.orig}. "
            "Start it (see .ci/run) or set MW_TEST_PG_URL."
        )
    yield engine
    engine.dispose()


def _pg_url(schema: str) -> str:
    return f"{PG_BASE}?options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_url(pg_engine: sa.Engine) -> Iterator[str]:
    """A URL whose connections live in a fresh schema of their own."""
    schema = f"mw_test_{uuid.uuid4().hex[:12]}"
    with pg_engine.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_url(schema)
    finally:
        with pg_engine.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def breakable_pg(pg_engine: sa.Engine, pg_url: str) -> Iterator[BreakablePostgres]:
    """PostgreSQL in a schema owned by a role of its own, which the test can lock out and let back."""
    with breakable_postgres(pg_engine, pg_url) as pg:
        yield pg


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs twice: on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'modelward.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(autouse=True)
def _clean_modelward_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests control MODELWARD_* themselves; the developer's shell must not leak in."""
    for key in list(os.environ):
        if key.startswith("MODELWARD_"):
            monkeypatch.delenv(key)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many tests ran against PostgreSQL, so a log shows they were not skipped."""
    stats = terminalreporter.stats
    counts = {
        outcome: sum(1 for rep in stats.get(outcome, []) if "[postgresql" in getattr(rep, "nodeid", ""))
        for outcome in ("passed", "failed", "error", "skipped")
    }
    terminalreporter.write_line(
        "PostgreSQL-backed tests: "
        + ", ".join(f"{n} {outcome}" for outcome, n in counts.items())
        + f" (server: {PG_BASE})"
    )


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """After a PostgreSQL test, collect garbage: a connection left open (an engine never disposed) warns
    in the test that leaked it, not in whatever test the collector happens to run in later."""
    if "[postgresql" in item.nodeid or "pg_url" in getattr(item, "fixturenames", ()):
        gc.collect()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with tests marked ``slow`` first, in their order, then the rest: a worker that draws the
    README tour or an end-to-end loop test last keeps the others waiting at the end of the run. A module's
    tests stay together (its module-scoped fixtures are set up once per worker)."""
    slow_modules = {_module(item) for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: _module(item) not in slow_modules)


def _module(item: pytest.Item) -> str:
    module = getattr(item, "module", None)
    return module.__name__ if module is not None else ""
