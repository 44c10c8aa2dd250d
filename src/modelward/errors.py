"""The exceptions modelward raises.

Every error a user can cause derives from :class:`ModelwardError`. Each carries a
machine-readable ``code``, a human message that says what was expected, what was given
and how to fix it, optional structured ``details``, and the HTTP status an interface
should answer with. The CLI prints the message and exits cleanly; anything that is not a
``ModelwardError`` is a bug and shows a traceback.
"""

from __future__ import annotations

from typing import Any


class ModelwardError(Exception):
    """Root of every error modelward raises on purpose."""

    code: str = "modelward_error"
    status_code: int = 400

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """The single JSON error shape: ``{"error": {"code", "message", "details"}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ConfigError(ModelwardError):
    """Settings or ``modelward.yaml`` are invalid."""

    code = "config_error"


class WorkspaceNotFoundError(ModelwardError):
    """The workspace directory does not exist, or neither it nor a parent holds ``modelward.yaml``."""

    code = "workspace_not_found"
    status_code = 404


class NotFoundError(ModelwardError):
    """A named dataset, model, version or alias does not exist."""

    code = "not_found"
    status_code = 404


class ConflictError(ModelwardError):
    """The request contradicts what is stored (a different label without ``overwrite``, a model of
    another task under the same name, no earlier version to roll back to, …)."""

    code = "conflict"
    status_code = 409


class DataError(ModelwardError):
    """Input data (a file, a frame) is unusable; the message names the file, column or row."""

    code = "data_error"
    status_code = 422


class IntegrityError(ModelwardError):
    """A stored blob does not match its content hash: corrupted or tampered with."""

    code = "integrity_error"
    status_code = 500


class UntrustedModelError(ModelwardError):
    """A model file contains types that are not on the trusted allowlist."""

    code = "untrusted_model"
    status_code = 422


class TrainingError(ModelwardError):
    """User training code failed, or the training inputs are unusable."""

    code = "training_error"
    status_code = 422


class StoreError(ModelwardError):
    """The metadata database is unreachable or in an unexpected state."""

    code = "store_error"
    status_code = 503


class DatabaseUnavailableError(StoreError):
    """The metadata database cannot be used right now: unreachable, refusing logins, locked, its file
    gone or unreadable. ``reason`` is the driver's own words; the original error is ``__cause__``.
    Retrying later may succeed, unlike a query the database refused for what it says (a bug)."""

    code = "database_unavailable"
    status_code = 503

    def __init__(self, message: str, *, reason: str = "", details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.reason = reason or message
