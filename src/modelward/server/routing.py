"""Which served model answers a request: the seam between the model cache and the micro-batcher.

The cache resolves ``NAME[@REF]`` to the version an alias points at; :class:`Router` then
decides, per request, which version and arm actually answer, from the request's routing key.
Today every request is answered by the resolved version under its own arm. Progressive
rollouts (shadow, canary, A/B; the loop's part 2) plug in here: the split is assigned by
:func:`modelward.routing.assign_arm`, the same pure function an offline replay calls, so the
live server and the replay agree on every key's arm.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelward.server.served import ServedModel

__all__ = ["Route", "Router"]


@dataclass(frozen=True, slots=True)
class Route:
    """The model that answers a request, the arm it is logged under, and a shadow copy (if any)."""

    served: ServedModel
    arm: str
    shadow: ServedModel | None = None


class Router:
    """Routes each request of a resolved reference to the version and arm that answer it."""

    def route(self, served: ServedModel, arm: str, routing_key: str | None) -> Route:
        """The route of one request for ``served`` (resolved under ``arm``) with ``routing_key``."""
        del routing_key  # no rollout is running: the resolved version answers every key
        return Route(served, arm)
