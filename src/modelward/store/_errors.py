"""The store's error boundary: which database errors are outages, what they become, and the one retry
of a version number lost to a concurrent writer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa

from modelward.config import mask_url
from modelward.errors import ConflictError, DatabaseUnavailableError

__all__ = ["FILE_CHECK", "is_unavailable", "is_unique_violation", "retry_allocation", "unavailable_error"]

log = logging.getLogger(__name__)

T = TypeVar("T")

FILE_CHECK = "(file check)"
"""The statement of the ``OperationalError`` the store raises when its SQLite file was deleted or replaced."""

# SQLite reports what a query got wrong (too many variables, no such table, a syntax error) as
# an OperationalError, like an outage; only these mean the database cannot be used right now.
_SQLITE_OUTAGES = (
    "unable to open",
    "disk i/o error",
    "database is locked",
    "database or disk is full",
    "readonly database",
    "database disk image is malformed",
    "file is not a database",
    "deleted or replaced",
)

_PG_UNIQUE_VIOLATION = "23505"
_SQLITE_UNIQUE = ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY")


def is_unavailable(exc: BaseException) -> bool:
    """Whether an error means "cannot reach/use the database now" (so: spool, retry later, answer 503).

    True for a :class:`~modelward.errors.DatabaseUnavailableError` (what :class:`~modelward.store.Store`
    raises for one) and for the SQLAlchemy errors it is made from. A query the database refused for
    what it says (a bug, or input it cannot take) is not an outage, and is never reported as one.
    """
    if isinstance(exc, DatabaseUnavailableError):
        return True
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa.exc.InterfaceError | sa.exc.TimeoutError):
        return True
    if not isinstance(exc, sa.exc.OperationalError):
        return False
    if type(getattr(exc, "orig", None)).__module__.startswith("sqlite3"):
        message = str(exc.orig).lower()
        return any(marker in message for marker in _SQLITE_OUTAGES)
    return True


def unavailable_error(url: str, exc: sa.exc.SQLAlchemyError) -> DatabaseUnavailableError:
    """The :class:`~modelward.errors.DatabaseUnavailableError` of an outage of the database at ``url``:
    it names the database (password masked), gives the driver's reason and says what to check."""
    parsed = sa.engine.make_url(url)
    reason = _reason(exc)
    if parsed.password:
        reason = reason.replace(str(parsed.password), "***")
    details = {"database": mask_url(url)}
    if getattr(exc, "statement", None) == FILE_CHECK:  # the reason names the file and says what to do
        return DatabaseUnavailableError(reason, reason=reason, details=details)
    if parsed.get_backend_name() == "sqlite":
        where = f"The SQLite database {parsed.database}"
        hint = (
            " Check that the file exists, that this process may read and write it and its directory, "
            "and that the disk is not full."
        )
    else:
        where = f"The database {mask_url(url)}"
        hint = (
            " Check that the server is running and reachable from here, that the role may log in, and "
            "that MODELWARD_DATABASE_URL (or database_url in modelward.yaml) is right."
        )
    return DatabaseUnavailableError(
        f"{where} is unavailable: {reason.rstrip('.')}.{hint}", reason=reason, details=details
    )


def is_unique_violation(exc: sa.exc.IntegrityError) -> bool:
    """Whether an integrity error is a unique-constraint violation (a concurrent writer took the key)."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == _PG_UNIQUE_VIOLATION:
        return True
    if getattr(orig, "sqlite_errorname", None) in _SQLITE_UNIQUE:
        return True
    return str(orig).startswith("UNIQUE constraint failed")


def retry_allocation(attempt: Callable[[], T], *, what: str, attempts: int = 20) -> T:
    """``attempt()``, run again each time it loses a race for a new version number.

    ``attempt`` is one write transaction that reads the highest number and inserts the next, under a
    unique constraint: when another writer committed that number (or the same row) first, the insert
    violates the constraint and the transaction rolls back, and the next attempt reads afresh. Other
    integrity errors are not races and propagate. After ``attempts`` losses it gives up with a
    :class:`~modelward.errors.ConflictError` naming ``what`` (e.g. "a version of dataset 'x'").
    """
    last: sa.exc.IntegrityError | None = None
    for _ in range(attempts):
        try:
            return attempt()
        except sa.exc.IntegrityError as exc:
            if not is_unique_violation(exc):
                raise
            last = exc
            log.debug("allocating %s raced another writer; retrying", what)
    raise ConflictError(
        f"Could not allocate {what} after {attempts} attempts: other writers took each number first. "
        "Try again; if it keeps happening, fewer processes should write to this registry at once.",
        details={"attempts": attempts},
    ) from last


def _reason(exc: BaseException) -> str:
    """The driver's message, on one line."""
    orig = getattr(exc, "orig", None)
    return " ".join(str(orig if orig is not None else exc).split())
