"""Admin endpoints: promote and roll back aliases, request a retrain job, start, see and abort rollouts
(:mod:`modelward.server.admin_rollouts`), behind a bearer token.

Bodies are JSON whatever the content type (``curl -d`` sends a form type), at most
``serve.max_body_bytes``. The token is ``settings.admin_token``; it is compared in constant time. No
``Authorization`` header is 401, a wrong token (or admin disabled: no token configured) is
403. Changes go through the registry, so they are recorded as events exactly like the CLI's,
with the actor ``api:NAME``; the server reloads at once instead of waiting for its poll. A retrain request
is the loop's manual trigger: 202 with the job it opened, or 200 with why none was (a job is already
active, the cooldown runs, too few labels); the loop running with the server picks the job up.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import SecretStr

from modelward.errors import ModelwardError, NotFoundError
from modelward.registry import AliasChange, Registry
from modelward.server.admin_rollouts import add_rollout_routes
from modelward.server.bodies import JsonBody, request_body_doc
from modelward.server.schemas import (
    AdminChange,
    ErrorResponse,
    PromoteRequest,
    RetrainJobOut,
    RetrainRequest,
    RetrainResponse,
    RollbackRequest,
)
from modelward.server.throttle import FailedAttempts
from modelward.workspace import Workspace

__all__ = ["AuthError", "ForbiddenError", "admin_router", "bearer_authorizer", "client_address", "retrain_of"]


class AuthError(ModelwardError):
    code = "unauthorized"
    status_code = 401


class ForbiddenError(ModelwardError):
    code = "forbidden"
    status_code = 403


PromoteBody = Annotated[PromoteRequest, Depends(JsonBody(PromoteRequest, '{"version": 2, "reason": "..."}'))]
RollbackBody = Annotated[RollbackRequest, Depends(JsonBody(RollbackRequest, '{"reason": "..."}'))]
RetrainBody = Annotated[
    RetrainRequest, Depends(JsonBody(RetrainRequest, '{"reason": "...", "force": false}'))
]


def bearer_authorizer(
    secret: SecretStr | None,
    *,
    missing: str,
    malformed: str,
    disabled: str,
    wrong: str,
    attempts: FailedAttempts | None = None,
) -> Callable[[Request], None]:
    """The dependency checking ``Authorization: Bearer <secret>`` in constant time: 401 with ``missing`` or
    ``malformed`` when no bearer token is sent, 403 with ``disabled`` when no secret is configured and with
    ``wrong`` when it does not match; with ``attempts``, a client that sent too many wrong tokens lately gets
    429 instead (:mod:`modelward.server.throttle`). Admin endpoints and webhooks use it, each with its own
    secret."""
    expected = secret.get_secret_value().encode() if secret is not None else None

    def authorize(request: Request) -> None:
        header = request.headers.get("authorization")
        if header is None:
            raise AuthError(missing, details={"www_authenticate": "Bearer"})
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise AuthError(malformed)
        if expected is None:
            raise ForbiddenError(disabled)
        client = client_address(request)
        if attempts is not None:
            attempts.check(client)
        if not hmac.compare_digest(given.strip().encode(), expected):
            if attempts is not None:
                attempts.failed(client)
            raise ForbiddenError(wrong)

    return authorize


def client_address(request: Request) -> str:
    """The address a request came from (the peer's; behind a proxy, the proxy's unless uvicorn is told to
    trust its forwarded headers)."""
    return request.client.host if request.client is not None else "unknown"


def _authorizer(workspace: Workspace, attempts: FailedAttempts) -> Callable[[Request], None]:
    """The dependency checking ``Authorization: Bearer <admin_token>``."""
    return bearer_authorizer(
        workspace.settings.admin_token,
        attempts=attempts,
        missing="Admin endpoints need 'Authorization: Bearer <admin_token>'.",
        malformed="Send the admin token as 'Authorization: Bearer <admin_token>'.",
        disabled="Admin endpoints are disabled: no admin_token is configured "
        "(set MODELWARD_ADMIN_TOKEN or admin_token in modelward.yaml).",
        wrong="The admin token is wrong.",
    )


def admin_router(
    workspace: Workspace, on_change: Callable[[], Awaitable[object]], attempts: FailedAttempts | None = None
) -> APIRouter:
    """The admin endpoints; ``attempts``: the wrong admin tokens counted (shared with the console's sign-in)."""
    authorize = _authorizer(workspace, attempts or FailedAttempts())
    errors: dict[int | str, dict[str, object]] = {
        401: {"model": ErrorResponse, "description": "No bearer token."},
        403: {"model": ErrorResponse, "description": "Wrong token, or admin disabled."},
        429: {
            "model": ErrorResponse,
            "description": "Too many wrong tokens from this address lately (Retry-After).",
        },
        404: {"model": ErrorResponse, "description": "No such model or version."},
        409: {"model": ErrorResponse, "description": "Nothing to roll back to."},
    }
    router = APIRouter(
        prefix="/v1/admin", tags=["admin"], dependencies=[Depends(authorize)], responses=errors
    )

    def registry(actor: str | None) -> Registry:
        return Registry(workspace.store, f"api:{actor or 'admin'}")

    async def done(change: AliasChange, model: str) -> AdminChange:
        await on_change()
        return AdminChange(
            model=model,
            alias=change.alias,
            from_version=change.from_version,
            to_version=change.to_version,
            actor=change.actor,
            reason=change.reason,
            kind=change.kind,
        )

    @router.post(
        "/models/{name}/promote",
        response_model=AdminChange,
        summary="Point an alias at a version",
        openapi_extra=request_body_doc({"$ref": "#/components/schemas/PromoteRequest"}),
    )
    async def promote(name: str, body: PromoteBody) -> AdminChange:
        change = await asyncio.to_thread(
            registry(body.actor).promote, name, body.version, alias=body.alias, reason=body.reason
        )
        return await done(change, name)

    @router.post(
        "/models/{name}/rollback",
        response_model=AdminChange,
        summary="Return an alias to its previous version",
        openapi_extra=request_body_doc({"$ref": "#/components/schemas/RollbackRequest"}),
    )
    async def rollback(name: str, body: RollbackBody) -> AdminChange:
        change = await asyncio.to_thread(
            registry(body.actor).rollback, name, alias=body.alias, reason=body.reason
        )
        return await done(change, name)

    _add_retrain(router, workspace)
    add_rollout_routes(router, workspace, on_change)
    return router


def _add_retrain(router: APIRouter, workspace: Workspace) -> None:
    """``POST /v1/admin/models/{name}/retrain``: the loop's manual trigger."""

    @router.post(
        "/models/{name}/retrain",
        response_model=RetrainResponse,
        status_code=202,
        summary="Request a retrain job (the loop's manual trigger)",
        responses={200: {"model": RetrainResponse, "description": "No job opened: see reason."}},
        openapi_extra=request_body_doc(RetrainRequest.model_json_schema()),
    )
    async def retrain(name: str, body: RetrainBody, response: Response) -> RetrainResponse:
        answer = await asyncio.to_thread(retrain_of, workspace, name, body, f"api:{body.actor or 'admin'}")
        if not answer.started:
            response.status_code = 200
        return answer


def retrain_of(workspace: Workspace, name: str, body: RetrainRequest, actor: str) -> RetrainResponse:
    """The loop's manual trigger for ``name`` (the admin endpoint's and the web console's action): the job it
    opened, or why none was."""
    from modelward.maintenance.loop import request_retrain

    if name not in workspace.settings.models:
        raise NotFoundError(
            f"Model {name!r} is not declared in modelward.yaml, so the loop cannot retrain it.",
            details={"model": name},
        )
    asked = request_retrain(workspace, name, actor=actor, reason=body.reason, force=body.force)
    job = asked.job or asked.active
    return RetrainResponse(
        started=asked.job is not None,
        reason=asked.decision.reason,
        suppressed_by=asked.decision.suppressed_by,
        job=None if job is None else RetrainJobOut(**job.summary()),
    )
