"""The model server: predictions with durable logging, feedback, metrics, hot reload.

``create_app(workspace)`` builds the FastAPI app; ``modelward serve`` runs it under uvicorn
(see :mod:`modelward.server.runner`). Imported lazily so that ``import modelward.server``
does not pull in FastAPI and prometheus-client before the runner has configured them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelward.server.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from modelward.server.app import create_app

        return create_app
    raise AttributeError(f"module 'modelward.server' has no attribute {name!r}")
