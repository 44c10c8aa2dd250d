"""The FastAPI application: :func:`create_app` wires workspace, model cache, log and metrics.

Hot path of ``POST /v1/models/{model}/predict``: a dict lookup for the served model, the
body read with a size limit and decoded by orjson, checked against the signature (per
request, so bad rows fail only their own request), merged into a micro-batch, predicted,
handed to the prediction log, and answered once the record is durable (``log.durability:
sync``) — no database round trip of its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelward import __version__
from modelward.errors import ModelwardError, StoreError
from modelward.predlog import FeedbackItem, PredictionLog
from modelward.server.admin import admin_router
from modelward.server.metrics import CONTENT_TYPE_LATEST, Metrics
from modelward.server.models import DEFAULT_ALIAS, Job, ModelCache, ServedModel
from modelward.server.schemas import (
    ErrorResponse,
    FeedbackIn,
    FeedbackOut,
    FeedbackResponse,
    ModelsResponse,
    PredictRequest,
    PredictResponse,
    ServedEntry,
)
from modelward.server.validation import InputError, parse_body
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


class _State:
    """Everything one app instance owns."""

    def __init__(self, workspace: Workspace, predlog: PredictionLog, metrics: Metrics) -> None:
        self.ws = workspace
        self.settings = workspace.settings.serve
        self.predlog = predlog
        self.metrics = metrics
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modelward-predict")
        self.cache = ModelCache(workspace, executor=self.executor, metrics=metrics, predlog=predlog)


def create_app(
    workspace: Workspace,
    *,
    predlog: PredictionLog | None = None,
    close_workspace: bool = False,
) -> FastAPI:
    """The HTTP app serving ``workspace``: every model's champion, plus any ``NAME@REF`` asked for.

    ``predlog`` defaults to a :class:`~modelward.predlog.PredictionLog` built from the
    ``log:`` settings. Models are loaded and the log started in the app's lifespan (run it with
    uvicorn, or ``with TestClient(app)``); shutdown drains the log.
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
    state = _State(workspace, predlog, metrics)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state.predlog.start()
        await state.cache.start()
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

    app = FastAPI(
        title="modelward",
        version=__version__,
        summary="Predictions with durable logging, ground-truth feedback and Prometheus metrics.",
        lifespan=lifespan,
    )
    app.state.modelward = state
    _install_error_handlers(app)
    _install_openapi(app)
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
        return await _predict(state, served, request, received, _arm(model))

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
        name = _default_model(state)
        served = await state.cache.get(name)
        return await _predict(state, served, request, received, _arm(name))

    @app.post(
        "/v1/feedback",
        summary="Ground truth for earlier predictions (one item or a list)",
        response_model=FeedbackResponse,
        responses={
            404: {"model": ErrorResponse, "description": "Unknown prediction id."},
            409: {"model": ErrorResponse, "description": "A different label is already recorded."},
        },
        tags=["feedback"],
    )
    async def feedback(body: FeedbackIn | list[FeedbackIn]) -> FeedbackResponse:
        items = body if isinstance(body, list) else [body]
        try:
            results = await asyncio.to_thread(
                state.predlog.add_feedback,
                [FeedbackItem(i.prediction_id, i.label, i.overwrite) for i in items],
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
        except Exception as exc:
            raise StoreError(f"The metadata store is unreachable: {exc}.", details={"ready": False}) from exc
        return {"status": "ready", "models": len(state.cache.table)}

    @app.get("/version", include_in_schema=False)
    async def version() -> dict[str, str]:
        return {"modelward": __version__}

    return app


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> InputError:
    return InputError(
        f"The request body is {size} bytes or more; at most {limit} are accepted (serve.max_body_bytes). "
        "Send fewer rows per request.",
        reason="body_too_large",
        status_code=413,
        details={"max_body_bytes": limit},
    )


async def _predict(
    state: _State, served: ServedModel, request: Request, received: float, arm: str
) -> Response:
    metrics = state.metrics
    try:
        raw = await _read_body(request, state.settings.max_body_bytes)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InputError(
                f"The request body is not valid JSON ({exc}). Send a JSON object such as "
                '{"dataframe_records": [{...}]}.',
                reason="malformed",
                status_code=400,
            ) from exc
        parsed = parse_body(body, max_rows=state.settings.max_rows)
        if parsed.want_proba and served.classes is None:
            raise InputError(
                f"{served.version.ref} is a {served.version.task} model and has no class probabilities; "
                'remove "return": ["proba"].',
                reason="malformed",
                status_code=400,
            )
        columns = served.validator.validate(parsed)
    except InputError as exc:
        metrics.input_errors.labels(served.name, exc.reason).inc()
        raise
    routing_key = request.headers.get("x-routing-key") or parsed.routing_key
    answer = await served.batcher.submit(Job(columns, parsed.rows, received, arm, routing_key))
    if answer.logged is not None:
        await asyncio.wrap_future(answer.logged)
    out: dict[str, Any] = {
        "predictions": answer.predictions,
        "prediction_ids": answer.prediction_ids,
        "model": served.name,
        "version": served.number,
    }
    if parsed.want_proba:
        out["probabilities"] = answer.probabilities
        out["classes"] = served.classes.tolist() if served.classes is not None else None
    metrics.predictions.labels(served.name, served.label, arm).inc(parsed.rows)
    metrics.request_duration.labels(served.name, served.label, arm).observe(time.perf_counter() - received)
    return Response(orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY), media_type=_JSON)


def _arm(model: str) -> str:
    """The arm label of a reference: its alias, or ``vN`` for a pinned version."""
    ref = model.partition("@")[2]
    if not ref:
        return DEFAULT_ALIAS
    return f"v{ref}" if ref.isdigit() else ref


def _default_model(state: _State) -> str:
    configured = state.settings.default_model
    if configured:
        return configured
    names = sorted({name for (name, ref) in state.cache.table if ref == DEFAULT_ALIAS})
    if len(names) == 1:
        return names[0]
    raise ModelwardError(
        f"POST /invocations needs serve.default_model when {len(names)} models are served "
        f"({', '.join(names) or 'none'}); set it, or call /v1/models/NAME/predict.",
        details={"served": names},
    )


def _ping(ws: Workspace) -> None:
    with ws.store.read() as conn:
        conn.execute(sa.text("SELECT 1"))


# -- errors and OpenAPI -------------------------------------------------------------------------


def _error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details or {}}},
        status_code=status,
        headers=headers,
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ModelwardError)
    async def _modelward(_request: Request, exc: ModelwardError) -> JSONResponse:
        if exc.status_code >= 500:
            log.warning("%s: %s", exc.code, exc.message)
        return _error(exc.status_code, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
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
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code in (404, 405):
            message = f"{message}: {request.method} {request.url.path}. See /docs for the endpoints."
        return _error(exc.status_code, code, message)

    @app.exception_handler(Exception)
    async def _internal(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _error(500, "internal_error", f"Internal error ({type(exc).__name__}); see the server log.")


def _install_openapi(app: FastAPI) -> None:
    """The generated schema plus the predict request body (read by hand, so declared here)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        _, defs = models_json_schema(
            [(PredictRequest, "validation")], ref_template="#/components/schemas/{model}"
        )
        schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
