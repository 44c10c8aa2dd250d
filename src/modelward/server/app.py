"""The FastAPI application: :func:`create_app` wires workspace, model cache, log and metrics.

The predict paths are answered by :class:`~modelward.server.hotpath.PredictPath` before
FastAPI's middleware and routing (see :mod:`modelward.server.hotpath`); everything else
(feedback, admin, metrics, health, the OpenAPI schema) is plain FastAPI.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from modelward import __version__
from modelward.errors import ModelwardError
from modelward.predlog import PredictionLog
from modelward.server.admin import admin_router
from modelward.server.cache import DEFAULT_ALIAS
from modelward.server.hooks import AlertmanagerPayload, hooks_router
from modelward.server.hotpath import (
    PredictPath,
    ServerState,
    error_body,
)
from modelward.server.metrics import Metrics
from modelward.server.openapi import install_openapi
from modelward.server.routes import explain_router, feedback_router, operations_router, predict_router
from modelward.server.schemas import (
    FeedbackIn,
    PredictRequest,
    PromoteRequest,
    RollbackRequest,
)
from modelward.server.throttle import FailedAttempts
from modelward.ui.pages import console_router
from modelward.workspace import Workspace

__all__ = ["create_app"]

_JSON = "application/json"

log = logging.getLogger(__name__)

_SOURCE = f"{socket.gethostname()}:{os.getpid()}"  # this server, in the rollout counters


def create_app(
    workspace: Workspace,
    *,
    predlog: PredictionLog | None = None,
    close_workspace: bool = False,
    freeze_gc: bool = False,
    loop_metrics: Path | None = None,
) -> FastAPI:
    """The HTTP app serving ``workspace``: every model's champion, plus any ``NAME@REF`` asked for.

    ``predlog`` defaults to a :class:`~modelward.predlog.PredictionLog` built from the
    ``log:`` settings. Models are loaded and the log started in the app's lifespan (run it with
    uvicorn, or ``with TestClient(app)``); shutdown drains the log. ``freeze_gc`` (set by
    ``modelward serve``, which owns its process) moves everything alive once the models are
    loaded out of the cycle collector's sight (``gc.freeze``): full collections then take
    under a millisecond instead of 100-300 ms, which showed as the p99 latency under load.
    ``loop_metrics``: the file the maintenance loop writes its metrics to, appended to ``/metrics``.
    """
    metrics = Metrics(loop_metrics)
    state = ServerState(workspace, predlog or _default_predlog(workspace, metrics), metrics)
    app = _App(
        title="modelward",
        version=__version__,
        summary="Predictions with durable logging, ground-truth feedback and Prometheus metrics.",
        lifespan=_lifespan(state, close_workspace=close_workspace, freeze_gc=freeze_gc),
    )
    app.state.modelward = state
    app.predict_path = PredictPath(super(_App, app).__call__, state)
    _install_error_handlers(app)
    install_openapi(
        app,
        [PredictRequest, FeedbackIn, PromoteRequest, RollbackRequest, AlertmanagerPayload],
        lambda: {name: s.version for name, ref, s in state.cache.served() if ref == DEFAULT_ALIAS},
        state.settings.max_rows,
    )
    app.state.max_body_bytes = state.settings.max_body_bytes
    attempts = FailedAttempts()  # wrong admin tokens, over the admin API and the console's sign-in
    app.include_router(admin_router(workspace, lambda: state.cache.refresh(force=True), attempts))
    app.include_router(hooks_router(workspace))
    app.include_router(predict_router(state))
    app.include_router(explain_router(state))
    app.include_router(feedback_router(state))
    app.include_router(operations_router(state))
    app.include_router(
        console_router(
            workspace, actions=True, on_change=lambda: state.cache.refresh(force=True), attempts=attempts
        )
    )
    return app


def _default_predlog(workspace: Workspace, metrics: Metrics) -> PredictionLog:
    """The prediction log the ``log:`` settings describe, reporting commit times to ``metrics``."""
    cfg = workspace.settings.log
    spool = Path(cfg.spool_dir)
    return PredictionLog(
        workspace.store,
        spool_dir=spool if spool.is_absolute() else workspace.root / spool,
        durability=cfg.durability,
        on_failure=cfg.on_failure,
        on_commit=lambda _n, seconds: metrics.log_commit_duration.observe(seconds),
    )


def _lifespan(
    state: ServerState, *, close_workspace: bool, freeze_gc: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start the log, load the models and poll for changes; on shutdown drain the log."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state.predlog.start()
        await state.cache.start()
        # Everything allocated so far (imported libraries, the app, the loaded models) lives as
        # long as the process: move it out of the cycle collector's sight. Otherwise every full
        # collection walks it all, stopping the world for hundreds of milliseconds under load.
        if freeze_gc:
            gc.collect()
            gc.freeze()
        poller = asyncio.create_task(state.cache.poll())
        stop_flushing = asyncio.Event()
        flusher = asyncio.create_task(_flush_counts(state, stop_flushing))
        try:
            yield
        finally:
            poller.cancel()
            # Not cancelled: a flush being written finishes (a cancelled one left its counters to a thread
            # nobody waited for, and a reader after shutdown could miss them).
            stop_flushing.set()
            await asyncio.gather(poller, flusher, return_exceptions=True)
            await state.shadow.drain()
            await _flush_once(state)
            await asyncio.to_thread(state.predlog.close)  # drains the queue
            state.executor.shutdown(wait=True)
            state.explanations.close()
            state.metrics.process_exited()
            if close_workspace:
                state.ws.close()

    return lifespan


async def _flush_once(state: ServerState) -> None:
    """Store the rollout counters counted since the last flush (kept for the next one on failure)."""
    rows = state.router.drain()
    if not rows:
        return
    try:
        await asyncio.to_thread(
            state.ws.rollouts.add_counts, rows, source=_SOURCE, now=dt.datetime.now(dt.UTC)
        )
    except Exception as exc:  # an outage: keep counting, store them later
        log.warning(
            "could not store the rollout counters (%s: %s); kept for the next flush", type(exc).__name__, exc
        )
        state.router.restore(rows)


async def _flush_counts(state: ServerState, stop: asyncio.Event) -> None:
    """Flush the rollout counters every ``serve.reload_poll_seconds`` until ``stop`` is set."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=state.settings.reload_poll_seconds)
        await _flush_once(state)


class _App(FastAPI):
    """FastAPI, with the predict paths answered by :class:`PredictPath` before any middleware."""

    predict_path: PredictPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.predict_path is None:
            await super().__call__(scope, receive, send)
        else:
            await self.predict_path(scope, receive, send)


# -- errors -------------------------------------------------------------------------------------


def _error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 429 and details and "retry_after" in details:
        headers = {"Retry-After": str(details["retry_after"])}
    return Response(error_body(code, message, details), status_code=status, headers=headers, media_type=_JSON)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ModelwardError)
    async def _modelward(_request: Request, exc: ModelwardError) -> Response:
        if exc.status_code >= 500:
            log.warning("%s: %s", exc.code, exc.message)
        return _error(exc.status_code, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {
                "loc": ".".join(str(p) for p in e.get("loc", ())),
                "msg": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": "body", "msg": "invalid"}
        return _error(
            422,
            "invalid_request",
            f"Invalid request at {first['loc']}: {first['msg']}. See /docs for the expected body.",
            {"errors": errors},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code in (404, 405):
            message = f"{message}: {request.method} {request.url.path}. See /docs for the endpoints."
        return _error(exc.status_code, code, message)

    @app.exception_handler(Exception)
    async def _internal(_request: Request, exc: Exception) -> Response:
        log.exception("unhandled error")
        return _error(500, "internal_error", f"Internal error ({type(exc).__name__}); see the server log.")
