"""The Alertmanager trigger: firing alerts that name a model ask the loop to retrain it.

Alertmanager posts groups of alerts (webhook payload version 4); the label ``hooks.model_label`` (``model``
by default) of each firing alert names the model. The whole group is checked before anything is done: a
firing alert without that label, or naming a model that is not declared or has no champion, refuses the
request (a 4xx naming the alert and the fix). Then each named model gets **one** requested trigger of kind
``alert``, its alerts as evidence, through the manual trigger's path
(:func:`~modelward.maintenance.trigger_jobs.request_retrain`, never forced): a job is opened unless one is active,
the cooldown runs or labeled rows are too few, and the decision is an event either way. Alertmanager
repeats a firing alert every ``repeat_interval``, and a rule may fire for many series at once: inside the
cooldown they all make one job. Resolved alerts are ignored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelward.errors import ModelwardError, NotFoundError
from modelward.maintenance.policies import Signal
from modelward.maintenance.trigger_jobs import Requested, request_retrain, utcnow
from modelward.workspace import Workspace

__all__ = ["Alert", "AlertError", "AlertOutcome", "AlertsReceived", "receive_alerts"]

_EVIDENCE_ALERTS = 20  # alerts kept in a trigger's evidence (the count is kept in full)


class AlertError(ModelwardError):
    """A firing alert cannot be acted on (it names no model): the request is refused, nothing done."""

    code = "invalid_alert"
    status_code = 422


@dataclass(frozen=True)
class Alert:
    """One alert of an Alertmanager group, as the webhook carries it."""

    status: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)
    starts_at: str | None = None
    fingerprint: str | None = None
    generator_url: str | None = None

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "(no alertname)")

    def to_dict(self) -> dict[str, Any]:
        return {
            "alertname": self.name,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "starts_at": self.starts_at,
            "fingerprint": self.fingerprint,
            "generator_url": self.generator_url,
        }


@dataclass(frozen=True)
class AlertOutcome:
    """What one model's alerts did: the requested trigger's answer."""

    model: str
    alerts: int
    requested: Requested


@dataclass(frozen=True)
class AlertsReceived:
    """The answer to one webhook: an outcome per named model; how many resolved alerts were ignored."""

    outcomes: list[AlertOutcome]
    resolved: int

    @property
    def started(self) -> bool:
        return any(o.requested.job is not None for o in self.outcomes)


def receive_alerts(
    ws: Workspace,
    alerts: Sequence[Alert],
    *,
    label: str,
    actor: str,
    context: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> AlertsReceived:
    """Act on a group of alerts (see the module docstring). ``context``: the group's fields kept with the
    evidence (receiver, groupKey, externalURL)."""
    now = now or utcnow()
    firing = [a for a in alerts if a.status == "firing"]
    outcomes = [
        AlertOutcome(
            model,
            len(group),
            request_retrain(
                ws, model, actor=actor, now=now, signal=_signal(model, group, context or {}, now)
            ),
        )
        for model, group in _by_model(ws, firing, label).items()
    ]
    return AlertsReceived(outcomes, resolved=len(alerts) - len(firing))


def _by_model(ws: Workspace, firing: Sequence[Alert], label: str) -> dict[str, list[Alert]]:
    """Firing alerts grouped by the model they name; every one checked before any is acted on."""
    groups: dict[str, list[Alert]] = {}
    for i, alert in enumerate(firing):
        model = alert.labels.get(label)
        if not model:
            raise AlertError(
                f"Firing alert {i + 1} of {len(firing)} ({alert.name}, fingerprint {alert.fingerprint}) has no "
                f"{label!r} label, so it names no model to retrain. Add `labels: {{{label}: NAME}}` to the "
                "Prometheus rule (or set hooks.model_label to the label that names the model). Nothing was done.",
                details={"alert": alert.to_dict(), "label": label},
            )
        groups.setdefault(model, []).append(alert)
    for model in groups:
        _check_model(ws, model, groups[model][0], label)
    return groups


def _check_model(ws: Workspace, model: str, alert: Alert, label: str) -> None:
    if model not in ws.settings.models:
        declared = ", ".join(sorted(ws.settings.models)) or "none"
        raise NotFoundError(
            f"Alert {alert.name} names model {model!r} (label {label!r}), which is not declared in "
            f"modelward.yaml (declared: {declared}). Fix the rule's label or declare the model. Nothing was done.",
            details={"model": model, "label": label},
        )
    try:
        ws.registry.get(model, "champion")
    except NotFoundError as exc:
        raise NotFoundError(
            f"Alert {alert.name} names model {model!r}, which has no champion yet: there is nothing to "
            "retrain. Promote a version first (modelward models promote). Nothing was done.",
            details={"model": model},
        ) from exc


def _signal(model: str, group: Sequence[Alert], context: Mapping[str, Any], now: dt.datetime) -> Signal:
    names = sorted({a.name for a in group})
    summary = group[0].annotations.get("summary") or group[0].annotations.get("description")
    reason = (
        f"Alertmanager: {', '.join(names)} firing for {model}"
        + (f" ({len(group)} alerts)" if len(group) > 1 else "")
        + (f": {summary}" if summary else "")
    )
    evidence = {
        **{k: v for k, v in context.items() if v is not None},
        "alert_count": len(group),
        "alerts": [a.to_dict() for a in group[:_EVIDENCE_ALERTS]],
    }
    return Signal("alert", f"alert:{now.isoformat()}", reason, evidence)
