"""The predict hot path: one request from raw body bytes to the JSON answer.

:class:`PredictPath` is a small ASGI handler that the app (see :mod:`modelward.server.app`)
calls before FastAPI's middleware and router. It answers ``POST /v1/models/{model}/predict``
and ``POST /invocations`` itself (a dict lookup for the served model, the body read with a
size limit and decoded by orjson, routed (:mod:`modelward.server.routing`: which version and
arm answer), checked against the signature, merged into a micro-batch,
predicted, handed to the prediction log, answered once the record is durable with
``log.durability: sync``) and hands every other request to FastAPI. FastAPI's middleware,
routing and dependency solving cost more CPU than predicting a small model; its routes for
these two paths stay declared (they document the endpoints in the OpenAPI schema, and answer
the same way through :func:`answer_predict` when the app runs under a root path).

Errors render the one JSON error shape of :mod:`modelward.server.app`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from modelward.errors import ModelwardError
from modelward.predlog import PredictionLog
from modelward.server.bodies import ClientGoneError, Headers, decode_json, read_body, request_headers
from modelward.server.cache import DEFAULT_ALIAS, ModelCache
from modelward.server.explanations import Explanations
from modelward.server.metrics import Metrics
from modelward.server.routing import Route, Router
from modelward.server.served import Job, ServedModel
from modelward.server.shadow import ShadowScorer
from modelward.server.validation import InputError, csv_split, parse_body
from modelward.workspace import Workspace

__all__ = [
    "PredictPath",
    "ServerState",
    "answer_predict",
    "arm_of",
    "default_model",
    "error_body",
    "read_request",
]

log = logging.getLogger(__name__)


_PREFIX, _SUFFIX = "/v1/models/", "/predict"
_JSON_HEADERS = [(b"content-type", b"application/json")]


class ServerState:
    """Everything one app instance owns."""

    def __init__(self, workspace: Workspace, predlog: PredictionLog, metrics: Metrics) -> None:
        self.ws = workspace
        self.settings = workspace.settings.serve
        self.predlog = predlog
        self.metrics = metrics
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modelward-predict")
        self.cache = ModelCache(workspace, executor=self.executor, metrics=metrics, predlog=predlog)
        self.router = Router(self.cache)
        self.shadow = ShadowScorer(self.router, metrics)
        self.explanations = Explanations(workspace)  # its own thread: never on the predict path
        self._outputs: dict[tuple[str, int], Mapping[str, Any]] = {}

    def outputs(self, model: str, version: int) -> Mapping[str, Any]:
        """The signature output (task, classes) of ``model@version``: what its labels may be.

        Versions are immutable, so each is read from the registry once (feedback runs this on a
        worker thread).
        """
        key = (model, version)
        spec = self._outputs.get(key)
        if spec is None:
            spec = dict(self.ws.registry.get(model, version).signature.get("output", {}))
            self._outputs[key] = spec
        return spec


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> bytes:
    """The one JSON error shape of every endpoint: ``{"error": {"code", "message", "details"}}``."""
    payload = {"error": {"code": code, "message": message, "details": details or {}}}
    return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)


def arm_of(model: str) -> str:
    """The arm label of a reference: its alias, or ``vN`` for a pinned version."""
    ref = model.partition("@")[2]
    if not ref:
        return DEFAULT_ALIAS
    return f"v{ref}" if ref.isdigit() else ref


def default_model(state: ServerState) -> str:
    """The model answering ``POST /invocations``."""
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


async def answer_predict(
    state: ServerState,
    served: ServedModel,
    raw: bytes,
    headers: Headers,
    received: float,
    arm: str,
) -> bytes:
    """The JSON answer to one predict request (raises :class:`ModelwardError` for a 4xx/5xx)."""
    route: Route | None = None
    try:
        if headers.content_type == "text/csv":
            body: Any = {"dataframe_split": csv_split(raw)}
        else:
            body = decode_json(raw, '{"dataframe_records": [{...}]}')
        parsed = parse_body(body, max_rows=state.settings.max_rows)
        routing_key = headers.routing_key or parsed.routing_key
        route = state.router.route(served, arm, routing_key)
        served, arm = route.served, route.arm
        state.router.count(route, "requests")
        if parsed.want_proba and served.classes is None:
            raise InputError(
                f"{served.version.ref} is a {served.version.task} model and has no class probabilities; "
                'remove "return": ["proba"].',
                reason="malformed",
                status_code=400,
            )
        if parsed.want_explanations:
            state.explanations.check_rows(parsed.rows)
        columns = served.validator.validate(parsed)
    except InputError as exc:
        state.metrics.input_errors.labels(served.name, exc.reason).inc()
        if route is not None:
            state.router.count(route, "input_errors")
        raise
    try:
        answer = await served.batcher.submit(
            Job(columns, parsed.rows, received, arm, routing_key, context=parsed.context)
        )
        if answer.logged is not None:
            await answer.logged.wait()
    except InputError as exc:  # the estimator refused these rows (their batch was split first)
        state.metrics.input_errors.labels(served.name, exc.reason).inc()
        state.router.count(route, "server_errors")  # the model's failure, not the caller's
        raise
    except Exception:
        state.metrics.server_errors.labels(served.name).inc()
        state.router.count(route, "server_errors")
        raise
    if route.shadow is not None:
        state.shadow(route.shadow, route, parsed, answer.prediction_ids, routing_key)
    out: dict[str, Any] = {
        "predictions": answer.predictions,
        "prediction_ids": answer.prediction_ids,
        "model": served.name,
        "version": served.number,
    }
    if parsed.want_proba:
        out["probabilities"] = answer.probabilities
        out["classes"] = served.class_list
    predictions, duration = served.request_metrics(arm)
    predictions.inc(parsed.rows)
    duration.observe(time.perf_counter() - received)  # the prediction's latency, explaining excluded
    if parsed.want_explanations:
        out["explanations"] = await state.explanations.explain(
            served,
            columns,
            answer.predictions,
            all_classes=parsed.explain_all_classes,
            log_ids=answer.prediction_ids if state.ws.settings.log.explanations else None,
        )
    return orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY)


class PredictPath:
    """ASGI middleware answering the two predict paths without FastAPI's routing (see module doc)."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == "/invocations":
            model: str | None = None
        elif path.startswith(_PREFIX) and path.endswith(_SUFFIX) and len(path) > len(_PREFIX) + len(_SUFFIX):
            model = path[len(_PREFIX) : -len(_SUFFIX)]
            if "/" in model:
                await self.app(scope, receive, send)
                return
        else:
            await self.app(scope, receive, send)
            return
        received = time.perf_counter()
        status, body = 200, b""
        try:
            body = await self._answer(model, scope, receive, received)
        except ClientGoneError:
            return
        except ModelwardError as exc:
            if exc.status_code >= 500:
                log.warning("%s: %s", exc.code, exc.message)
            status, body = exc.status_code, error_body(exc.code, exc.message, exc.details)
        except Exception as exc:
            log.exception("unhandled error")
            status = 500
            body = error_body("internal_error", f"Internal error ({type(exc).__name__}); see the server log.")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, model: str | None, scope: Scope, receive: Receive, received: float) -> bytes:
        state = self.state
        name = default_model(state) if model is None else model
        served = await state.cache.get(name)
        raw, headers = await read_request(state, served, scope, receive)
        return await answer_predict(state, served, raw, headers, received, arm_of(name))


async def read_request(
    state: ServerState, served: ServedModel, scope: Scope, receive: Receive
) -> tuple[bytes, Headers]:
    """The body of a predict request, at most ``serve.max_body_bytes`` (a larger one is refused and
    counted as an input error), and its headers."""
    headers = request_headers(scope)
    try:
        raw = await read_body(receive, state.settings.max_body_bytes, headers.content_length)
    except InputError as exc:
        state.metrics.input_errors.labels(served.name, exc.reason).inc()
        raise
    return raw, headers
