"""The FastAPI routes other than admin: predict (as documented; the hot path answers first), feedback,
and operations (what is served, metrics, health, readiness).

Each ``*_router(state)`` builds an :class:`~fastapi.APIRouter` over one app's
:class:`~modelward.server.hotpath.ServerState`; :func:`modelward.server.app.create_app`
includes them.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from pydantic import TypeAdapter

from modelward import __version__
from modelward.errors import ModelwardError, StoreError
from modelward.predlog import FeedbackItem
from modelward.server.bodies import (
    ClientGoneError,
    Headers,
    decode_json,
    read_json,
    request_body_doc,
    validated,
)
from modelward.server.cache import ModelUnavailableError
from modelward.server.hotpath import ServerState, answer_predict, arm_of, default_model, read_request
from modelward.server.metrics import CONTENT_TYPE_LATEST
from modelward.server.schemas import (
    ErrorResponse,
    ExplainResponse,
    FeedbackIn,
    FeedbackOut,
    FeedbackResponse,
    ModelsResponse,
    PredictResponse,
    ServedEntry,
)
from modelward.server.served import Job, ServedModel
from modelward.server.validation import InputError, csv_split, parse_body
from modelward.workspace import Workspace

__all__ = ["explain_router", "feedback_router", "operations_router", "predict_router"]

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


def predict_router(state: ServerState) -> APIRouter:
    """``POST /v1/models/{model}/predict`` and ``POST /invocations`` (see :mod:`modelward.server.hotpath`)."""
    router = APIRouter()

    @router.post(
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

    @router.post(
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

    return router


def explain_router(state: ServerState) -> APIRouter:
    """``POST /v1/models/{model}/explain``: predictions and SHAP attributions (docs/explain.md).

    Answered on the explain thread (:mod:`modelward.server.explanations`), never the prediction
    thread; nothing is logged.
    """
    router = APIRouter()

    @router.post(
        "/v1/models/{model}/explain",
        summary="Explain NAME's (NAME@ALIAS's, NAME@VERSION's) predictions: attributions per input column",
        response_model=ExplainResponse,
        responses=_PREDICT_ERRORS,
        openapi_extra=_PREDICT_BODY,
        tags=["explain"],
    )
    async def explain(model: str, request: Request) -> Response:
        served = await state.cache.get(model)
        try:
            raw, headers = await read_request(state, served, request.scope, request.receive)
        except ClientGoneError:
            return Response(status_code=499)
        return Response(await _explain(state, served, model, raw, headers), media_type=_JSON)

    return router


async def _explain(
    state: ServerState, served: ServedModel, model: str, raw: bytes, headers: Headers
) -> bytes:
    try:
        if headers.content_type == "text/csv":
            body: Any = {"dataframe_split": csv_split(raw)}
        else:
            body = decode_json(raw, '{"dataframe_records": [{...}]}')
        parsed = parse_body(body, max_rows=state.settings.max_rows, explaining=True)
        state.explanations.check_rows(parsed.rows)
        if parsed.want_proba and served.classes is None:
            raise InputError(
                f"{served.version.ref} is a {served.version.task} model and has no class probabilities; "
                'remove "return": ["proba"].',
                reason="malformed",
                status_code=400,
            )
        columns = served.validator.validate(parsed)
        # Predicted in the micro-batch with the other requests (not logged, not counted), explained on the
        # explain thread: the prediction thread never explains, the explain thread never predicts.
        answer = await served.batcher.submit(
            Job(columns, parsed.rows, time.perf_counter(), arm_of(model), None, logged=False)
        )
        predictions, proba = answer.predictions, answer.probabilities
        explanations = await state.explanations.explain(
            served, columns, predictions, all_classes=parsed.explain_all_classes
        )
    except InputError as exc:
        state.metrics.input_errors.labels(served.name, exc.reason).inc()
        raise
    out: dict[str, Any] = {"predictions": predictions, "model": served.name, "version": served.number}
    if parsed.want_proba:
        out["probabilities"] = proba
        out["classes"] = served.class_list
    out["explanations"] = explanations
    return orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY)


def feedback_router(state: ServerState) -> APIRouter:
    """``POST /v1/feedback``: ground truth by prediction id, bounded and checked."""
    router = APIRouter()

    @router.post(
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

    return router


def operations_router(state: ServerState) -> APIRouter:
    """What is served, Prometheus metrics, liveness, readiness and the version."""
    router = APIRouter()

    @router.get("/v1/models", response_model=ModelsResponse, summary="What is served", tags=["models"])
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

    @router.get("/metrics", summary="Prometheus metrics", tags=["operations"], response_class=Response)
    async def metrics_endpoint() -> Response:
        state.metrics.log_queue_depth.set(state.predlog.queue_depth)
        state.metrics.log_spool_bytes.set(state.predlog.spool_bytes)
        return Response(state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @router.get("/healthz", summary="The process is alive", tags=["operations"])
    @router.get("/ping", include_in_schema=False)
    @router.get("/health", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Models loaded and the store reachable",
        tags=["operations"],
        responses={503: {"model": ErrorResponse, "description": "Not ready."}},
    )
    async def readyz() -> dict[str, Any]:
        return await _readiness(state)

    @router.get("/version", include_in_schema=False)
    async def version() -> dict[str, str]:
        return {"modelward": __version__}

    return router


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


async def _readiness(state: ServerState) -> dict[str, Any]:
    """The readiness answer: 200 body, or a 503 error naming what is not ready."""
    if not state.cache.ready:
        raise StoreError("Models are still loading.", details={"ready": False})
    try:
        await asyncio.wait_for(asyncio.to_thread(_ping, state.ws), timeout=2.0)
    except StoreError as exc:  # an outage (DatabaseUnavailableError): its own message
        raise StoreError(f"Not ready: {exc.message}", details={"ready": False}) from exc
    except TimeoutError as exc:
        raise StoreError(
            "Not ready: the metadata store did not answer within 2 s.", details={"ready": False}
        ) from exc
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


def _ping(ws: Workspace) -> None:
    with ws.store.read() as conn:
        conn.execute(sa.text("SELECT 1"))
