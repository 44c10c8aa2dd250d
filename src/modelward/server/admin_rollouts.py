"""Admin endpoints of rollouts, behind the admin bearer token: start one, see it, abort it.

``POST /v1/admin/models/{name}/rollout`` starts MODEL@VERSION against the champion as the model's
``loop.rollout`` says (``mode`` and ``steps`` override it) and answers 201; ``immediate`` promotes at once
(200, no rollout). ``GET`` shows the model's active rollout, else its latest one. ``POST
…/rollout/abort`` ends the active rollout: the champion keeps all traffic. Each answers after the server
reloaded, so the next request is already routed as the rollout now says; other replicas follow at their
next poll. The actor is ``api:NAME``, as for every admin change.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import ValidationError

from modelward.errors import ConfigError, NotFoundError
from modelward.loop_settings import RolloutSettings
from modelward.rollouts import Rollout
from modelward.server.bodies import JsonBody, request_body_doc
from modelward.server.schemas import RolloutAbortRequest, RolloutOut, RolloutResponse, RolloutStartRequest
from modelward.workspace import Workspace

__all__ = ["abort_rollout_of", "add_rollout_routes", "start_rollout_of"]

StartBody = Annotated[
    RolloutStartRequest, Depends(JsonBody(RolloutStartRequest, '{"version": 2, "mode": "canary"}'))
]
AbortBody = Annotated[RolloutAbortRequest, Depends(JsonBody(RolloutAbortRequest, '{"reason": "..."}'))]


def _out(rollout: Rollout | None, champion: int) -> RolloutResponse:
    return RolloutResponse(
        rollout=None if rollout is None else RolloutOut(**rollout.summary()), champion=champion
    )


def _declared(ws: Workspace, name: str) -> None:
    if name not in ws.settings.models:
        raise NotFoundError(
            f"Model {name!r} is not declared in modelward.yaml, so it has no rollout settings.",
            details={"model": name},
        )


def _settings(ws: Workspace, name: str, body: RolloutStartRequest) -> RolloutSettings:
    values: dict[str, Any] = ws.model_spec(name).loop.rollout.model_dump()
    values.update({k: v for k, v in (("mode", body.mode), ("steps", body.steps)) if v is not None})
    try:
        return RolloutSettings.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{where}: {first['msg']}", details={"field": where}) from exc


def start_rollout_of(
    workspace: Workspace, name: str, body: RolloutStartRequest, actor: str
) -> RolloutResponse:
    """Start the rollout ``body`` asks for (the admin endpoint's and the web console's action)."""
    from modelward.maintenance.rollout import start_rollout

    _declared(workspace, name)
    rollout = start_rollout(
        workspace,
        name,
        body.version,
        settings=_settings(workspace, name, body),
        actor=actor,
        now=dt.datetime.now(dt.UTC),
        reason=body.reason,
    )
    return _out(rollout, workspace.registry.get(name, "champion").version)


def abort_rollout_of(
    workspace: Workspace, name: str, body: RolloutAbortRequest, actor: str
) -> RolloutResponse:
    """Abort the model's active rollout (the admin endpoint's and the web console's action)."""
    from modelward.maintenance.rollout import abort_rollout

    _declared(workspace, name)
    rollout = abort_rollout(workspace, name, actor=actor, reason=body.reason, now=dt.datetime.now(dt.UTC))
    return _out(rollout, workspace.registry.get(name, "champion").version)


def add_rollout_routes(
    router: APIRouter, workspace: Workspace, on_change: Callable[[], Awaitable[object]]
) -> None:
    """The three rollout endpoints on the admin router."""

    @router.post(
        "/models/{name}/rollout",
        response_model=RolloutResponse,
        status_code=201,
        summary="Roll a version out against the champion (shadow, canary, ab, immediate)",
        responses={200: {"model": RolloutResponse, "description": "mode immediate: promoted at once."}},
        openapi_extra=request_body_doc(RolloutStartRequest.model_json_schema()),
    )
    async def start_rollout_route(name: str, body: StartBody, response: Response) -> RolloutResponse:
        answer = await asyncio.to_thread(
            start_rollout_of, workspace, name, body, f"api:{body.actor or 'admin'}"
        )
        await on_change()
        if answer.rollout is None:
            response.status_code = 200
        return answer

    def status(name: str) -> RolloutResponse:
        _declared(workspace, name)
        latest = workspace.rollouts.active(name) or next(iter(workspace.rollouts.latest(name, limit=1)), None)
        if latest is None:
            raise NotFoundError(f"{name!r} has had no rollout.", details={"model": name})
        return _out(latest, workspace.registry.get(name, "champion").version)

    @router.get(
        "/models/{name}/rollout",
        response_model=RolloutResponse,
        summary="The model's active rollout, else its latest one",
    )
    async def rollout_status(name: str) -> RolloutResponse:
        return await asyncio.to_thread(status, name)

    @router.post(
        "/models/{name}/rollout/abort",
        response_model=RolloutResponse,
        summary="Stop the model's active rollout: the champion keeps all traffic",
        openapi_extra=request_body_doc(RolloutAbortRequest.model_json_schema()),
    )
    async def abort_rollout_route(name: str, body: AbortBody) -> RolloutResponse:
        answer = await asyncio.to_thread(
            abort_rollout_of, workspace, name, body, f"api:{body.actor or 'admin'}"
        )
        await on_change()
        return answer
