"""The web console: server-rendered pages under ``/ui`` over one workspace.

``modelward serve`` mounts it with its actions (promote, roll back, start and abort rollouts, retrain) for an
admin signed in with the admin token; ``modelward ui`` serves it alone and read-only
(:func:`create_console_app`). Pages are Jinja2 templates; charts are inline SVG drawn on the server, so the
console works offline and loads nothing from elsewhere. See docs/console.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from modelward.workspace import Workspace

__all__ = ["console_router", "create_console_app"]


def console_router(*args: Any, **kwargs: Any) -> Any:
    """See :func:`modelward.ui.pages.console_router` (imported on first use: FastAPI and Jinja2)."""
    from modelward.ui.pages import console_router as build

    return build(*args, **kwargs)


def create_console_app(workspace: Workspace, *, close_workspace: bool = False) -> FastAPI:
    """The console alone, read-only (``modelward ui``): no sign-in, no action, no model served."""
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    from fastapi import FastAPI
    from fastapi.responses import RedirectResponse

    from modelward import __version__
    from modelward.ui.pages import console_router as build

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if close_workspace:
                workspace.close()

    app = FastAPI(
        title="modelward console",
        version=__version__,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.include_router(build(workspace, actions=False))

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui")

    return app
