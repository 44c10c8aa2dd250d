"""The in-memory table of served models, and hot reload.

The request path never touches the database: ``(name, ref) → ServedModel`` is a dict
lookup. A miss (a version or alias not asked for before) is resolved once, off the event
loop, and remembered, including "no such model" answers. A background task polls the
registry's change mark every ``serve.reload_poll_seconds``; when it moves, every served
reference is resolved again, new versions are loaded *before* the swap, and the table is
replaced in one assignment. Requests already holding the old
:class:`~modelward.server.served.ServedModel` finish on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from modelward.errors import DatabaseUnavailableError, ModelwardError, NotFoundError
from modelward.predlog import PredictionLog
from modelward.refs import parse_ref
from modelward.registry import ModelVersion
from modelward.rollouts import Rollout
from modelward.server.metrics import Metrics
from modelward.server.served import ServedModel
from modelward.workspace import Workspace

__all__ = ["DEFAULT_ALIAS", "ModelCache", "ModelUnavailableError", "Ref"]

log = logging.getLogger(__name__)

DEFAULT_ALIAS = "champion"
Ref = int | str


class ModelUnavailableError(ModelwardError):
    """A model the server should serve could not be loaded (tampered artifact, missing type, …)."""

    code = "model_unavailable"
    status_code = 503


class ModelCache:
    """``(name, ref) → ServedModel``, kept current by :meth:`poll`."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        executor: Executor,
        metrics: Metrics,
        predlog: PredictionLog | None,
        loader: Callable[[ModelVersion], Any] | None = None,
    ) -> None:
        self.ws = workspace
        self.settings = workspace.settings.serve
        self.executor = executor
        self.metrics = metrics
        self.predlog = predlog
        self.loader = loader or workspace.load_model
        self.table: dict[tuple[str, Ref], ServedModel] = {}
        self.misses: dict[tuple[str, Ref], ModelwardError] = {}
        self.mark: int | None = None
        self.ready = False
        # References that should be served but whose version failed to load: why, by key.
        self.failed: dict[tuple[str, Ref], ModelUnavailableError] = {}
        # Active rollouts by model: the rollout and its challenger, loaded (read by the Router).
        self.rollouts: dict[str, tuple[Rollout, ServedModel]] = {}
        self._lock = asyncio.Lock()

    # -- lookups --------------------------------------------------------------------------

    async def get(self, model: str) -> ServedModel:
        """The model answering ``NAME``, ``NAME@ALIAS`` or ``NAME@VERSION`` (default alias: champion)."""
        name, ref = parse_ref(model, "model name")
        key = (name, DEFAULT_ALIAS if ref is None else ref)
        served = self.table.get(key)
        if served is not None:
            return served
        miss = self.misses.get(key)
        if miss is not None:
            raise miss
        async with self._lock:
            if key not in self.table and key not in self.misses:
                await self._resolve_into(key)
        if key in self.misses:
            raise self.misses[key]
        return self.table[key]

    def served(self) -> list[tuple[str, Ref, ServedModel]]:
        return [(name, ref, s) for (name, ref), s in sorted(self.table.items(), key=lambda kv: str(kv[0]))]

    # -- loading ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the champion of every model (the initial table)."""
        async with self._lock:
            self.mark = await asyncio.to_thread(self.change_mark)
            await self._rebuild()
        self.ready = True

    async def _resolve_into(self, key: tuple[str, Ref]) -> None:
        try:
            version = await asyncio.to_thread(self.ws.registry.get, *key)
            served = await self._load(key, version, {})
        except DatabaseUnavailableError:
            raise  # an outage is not remembered: the next request tries again
        except ModelwardError as exc:
            self.misses[key] = exc  # remembered until the next reload: never a load per request
            return
        self.table = {**self.table, key: served}
        self._announce(key, None, served)

    def unavailable(self) -> dict[str, ModelUnavailableError]:
        """References that should be served and have no loaded version (load failed), by ``NAME@REF``."""
        return {
            f"{name}@{ref}": exc for (name, ref), exc in self.failed.items() if (name, ref) not in self.table
        }

    def degraded(self) -> dict[str, ModelUnavailableError]:
        """References whose new version failed to load while an older one keeps serving."""
        return {f"{name}@{ref}": exc for (name, ref), exc in self.failed.items() if (name, ref) in self.table}

    async def _load(
        self, key: tuple[str, Ref], version: ModelVersion, pool: dict[tuple[str, int], ServedModel]
    ) -> ServedModel:
        """:meth:`_served`, with a failure to load turned into a :class:`ModelUnavailableError`."""
        try:
            return await self._served(version, pool)
        except Exception as exc:  # a model that fails to load must not take the others down
            reason = exc.message if isinstance(exc, ModelwardError) else f"{type(exc).__name__}: {exc}"
            log.error("could not load %s (for %s@%s): %s", version.ref, key[0], key[1], reason, exc_info=exc)
            raise ModelUnavailableError(
                f"{key[0]}@{key[1]} is {version.ref}, which could not be loaded: {reason} Fix the artifact, "
                f"or point the alias elsewhere (modelward models rollback {key[0]}).",
                details={"model": key[0], "ref": str(key[1]), "version": version.version, "reason": reason},
            ) from exc

    async def _served(self, version: ModelVersion, pool: dict[tuple[str, int], ServedModel]) -> ServedModel:
        existing = pool.get((version.name, version.version))
        if existing is None:
            loaded = [*self.table.values(), *(s for _r, s in self.rollouts.values())]
            existing = next(
                (s for s in loaded if (s.name, s.number) == (version.name, version.version)),
                None,
            )
        if existing is not None:
            return existing
        estimator = await asyncio.to_thread(self.loader, version)
        served = await asyncio.to_thread(
            ServedModel,
            version,
            estimator,
            self.settings,
            executor=self.executor,
            metrics=self.metrics,
            predlog=self.predlog,
        )
        log.info("loaded %s", version.ref)
        return served

    async def _rebuild(self) -> None:
        """Resolve every served reference plus every model's champion again; swap in one step."""
        infos = await asyncio.to_thread(self.ws.registry.list_models)
        keys: set[tuple[str, Ref]] = set(self.table)
        keys |= {(info.name, DEFAULT_ALIAS) for info in infos if DEFAULT_ALIAS in info.aliases}
        new: dict[tuple[str, Ref], ServedModel] = {}
        pool: dict[tuple[str, int], ServedModel] = {}
        failed: dict[tuple[str, Ref], ModelUnavailableError] = {}
        for key in sorted(keys, key=str):
            try:
                version = await asyncio.to_thread(self.ws.registry.get, *key)
            except NotFoundError:
                continue  # alias removed: no longer served
            except DatabaseUnavailableError:
                raise  # abandon this reload (the poll retries it), never half-apply it
            except ModelwardError:
                log.exception("could not resolve %s@%s; keeping the current version", *key)
                if key in self.table:
                    new[key] = self.table[key]
                continue
            try:
                served = await self._load(key, version, pool)
            except ModelUnavailableError as exc:
                failed[key] = exc
                if key in self.table:
                    log.warning("%s@%s keeps serving %s", key[0], key[1], self.table[key].version.ref)
                    new[key] = self.table[key]
                continue
            pool[(served.name, served.number)] = served
            new[key] = served
        rollouts = await self._load_rollouts(pool)
        old, self.table = self.table, new
        self.rollouts = rollouts
        self.failed = failed
        self.misses = {key: exc for key, exc in failed.items() if key not in new}
        for key in set(old) | set(new):
            if old.get(key) is not new.get(key):
                self._announce(key, old.get(key), new.get(key))

    async def _load_rollouts(
        self, pool: dict[tuple[str, int], ServedModel]
    ) -> dict[str, tuple[Rollout, ServedModel]]:
        """Every active rollout with its challenger loaded; one whose challenger cannot be loaded is not
        routed (the champion answers everything) and says so in the log."""
        active = await asyncio.to_thread(self.ws.rollouts.all_active)
        out: dict[str, tuple[Rollout, ServedModel]] = {}
        for rollout in active:
            key = (rollout.model, rollout.challenger_version)
            try:
                version = await asyncio.to_thread(self.ws.registry.get, *key)
                served = await self._load(key, version, pool)
            except DatabaseUnavailableError:
                raise  # abandon this reload, never half-apply it
            except ModelwardError as exc:
                log.error("rollout %d of %s is not routed: %s", rollout.id, rollout.model, exc.message)
                continue
            pool[key] = served
            out[rollout.model] = (rollout, served)
            before = self.rollouts.get(rollout.model)
            if before is None or (before[0].id, before[0].step) != (rollout.id, rollout.step):
                log.info(
                    "%s: rollout %d (%s) routes %s to v%d",
                    rollout.model,
                    rollout.id,
                    rollout.mode,
                    "a shadow copy of every request" if rollout.mode == "shadow" else f"{rollout.share:.0%}",
                    rollout.challenger_version,
                )
        return out

    def _announce(self, key: tuple[str, Ref], old: ServedModel | None, new: ServedModel | None) -> None:
        alias = str(key[1]) if isinstance(key[1], str) else f"v{key[1]}"
        if old is not None:
            self.metrics.served(old.name, old.number, alias, False)
        if new is not None:
            self.metrics.served(new.name, new.number, alias, True)
            if old is not None:
                log.info("%s@%s: now version %d (was %d)", key[0], alias, new.number, old.number)

    # -- hot reload -------------------------------------------------------------------------

    def change_mark(self) -> int:
        """The registry's change counter (:meth:`~modelward.registry.Registry.change_mark`)."""
        return self.ws.registry.change_mark()

    async def refresh(self, *, force: bool = False) -> bool:
        """Reload if the registry changed since the last look; whether it did."""
        mark = await asyncio.to_thread(self.change_mark)
        if mark == self.mark and not force:
            return False
        async with self._lock:
            await self._rebuild()
            self.mark = mark
        self.metrics.reloads.inc()
        return True

    async def poll(self) -> None:
        """Run :meth:`refresh` every ``reload_poll_seconds`` until cancelled."""
        failing = False
        while True:
            await asyncio.sleep(self.settings.reload_poll_seconds)
            try:
                await self.refresh()
            except DatabaseUnavailableError as exc:  # keep serving what is loaded
                if not failing:  # once per outage, not every poll: an outage must not flood the log
                    log.warning(
                        "registry poll failed (%s); serving the loaded models until it is back", exc.reason
                    )
                failing = True
            except Exception:  # a bug, not an outage: its traceback, and keep serving and polling
                log.exception("registry poll failed with an unexpected error; serving the loaded models")
            else:
                if failing:
                    log.info("registry reachable again; hot reload resumes")
                failing = False
            if self.predlog is not None:
                self.metrics.log_queue_depth.set(self.predlog.queue_depth)
                self.metrics.log_spool_bytes.set(self.predlog.spool_bytes)
