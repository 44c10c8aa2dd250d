"""The metadata database: one engine, migrations on open, short read and write transactions.

SQLite (the embedded default) runs in WAL mode so that readers never block the writer,
with a busy timeout, and write transactions start with ``BEGIN IMMEDIATE`` so two
processes never deadlock upgrading a read lock. PostgreSQL is selected by a
``postgresql+psycopg://`` URL. Both run the same schema and the same tests.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from modelward.config import mask_url
from modelward.errors import DatabaseUnavailableError, StoreError
from modelward.store import schema
from modelward.store._errors import (
    FILE_CHECK,
    is_unavailable,
    is_unique_violation,
    retry_allocation,
    unavailable_error,
)

if TYPE_CHECKING:  # Alembic is imported only to migrate: opening an up-to-date database needs none of it
    from alembic.config import Config

__all__ = ["Fence", "Store", "is_unavailable", "is_unique_violation", "retry_allocation", "schema"]

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"
_NUMBERED = re.compile(r"^(\d{4})_\w+\.py$")
Fence = Callable[[Connection], None]
# The fence of the running context (thread): (store, check). See Store.fenced.
_FENCE: ContextVar[tuple[Store, Fence] | None] = ContextVar("modelward_store_fence", default=None)

# Any constant: serialises concurrent migrations of one PostgreSQL database.
_PG_MIGRATION_LOCK = 0x6D6F64656C77


class Store:
    """Owns the SQLAlchemy engine of one workspace database."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 30_000) -> None:
        self.url = url
        self.engine = _make_engine(url, busy_timeout_ms)
        self._file = _SqliteFile.of(url)

    @classmethod
    def open(
        cls, url: str, *, busy_timeout_ms: int = 30_000, migrate: bool = True, create: bool = True
    ) -> Store:
        """Connect and (by default) bring the schema to the latest migration.

        With ``create=False`` a SQLite database file that does not exist is an error instead of
        a new, empty database: a workspace whose database went missing must not carry on with an
        empty registry. (A PostgreSQL database is never created here; an empty one is migrated.)
        """
        if not create:
            _require_sqlite_file(url)
        store = cls(url, busy_timeout_ms=busy_timeout_ms)
        try:
            if migrate:
                store.upgrade()
            else:
                with store.read() as conn:
                    conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            store.close()
            if not is_unavailable(exc):
                raise
            reason = getattr(exc, "orig", exc)
            raise DatabaseUnavailableError(
                f"Cannot reach the database at {mask_url(url)}: {reason}. "
                "Check that the server is running and MODELWARD_DATABASE_URL is right.",
                reason=str(reason),
                details={"database": mask_url(url)},
            ) from exc
        except DatabaseUnavailableError:
            store.close()
            raise
        return store

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A short read transaction.

        An outage (the database unreachable, refusing the login, locked past the busy timeout, its file
        gone) raises :class:`~modelward.errors.DatabaseUnavailableError`, with the SQLAlchemy error as
        its ``__cause__``; any other database error (a query the database refused: a bug) propagates
        as it is. So do errors of the caller's own code inside the block.
        """
        try:
            if self._file is not None:
                self._file.check()
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            if is_unavailable(exc):
                raise unavailable_error(self.url, exc) from exc
            raise

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; on SQLite it takes the write lock at once (BEGIN IMMEDIATE).

        Errors as :meth:`read`; an integrity error (a unique key taken by a concurrent writer) propagates
        as it is, for :func:`retry_allocation`.
        """
        try:
            if self._file is not None:
                self._file.check()
            with self.engine.connect() as conn:
                conn = conn.execution_options(sqlite_begin="IMMEDIATE")
                with conn.begin():
                    fence = _FENCE.get()
                    if fence is not None and fence[0] is self:
                        fence[1](conn)
                    yield conn
        except sa.exc.SQLAlchemyError as exc:
            if is_unavailable(exc):
                raise unavailable_error(self.url, exc) from exc
            raise

    @contextmanager
    def fenced(self, check: Fence) -> Iterator[None]:
        """Inside the block, every write transaction of this store made by this context (thread) runs
        ``check(conn)`` first, in the same transaction: when it raises, the write changes nothing.

        The loop's leader fences its writes this way with its lease epoch (:mod:`modelward.jobs.lease`):
        a stale leader's write is refused whatever core owner makes it. Other threads (the server's
        requests, the prediction log's writer) are not fenced: a context variable holds the fence.
        """
        token = _FENCE.set((self, check))
        try:
            yield
        finally:
            _FENCE.reset(token)

    # -- migrations -------------------------------------------------------------------------

    def current_revision(self) -> str | None:
        """The migration this database is at (Alembic's ``alembic_version`` row); ``None`` when new."""
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    @staticmethod
    def head_revision() -> str:
        """The newest migration. Migrations are numbered files (``0009_version_importance.py`` is revision
        ``"0009"``, one line of history; tests/test_store.py checks Alembic agrees), so the head is read from
        the file names without loading Alembic or its scripts."""
        return max(m.group(1) for f in (_MIGRATIONS / "versions").iterdir() if (m := _NUMBERED.match(f.name)))

    def upgrade(self, revision: str = "head") -> None:
        """Apply migrations up to ``revision``, serialised across processes."""
        if revision == "head" and self.current_revision() == self.head_revision():
            return
        from alembic import command

        cfg = _alembic_config()
        with self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            if self.dialect == "postgresql":
                # Session-level lock: held across Alembic's own transaction.
                conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
                conn.commit()
            try:
                cfg.attributes["connection"] = conn
                log.info("migrating %s to %s", mask_url(self.url), revision)
                command.upgrade(cfg, revision)
                conn.commit()
            finally:
                if self.dialect == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                    conn.commit()

    def close(self) -> None:
        self.engine.dispose()

    def copy_catalog(self, target: Store) -> None:
        """Copy the catalog (datasets and their versions, models, their versions and aliases, ids kept) into
        ``target``, a new empty database; nothing of the log, the monitoring results, the jobs or the events.
        A scratch copy of a workspace (the backtest) starts from it."""
        tables = [
            schema.datasets,
            schema.dataset_versions,
            schema.models,
            schema.model_versions,
            schema.aliases,
        ]
        with self.read() as src, target.write() as dst:
            for table in tables:
                order = [c for c in table.primary_key.columns]
                rows = [dict(r._mapping) for r in src.execute(sa.select(table).order_by(*order))]
                if rows:
                    dst.execute(table.insert(), rows)


class _SqliteFile:
    """The SQLite database file a store opened, and a check that the path still leads to it.

    A SQLite file deleted (or replaced) under a running process stays open: writes go on
    "succeeding" into a file nobody can read again. Each transaction first checks that the path
    still names the file first opened (device and inode; one ``stat``, microseconds); if not, it
    fails as an outage (an ``OperationalError``, which the store raises as a
    :class:`~modelward.errors.DatabaseUnavailableError`), so the prediction log spools and ``/readyz``
    answers 503, instead of losing records silently.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.identity: tuple[int, int] | None = None
        self._reported = False

    @classmethod
    def of(cls, url: str) -> _SqliteFile | None:
        path = _sqlite_path(url)
        return None if path is None else cls(path.resolve())

    def check(self) -> None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            if self.identity is None:
                return  # not created yet: the first connection creates it
            self._fail("was deleted")
        else:
            identity = (stat.st_dev, stat.st_ino)
            if self.identity is None:
                self.identity = identity
            elif identity != self.identity:
                self._fail("was replaced by another file")

    def _fail(self, what: str) -> None:
        message = (
            f"The SQLite database {self.path} {what} while in use: the file at that path is no longer the "
            "one this process opened (deleted or replaced), so nothing written now could be read again. "
            "Restore the file and restart."
        )
        if not self._reported:
            log.error("%s", message)
            self._reported = True
        raise sa.exc.OperationalError(FILE_CHECK, None, sqlite3.OperationalError(message))


def _sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; ``None`` for other databases and in-memory SQLite."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or parsed.query.get("mode") == "memory":
        return None
    if database.startswith("file:"):  # a URI filename (?uri=true)
        database = database[len("file:") :].split("?", 1)[0]
    return Path(database)


def _require_sqlite_file(url: str) -> None:
    path = _sqlite_path(url)
    if path is None or path.is_file():
        return
    raise StoreError(
        f"The workspace database {path} does not exist. Only `modelward init` (and `quickstart`) "
        "create a database; every other command refuses to start on a new, empty one, which would hide "
        "the loss of your registry and logs. Restore the file from a backup, or run `modelward init` in "
        "the workspace directory to create a new, empty database.",
        details={"path": str(path)},
    )


def _alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def _make_engine(url: str, busy_timeout_ms: int) -> Engine:
    parsed = sa.engine.make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": busy_timeout_ms / 1000, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            # A host that stops answering must fail fast (and let the prediction log spool),
            # not hang a batch for the kernel's TCP timeout.
            kwargs["connect_args"] = {"connect_timeout": 5}
    engine = sa.create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, busy_timeout_ms)
    return engine


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, issue BEGIN (so we can choose IMMEDIATE).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
