"""Incoming webhooks: ``POST /v1/hooks/alertmanager`` turns Alertmanager's firing alerts into the loop's
``alert`` trigger (:mod:`modelward.maintenance.alerts`).

The body is Alertmanager's webhook payload, version 4, read like every body here (JSON whatever the
content type, at most ``serve.max_body_bytes``); another version or shape is a 422 in the one error shape.
The bearer token is ``hooks.token``, not the admin token: the token Alertmanager's configuration holds
can ask for retraining and nothing else. No ``Authorization`` header is 401; a wrong token, or hooks off
(no token configured), is 403. The answer is 202 when a job was opened, else 200 with why none was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from modelward.server.admin import bearer_authorizer
from modelward.server.bodies import JsonBody, request_body_doc
from modelward.server.schemas import ErrorResponse, RetrainJobOut
from modelward.server.throttle import FailedAttempts
from modelward.workspace import Workspace

if TYPE_CHECKING:  # the loop is imported on first use: it costs seconds at the server's start
    from modelward.maintenance.alerts import Alert, AlertsReceived

__all__ = ["AlertmanagerPayload", "hooks_router"]

ACTOR = "hook:alertmanager"


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL characters are not accepted in alert texts")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
"""Any text, but NUL (which no database stores in JSON text)."""


class AlertIn(BaseModel):
    """One alert of the group (Alertmanager's fields; others are ignored)."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[Text, Text] = Field(max_length=200)
    annotations: dict[Text, Text] = Field(default_factory=dict, max_length=200)
    startsAt: Text | None = None  # noqa: N815 - Alertmanager's names
    endsAt: Text | None = None  # noqa: N815
    generatorURL: Text | None = None  # noqa: N815
    fingerprint: Text | None = Field(None, max_length=200)


class AlertmanagerPayload(BaseModel):
    """Alertmanager's webhook body, version 4 (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config)."""

    model_config = ConfigDict(extra="ignore")

    version: Literal["4"] = Field(description="The payload version; modelward reads version 4.")
    status: Literal["firing", "resolved"]
    alerts: list[AlertIn] = Field(max_length=10_000)
    receiver: Text | None = None
    groupKey: Text | None = None  # noqa: N815
    truncatedAlerts: int | None = None  # noqa: N815
    groupLabels: dict[Text, Text] = Field(default_factory=dict)  # noqa: N815
    commonLabels: dict[Text, Text] = Field(default_factory=dict)  # noqa: N815
    commonAnnotations: dict[Text, Text] = Field(default_factory=dict)  # noqa: N815
    externalURL: Text | None = None  # noqa: N815


class HookResult(BaseModel):
    model: str
    alerts: int = Field(description="Firing alerts that named this model.")
    started: bool = Field(description="A job was opened; false: see reason and suppressed_by.")
    reason: str
    suppressed_by: str | None = Field(None, description="active_job, cooldown or labels when not started.")
    job: RetrainJobOut | None = Field(None, description="The job opened, or the model's active job.")


class HookResponse(BaseModel):
    results: list[HookResult] = Field(description="One per model named by a firing alert.")
    resolved_ignored: int = Field(description="Resolved alerts in the group (ignored).")


_EXAMPLE = (
    '{"version": "4", "status": "firing", "alerts": [{"status": "firing", '
    '"labels": {"alertname": "CreditDrift", "model": "credit"}}]}'
)
PayloadBody = Annotated[AlertmanagerPayload, Depends(JsonBody(AlertmanagerPayload, _EXAMPLE))]


def _authorizer(workspace: Workspace) -> Callable[[Request], None]:
    """``Authorization: Bearer <hooks.token>`` (the admin token is not accepted: a hook may only ask)."""
    return bearer_authorizer(
        workspace.settings.hooks.token,
        missing="Webhooks need 'Authorization: Bearer <hooks.token>' (Alertmanager: http_config.authorization).",
        malformed="Send the hooks token as 'Authorization: Bearer <hooks.token>'.",
        disabled="Webhooks are off: no hooks.token is configured (set MODELWARD_HOOKS__TOKEN or hooks.token "
        "in modelward.yaml).",
        wrong="The hooks token is wrong (hooks.token).",
        attempts=FailedAttempts(),
    )


def hooks_router(workspace: Workspace) -> APIRouter:
    errors: dict[int | str, dict[str, Any]] = {
        401: {"model": ErrorResponse, "description": "No bearer token."},
        403: {"model": ErrorResponse, "description": "Wrong token, or hooks off (no hooks.token)."},
        429: {
            "model": ErrorResponse,
            "description": "Too many wrong tokens from this address lately (Retry-After).",
        },
        404: {
            "model": ErrorResponse,
            "description": "An alert names an undeclared model, or one with no champion.",
        },
        413: {"model": ErrorResponse, "description": "Body too large (serve.max_body_bytes)."},
        422: {
            "model": ErrorResponse,
            "description": "Not an Alertmanager version 4 payload, or a firing alert names no model.",
        },
    }
    router = APIRouter(
        prefix="/v1/hooks", tags=["hooks"], dependencies=[Depends(_authorizer(workspace))], responses=errors
    )
    label = workspace.settings.hooks.model_label

    @router.post(
        "/alertmanager",
        response_model=HookResponse,
        status_code=202,
        summary="Alertmanager webhook: firing alerts ask the loop to retrain the model they name",
        responses={200: {"model": HookResponse, "description": "No job opened: see each result's reason."}},
        openapi_extra=request_body_doc({"$ref": "#/components/schemas/AlertmanagerPayload"}),
    )
    async def alertmanager(body: PayloadBody, response: Response) -> HookResponse:
        from modelward.maintenance.alerts import receive_alerts

        received = await asyncio.to_thread(
            receive_alerts,
            workspace,
            [_alert(a) for a in body.alerts],
            label=label,
            actor=ACTOR,
            context={"receiver": body.receiver, "group_key": body.groupKey, "external_url": body.externalURL},
        )
        if not received.started:
            response.status_code = 200
        return _answer(received)

    return router


def _alert(a: AlertIn) -> Alert:
    from modelward.maintenance.alerts import Alert

    return Alert(a.status, a.labels, a.annotations, a.startsAt, a.fingerprint, a.generatorURL)


def _answer(received: AlertsReceived) -> HookResponse:
    results = []
    for outcome in received.outcomes:
        asked = outcome.requested
        job = asked.job or asked.active
        results.append(
            HookResult(
                model=outcome.model,
                alerts=outcome.alerts,
                started=asked.job is not None,
                reason=asked.decision.reason,
                suppressed_by=asked.decision.suppressed_by,
                job=None if job is None else RetrainJobOut(**job.summary()),
            )
        )
    return HookResponse(results=results, resolved_ignored=received.resolved)
