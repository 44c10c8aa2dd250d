"""The FastAPI application: :func:`create_app` wires workspace, model cache, log and metrics.

The predict paths are answered by :class:`~modelward.server.hotpath.PredictPath` before
FastAPI's middleware and routing (see :mod:`modelward.server.hotpath`); everything else
(feedback, admin, metrics, health, the OpenAPI schema) is plain FastAPI.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from modelward import __version__
from modelward.errors import ModelwardError, StoreError
from modelward.predlog import FeedbackItem, PredictionLog
from modelward.server.admin import admin_router
from modelward.server.bodies import ClientGoneError, read_json, request_body_doc, validated
from modelward.server.hotpath import (
    PredictPath,
    ServerState,
    answer_predict,
    arm_of,
    default_model,
    error_body,
    read_request,
)
from modelward.server.metrics import CONTENT_TYPE_LATEST, Metrics
from modelward.server.models import DEFAULT_ALIAS, ModelUnavailableError, ServedModel
from modelward.server.openapi import install_openapi
from modelward.server.schemas import (
    ErrorResponse,
    FeedbackIn,
    FeedbackOut,
    FeedbackResponse,
    ModelsResponse,
    PredictRequest,
    PredictResponse,
    PromoteRequest,
    RollbackRequest,
    ServedEntry,
)
from modelward.server.validation import InputError
from modelward.workspace import Workspace

__all__ = ["create_app"]

log = logging.getLogger(__name__)

_JSON = "application/json"
_PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/PredictRequest"}}},
    }
}
_PREDICT_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Malformed body (not JSON, not one of the formats)."},
    404: {"model": ErrorResponse, "description": "No such model, version or alias."},
    413: {"model": ErrorResponse, "description": "Body too large or too many rows."},
    422: {"model": ErrorResponse, "description": "Input does not fit the model's signature."},
    503: {
        "model": ErrorResponse,
        "description": "The prediction log cannot record (log.on_failure: reject).",
    },
}


def create_app(
    workspace: Workspace,
    *,
    predlog: PredictionLog | None = None,
    close_workspace: bool = False,
    freeze_gc: bool = False,
) -> FastAPI:
    """The HTTP app serving ``workspace``: every model's champion, plus any ``NAME@REF`` asked for.

    ``predlog`` defaults to a :class:`~modelward.predlog.PredictionLog` built from the
    ``log:`` settings. Models are loaded and the log started in the app's lifespan (run it with
    uvicorn, or ``with TestClient(app)``); shutdown drains the log. ``freeze_gc`` (set by
    ``modelward serve``, which owns its process) moves everything alive once the models are
    loaded out of the cycle collector's sight (``gc.freeze``): full collections then take
    under a millisecond instead of 100-300 ms, which showed as the p99 latency under load.
    """
    metrics = Metrics()
    if predlog is None:
        cfg = workspace.settings.log
        spool = Path(cfg.spool_dir)
        predlog = PredictionLog(
            workspace.store,
            spool_dir=spool if spool.is_absolute() else workspace.root / spool,
            durability=cfg.durability,
            on_failure=cfg.on_failure,
            on_commit=lambda _n, seconds: metrics.log_commit_duration.observe(seconds),
        )
    state = ServerState(workspace, predlog, metrics)

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
        try:
            yield
        finally:
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
            await asyncio.to_thread(state.predlog.close)  # drains the queue
            state.executor.shutdown(wait=True)
            metrics.process_exited()
            if close_workspace:
                workspace.close()

    app = _App(
        title="modelward",
        version=__version__,
        summary="Predictions with durable logging, ground-truth feedback and Prometheus metrics.",
        lifespan=lifespan,
    )
    app.state.modelward = state
    app.predict_path = PredictPath(super(_App, app).__call__, state)
    _install_error_handlers(app)
    install_openapi(
        app,
        [PredictRequest, FeedbackIn, PromoteRequest, RollbackRequest],
        lambda: {name: s.version for name, ref, s in state.cache.served() if ref == DEFAULT_ALIAS},
        state.settings.max_rows,
    )
    app.state.max_body_bytes = state.settings.max_body_bytes
    app.include_router(admin_router(workspace, lambda: state.cache.refresh(force=True)))

    @app.post(
        "/v1/models/{model}/predict",
        summary="Predict with NAME (its champion), NAME@ALIAS or NAME@VERSION",
        response_model=PredictResponse,
        responses=_PREDICT_ERRORS,
        openapi_extra=_PREDICT_BODY,
        tags=["predict"],
    )
    async def predict(model: str, request: Request) -> Response:
        received = time.perf_counter()
        served = await state.cache.get(model)
        return await _predict(state, served, request, received, arm_of(model))

    @app.post(
        "/invocations",
        summary="MLflow scoring-server drop-in (serve.default_model)",
        response_model=PredictResponse,
        responses=_PREDICT_ERRORS,
        openapi_extra=_PREDICT_BODY,
        tags=["predict"],
    )
    async def invocations(request: Request) -> Response:
        received = time.perf_counter()
        name = default_model(state)
        served = await state.cache.get(name)
        return await _predict(state, served, request, received, arm_of(name))

    @app.post(
        "/v1/feedback",
        summary="Ground truth for earlier predictions (one item or a list)",
        response_model=FeedbackResponse,
        responses={
            400: {"model": ErrorResponse, "description": "Body is not JSON."},
            404: {"model": ErrorResponse, "description": "Unknown prediction id (at most 20 named)."},
            409: {"model": ErrorResponse, "description": "A different label is already recorded."},
            413: {"model": ErrorResponse, "description": "Body too large or too many items."},
            422: {"model": ErrorResponse, "description": "Not a label the model can have."},
        },
        openapi_extra=request_body_doc(_feedback_schema(state.settings.max_feedback_items)),
        tags=["feedback"],
    )
    async def feedback(request: Request) -> FeedbackResponse:
        data = await read_json(
            request,
            state.settings.max_body_bytes,
            '{"prediction_id": "...", "label": 1}',
            # each item names its key once: more keys than allowed items is refused unparsed
            precheck=lambda raw: _check_feedback_count(raw.count(b'"prediction_id"'), state),
        )
        if isinstance(data, list):
            _check_feedback_count(len(data), state)
            items = validated(_FEEDBACK_LIST, data)
        else:
            items = [validated(_FEEDBACK_ITEM, data)]
        try:
            results = await asyncio.to_thread(
                state.predlog.add_feedback,
                [FeedbackItem(i.prediction_id, i.label, i.overwrite) for i in items],
                outputs=state.outputs,
            )
        except ModelwardError as exc:
            state.metrics.feedback.labels(exc.code).inc()
            raise
        for r in results:
            state.metrics.feedback.labels(r.status).inc()
        return FeedbackResponse(
            results=[FeedbackOut(prediction_id=r.prediction_id, status=r.status) for r in results]
        )

    @app.get("/v1/models", response_model=ModelsResponse, summary="What is served", tags=["models"])
    async def list_served() -> ModelsResponse:
        entries = [
            ServedEntry(
                model=name,
                ref=str(ref),
                version=s.number,
                task=s.version.task,
                inputs=list(s.version.signature.get("inputs", [])),
                aliases=list(s.version.aliases),
            )
            for name, ref, s in state.cache.served()
        ]
        return ModelsResponse(models=entries)

    @app.get("/metrics", summary="Prometheus metrics", tags=["operations"], response_class=Response)
    async def metrics_endpoint() -> Response:
        state.metrics.log_queue_depth.set(state.predlog.queue_depth)
        state.metrics.log_spool_bytes.set(state.predlog.spool_bytes)
        return Response(state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", summary="The process is alive", tags=["operations"])
    @app.get("/ping", include_in_schema=False)
    @app.get("/health", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        summary="Models loaded and the store reachable",
        tags=["operations"],
        responses={503: {"model": ErrorResponse, "description": "Not ready."}},
    )
    async def readyz() -> dict[str, Any]:
        if not state.cache.ready:
            raise StoreError("Models are still loading.", details={"ready": False})
        try:
            await asyncio.wait_for(asyncio.to_thread(_ping, state.ws), timeout=2.0)
        except (sa.exc.SQLAlchemyError, StoreError, OSError, TimeoutError) as exc:
            raise StoreError(f"The metadata store is unreachable: {exc}.", details={"ready": False}) from exc
        broken = state.cache.unavailable()
        if broken:
            raise ModelUnavailableError(
                f"Not ready: {len(broken)} model(s) that should be served could not be loaded. "
                + " ".join(exc.message for exc in broken.values()),
                details={"ready": False, "models": {ref: exc.details for ref, exc in broken.items()}},
            )
        answer: dict[str, Any] = {"status": "ready", "models": len(state.cache.table)}
        degraded = state.cache.degraded()
        if degraded:
            answer["degraded"] = {ref: exc.details for ref, exc in degraded.items()}
        return answer

    @app.get("/version", include_in_schema=False)
    async def version() -> dict[str, str]:
        return {"modelward": __version__}

    return app


class _App(FastAPI):
    """FastAPI, with the predict paths answered by :class:`PredictPath` before any middleware."""

    predict_path: PredictPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.predict_path is None:
            await super().__call__(scope, receive, send)
        else:
            await self.predict_path(scope, receive, send)


async def _predict(
    state: ServerState, served: ServedModel, request: Request, received: float, arm: str
) -> Response:
    """The FastAPI route's way to :func:`answer_predict` (normally :class:`PredictPath` answers first)."""
    try:
        raw, headers = await read_request(state, served, request.scope, request.receive)
    except ClientGoneError:
        return Response(status_code=499)  # nobody is listening; nothing was predicted or logged
    body = await answer_predict(state, served, raw, headers, received, arm)
    return Response(body, media_type=_JSON)


_FEEDBACK_ITEM = TypeAdapter(FeedbackIn)
_FEEDBACK_LIST = TypeAdapter(list[FeedbackIn])


def _feedback_schema(max_items: int) -> dict[str, Any]:
    item = {"$ref": "#/components/schemas/FeedbackIn"}
    return {"anyOf": [item, {"type": "array", "items": item, "maxItems": max_items}]}


def _check_feedback_count(count: int, state: ServerState) -> None:
    limit = state.settings.max_feedback_items
    if count > limit:
        raise InputError(
            f"{count} feedback items in one request; at most {limit} are accepted "
            "(serve.max_feedback_items). Split the list.",
            reason="too_many_rows",
            status_code=413,
            details={"items": count, "max_feedback_items": limit},
        )


def _ping(ws: Workspace) -> None:
    with ws.store.read() as conn:
        conn.execute(sa.text("SELECT 1"))


# -- errors -------------------------------------------------------------------------------------


def _error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
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
