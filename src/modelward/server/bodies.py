"""Request bodies: read with a size limit, decoded as JSON whatever the content type.

Every endpoint that takes a body reads it here, so ``serve.max_body_bytes`` holds for all of
them (a declared ``Content-Length`` over the limit is refused before a byte is read; a body
that grows past it is refused as soon as it does). Predict bodies are decoded by the hot path;
feedback and admin bodies go through :func:`read_json`, which accepts JSON whatever the
``Content-Type`` says (``curl -d`` sends a form type), exactly as the predict path does, and
validates it against the endpoint's pydantic model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.types import Receive, Scope

from modelward.server.validation import InputError

__all__ = [
    "ClientGoneError",
    "Headers",
    "JsonBody",
    "decode_json",
    "read_body",
    "read_json",
    "request_body_doc",
    "request_headers",
    "too_large",
    "validated",
]

T = TypeVar("T")


class ClientGoneError(Exception):
    """The client disconnected before its body was read."""


class Headers:
    """The few request headers the body readers look at."""

    __slots__ = ("content_length", "content_type", "routing_key")

    def __init__(self) -> None:
        self.content_length: int | None = None
        self.content_type = ""
        self.routing_key: str | None = None


def request_headers(scope: Scope) -> Headers:
    """``Content-Length``, ``Content-Type`` (its media type, lower case) and ``X-Routing-Key``."""
    out = Headers()
    for key, value in scope["headers"]:
        if key == b"content-length" and value.isdigit():
            out.content_length = int(value)
        elif key == b"content-type":
            out.content_type = value.decode("latin-1").partition(";")[0].strip().lower()
        elif key == b"x-routing-key":
            out.routing_key = value.decode("latin-1") or None
    return out


def too_large(size: int, limit: int) -> InputError:
    return InputError(
        f"The request body is {size} bytes or more; at most {limit} are accepted (serve.max_body_bytes). "
        "Send a smaller body (fewer rows or items per request).",
        reason="body_too_large",
        status_code=413,
        details={"max_body_bytes": limit},
    )


async def read_body(receive: Receive, limit: int, declared: int | None) -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed ``limit`` bytes."""
    if declared is not None and declared > limit:
        raise too_large(declared, limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGoneError
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(size, limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def decode_json(raw: bytes, example: str) -> Any:
    """``raw`` parsed as JSON; a 400 naming the problem and an ``example`` body otherwise."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "infinity" in str(exc):  # valid JSON (1e400), but beyond any double
            raise InputError(
                f"The request body holds a number too large for a double ({exc}). Send finite numbers "
                "within float32 range.",
                reason="out_of_range",
            ) from exc
        raise InputError(
            f"The request body is not valid JSON ({exc}). Send a JSON body such as {example}.",
            reason="malformed",
            status_code=400,
        ) from exc


async def read_json(
    request: Request, limit: int, example: str, precheck: Callable[[bytes], None] | None = None
) -> Any:
    """The body of ``request`` parsed as JSON, whatever its content type (too large: 413; not JSON:
    400). ``precheck`` sees the raw bytes first, to refuse cheaply what parsing makes expensive."""
    headers = request_headers(request.scope)
    try:
        raw = await read_body(request.receive, limit, headers.content_length)
    except ClientGoneError as exc:
        raise InputError(
            "The client went away before sending its body.", reason="malformed", status_code=400
        ) from exc
    if precheck is not None:
        precheck(raw)
    return decode_json(raw, example)


def validated(adapter: TypeAdapter[T], data: Any) -> T:
    """``data`` validated by ``adapter``; FastAPI's usual 422 if it is not the expected shape."""
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from exc


class JsonBody(Generic[T]):
    """A FastAPI dependency giving the body as ``model`` (see :func:`read_json`).

    The size limit is the app's ``state.max_body_bytes`` (set by
    :func:`~modelward.server.app.create_app`).
    """

    def __init__(self, model: type[T], example: str) -> None:
        self.adapter = TypeAdapter(model)
        self.example = example

    async def __call__(self, request: Request) -> T:
        data = await read_json(request, request.app.state.max_body_bytes, self.example)
        return validated(self.adapter, data)


def request_body_doc(schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON request body read by hand (FastAPI cannot see it). A pydantic
    schema's nested models (``$defs``) are inlined: ``#/$defs/...`` means nothing inside an OpenAPI document."""
    defs = schema.get("$defs", {})
    body = _inline({k: v for k, v in schema.items() if k != "$defs"}, defs)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": body}}}}


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node
