"""A PostgreSQL that a test can take away and give back (for outage tests)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa

from modelward.store import Store


@dataclass
class BreakablePostgres:
    """A PostgreSQL login role of our own: ``down()`` forbids it and cuts its connections."""

    url: str
    role: str
    admin: sa.Engine

    def down(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'ALTER ROLE "{self.role}" NOLOGIN'))
            conn.execute(
                sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"),
                {"r": self.role},
            )

    def up(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'ALTER ROLE "{self.role}" LOGIN'))


@contextmanager
def breakable_postgres(pg_engine: sa.Engine, pg_url: str) -> Iterator[BreakablePostgres]:
    """The test schema, migrated and owned by a fresh role that the test can lock out."""
    role = f"mw_outage_{uuid.uuid4().hex[:10]}"
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
