"""Which served model answers a request: the seam between the model cache and the micro-batcher.

The cache resolves ``NAME[@REF]`` to the version an alias points at; :class:`Router` then decides, per
request, which version and arm actually answer, from the request's routing key (the ``X-Routing-Key``
header, else the body's ``routing_key``). Without an active rollout the resolved version answers under its
own arm. While a rollout of the model runs (the cache keeps :attr:`ModelCache.rollouts` current: a step,
an abort or a decision reaches every server at its next reload, and a restarted server reads it back),
requests for the champion (``NAME`` or ``NAME@champion``) are split:

* ``canary`` / ``ab``: the challenger answers the rollout's share under the arm ``canary`` /
  ``challenger``, the champion the rest under ``champion``. The arm comes from
  :func:`modelward.routing.assign_arm` with the rollout's salt — the same pure function an offline replay
  calls — so a key keeps its arm across requests, restarts and replicas, and growing a canary keeps every
  key already in it. A request with no routing key is split at random in the same shares.
* ``shadow``: the champion answers every caller; :attr:`Route.shadow` asks for a copy to be scored by the
  challenger off the request path and logged under the arm ``shadow``.

Requests pinned to a version or another alias are never split. The router also counts, per rollout arm,
requests, server errors and input errors (:meth:`Router.count`); the server flushes them to the store
(:meth:`Router.drain`) for the error-budget and input-error guardrails.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from modelward.routing import assign_arm
from modelward.server.cache import DEFAULT_ALIAS, ModelCache
from modelward.server.served import ServedModel

__all__ = ["COUNTS", "Route", "Router"]

COUNTS = ("requests", "server_errors", "input_errors")


@dataclass(frozen=True, slots=True)
class Route:
    """The model that answers a request, the arm it is logged under, a shadow copy (if any), and the
    rollout whose counters the request adds to (if any)."""

    served: ServedModel
    arm: str
    shadow: ServedModel | None = None
    rollout: int | None = None


class Router:
    """Routes each request of a resolved reference to the version and arm that answer it."""

    def __init__(self, cache: ModelCache | None = None) -> None:
        self.cache = cache
        self._counts: dict[tuple[int, str], list[int]] = {}
        self._lock = threading.Lock()

    def route(self, served: ServedModel, arm: str, routing_key: str | None) -> Route:
        """The route of one request for ``served`` (resolved under ``arm``) with ``routing_key``."""
        active = None if self.cache is None or arm != DEFAULT_ALIAS else self.cache.rollouts.get(served.name)
        if active is None:
            return Route(served, arm)
        rollout, challenger = active
        if served.number != rollout.champion_version:
            return Route(served, arm)  # the champion moved and the rollout is being closed
        if rollout.mode == "shadow":
            return Route(served, arm, shadow=challenger, rollout=rollout.id)
        share = rollout.share
        split = [(arm, 1.0 - share), (rollout.arm, share)]
        if assign_arm(routing_key, split, salt=rollout.salt) == arm:
            return Route(served, arm, rollout=rollout.id)
        return Route(challenger, rollout.arm, rollout=rollout.id)

    def count(self, route: Route, what: str, arm: str | None = None) -> None:
        """Add one to ``what`` (one of :data:`COUNTS`) of the route's rollout arm (``arm`` overrides)."""
        if route.rollout is None:
            return
        key = (route.rollout, arm or route.arm)
        with self._lock:
            counts = self._counts.get(key)
            if counts is None:
                counts = self._counts[key] = [0, 0, 0]
            counts[COUNTS.index(what)] += 1

    def restore(self, rows: list[tuple[int, str, int, int, int]]) -> None:
        """Put back counters that could not be stored (the next flush tries again)."""
        with self._lock:
            for rid, arm, *values in rows:
                counts = self._counts.setdefault((rid, arm), [0, 0, 0])
                for i, v in enumerate(values):
                    counts[i] += v

    def drain(self) -> list[tuple[int, str, int, int, int]]:
        """The counters since the last drain, ``(rollout, arm, requests, server_errors, input_errors)``."""
        with self._lock:
            counts, self._counts = self._counts, {}
        return [(rid, arm, *values) for (rid, arm), values in counts.items()]  # type: ignore[misc]
