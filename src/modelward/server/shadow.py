"""Shadow scoring: the challenger of a shadow rollout scores a copy of each request off the request path.

The caller has its champion answer before the copy is even submitted; the copy goes through the
challenger's own validator and micro-batcher and is logged under the arm ``shadow``. Its prediction ids
are the champion's with the UUID version nibble turned from 7 to 8
(:func:`modelward.rollouts.shadow_twin`), so the feedback a caller sends for the champion's prediction
labels the shadow's too. A copy that fails counts against the challenger (an input error, or a server
error when the challenger's model refused rows the champion took) and never reaches the caller.
"""

from __future__ import annotations

import asyncio
import logging
import time

from modelward.rollouts import shadow_twin
from modelward.server.metrics import Metrics
from modelward.server.routing import Route, Router
from modelward.server.served import Job, ServedModel
from modelward.server.validation import InputError, ParsedRequest

__all__ = ["ShadowScorer"]

log = logging.getLogger(__name__)

SHADOW_ARM = "shadow"


class ShadowScorer:
    """Schedules shadow copies as background tasks (kept referenced until they finish)."""

    def __init__(self, router: Router, metrics: Metrics) -> None:
        self.router = router
        self.metrics = metrics
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(
        self,
        challenger: ServedModel,
        route: Route,
        parsed: ParsedRequest,
        champion_ids: list[str],
        routing_key: str | None,
    ) -> None:
        task = asyncio.get_running_loop().create_task(
            self._score(challenger, route, parsed, champion_ids, routing_key)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _score(
        self,
        challenger: ServedModel,
        route: Route,
        parsed: ParsedRequest,
        champion_ids: list[str],
        routing_key: str | None,
    ) -> None:
        received = time.perf_counter()
        self.router.count(route, "requests", SHADOW_ARM)
        try:
            columns = challenger.validator.validate(parsed)
        except InputError as exc:
            self.metrics.input_errors.labels(challenger.name, exc.reason).inc()
            self.router.count(route, "input_errors", SHADOW_ARM)
            return
        ids = [shadow_twin(pid) for pid in champion_ids]
        try:
            answer = await challenger.batcher.submit(
                Job(columns, parsed.rows, received, SHADOW_ARM, routing_key, ids, parsed.context)
            )
            if answer.logged is not None:
                await answer.logged.wait()
        except Exception as exc:  # the caller has its answer: count it against the challenger, log it
            self.router.count(route, "server_errors", SHADOW_ARM)
            log.warning("shadow copy on %s failed: %s: %s", challenger.version.ref, type(exc).__name__, exc)
            return
        predictions, duration = challenger.request_metrics(SHADOW_ARM)
        predictions.inc(parsed.rows)
        duration.observe(time.perf_counter() - received)

    async def drain(self) -> None:
        """Wait for the copies in flight (at shutdown, before the log closes)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
