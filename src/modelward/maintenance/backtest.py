"""``modelward backtest``: try a retraining policy on history before trusting it.

A labeled, time-ordered table is replayed from the model's champion, three times side by side:

* ``never``: the champion serves every row;
* ``scheduled``: from row ``every``, every ``every`` rows, a retrain job with the same data recipe on the labels
  arrived so far, promoted at once without a gate (:class:`~modelward.maintenance.steps.JobRunner` with
  ``gated=False``);
* ``loop``: the live :class:`~modelward.maintenance.Loop` (monitor, triggers, retraining, gate, rollout,
  promotion) with the model's configured policy, a pass every ``loop.interval_seconds`` of simulated time
  (skipped when no row and no label arrived since the last one: it would see what the last one saw).

**Rollouts are replayed** (``loop.rollout``, a canary by default; ``rollout=`` overrides the mode): while
one runs, each arriving row is routed as the server routes a request, by
:func:`modelward.routing.assign_arm` with the rollout's salt and the row's number as its routing key
(``row-I``); the challenger's rows are logged under its arm, a shadow's copies under ``shadow``, and the
live :class:`~modelward.maintenance.rollout.RolloutRunner` decides on the simulated clock from the labels
arrived so far (the always-valid sequential test, the steps, the deadline). A replay has no server, so the
latency, server-error and input-error guardrails have no data: they are left out of its decisions, and
every evaluation says so (:data:`~modelward.maintenance.rollout.NOT_MEASURED`). **Attribution drift** is left
out unless asked for (``attribution=True``): explaining a few hundred rows of every simulated window costs
seconds each for a deep forest, minutes over a replay, so by default the replay's monitor does not compute it
and the ``attribution_drift`` trigger cannot fire in it.

Nothing is reimplemented: both retraining policies run the live job code in process
(:class:`~modelward.maintenance.InProcessTrainer`) on a simulated clock, each on a scratch copy of the workspace
(:meth:`Workspace.scratch`: a temporary database and artifact store; the workspace itself is only read). Row
``i`` arrives at ``t0 + i / rate`` seconds (or at its ``time_column`` value), is scored at arrival by the
version serving then, is logged as the server logs it, and its label arrives ``label_delay`` rows later
(stamped with the simulated time it is delivered). Each version scores the whole table once (in one batch);
a row takes the score of the version that served it.

The results (:class:`BacktestResult`): per policy the prequential metric (accuracy, or MAE for regressors: the
mean over all rows), its curve over blocks of 1,000 rows, retrains (jobs started, failed and rejected
included), promotions (not counting the initial champion), rollbacks and worse promotions (a promotion after
which the promoted version's metric on the next 2,000 labeled rows, which both versions score, is more than
1 point of accuracy below the version it replaced, or its MAE more than 1 % higher), rollout rows (the rows
between a gate's pass and its challenger's promotion, summed over the promotions); and the events (triggers,
gates, rollouts and their steps, promotions, rejections, failures, rollbacks) with the row and simulated
time they happened at.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelward.config import Settings
from modelward.errors import DataError
from modelward.loop_settings import ROLLOUT_MODES
from modelward.maintenance.backtest_replay import (
    T0,
    Replay,
    Scratch,
    Stream,
    make_stream,
)
from modelward.maintenance.loop import Loop, request_retrain
from modelward.maintenance.rollout import NOT_MEASURED
from modelward.maintenance.steps import JobRunner, new_owner
from modelward.maintenance.trainer import InProcessTrainer
from modelward.workspace import Workspace

__all__ = [
    "BLOCK",
    "POLICIES",
    "T0",
    "BacktestResult",
    "PolicyResult",
    "Stream",
    "backtest",
    "make_stream",
    "render_html",
    "rollout_note",
]

log = logging.getLogger(__name__)

POLICIES = ("never", "scheduled", "loop")
BLOCK = 1_000  # rows per point of a curve
AFTER = 2_000  # labeled rows after a promotion on which it is judged worse or not
ACTOR = "backtest"

Progress = Callable[[str, int, int], None]  # (policy, rows done, rows in all)


@dataclass
class PolicyResult:
    """What one policy did: the version that served each row, its jobs and decisions."""

    name: str
    served: np.ndarray[Any, Any]
    metric_values: np.ndarray[Any, Any]  # per row: 1/0 correct, or the absolute error
    retrains: int = 0
    promotions: int = 0
    rollbacks: int = 0
    worse_promotions: int = 0
    rollout_rows: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def value(self) -> float:
        return float(np.mean(self.metric_values)) if len(self.metric_values) else float("nan")

    def curve(self) -> list[list[float]]:
        """``[last_row, value]`` per block of 1,000 rows (the last block may be shorter)."""
        out = []
        for start in range(0, len(self.metric_values), BLOCK):
            block = self.metric_values[start : start + BLOCK]
            out.append([start + len(block), round(float(np.mean(block)), 6)])
        return out


@dataclass
class BacktestResult:
    """The three policies side by side (see the module docstring)."""

    model: str
    champion: int
    metric: str
    rows: int
    policies: dict[str, PolicyResult]

    @property
    def events(self) -> list[dict[str, Any]]:
        merged = [e for p in self.policies.values() for e in p.events]
        return sorted(merged, key=lambda e: (e["row"], POLICIES.index(e["policy"])))

    def to_dict(self) -> dict[str, Any]:
        key = "prequential_accuracy" if self.metric == "accuracy" else "prequential_mae"
        return {
            "policies": {
                name: {
                    key: round(p.value, 6),
                    "retrains": p.retrains,
                    "promotions": p.promotions,
                    "rollbacks": p.rollbacks,
                    "worse_promotions": p.worse_promotions,
                    "rollout_rows": p.rollout_rows,
                    "curve": p.curve(),
                }
                for name, p in self.policies.items()
            },
            "events": self.events,
        }


def rollout_note(ws: Workspace, model: str, rollout: str | None = None) -> str | None:
    """What the replay of the model's rollout leaves out, when it rolls out at all."""
    mode = rollout or ws.model_spec(model).loop.rollout.mode
    if mode == "immediate":
        return None
    return f"the loop's {mode} rollouts are replayed on the simulated clock, but {NOT_MEASURED}"


@contextmanager
def _no_bytecode() -> Iterator[None]:
    """Importing the workspace's training code must not leave ``__pycache__`` in the workspace."""
    before = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        sys.dont_write_bytecode = before


def backtest(
    ws: Workspace,
    model: str,
    frame: pd.DataFrame,
    *,
    label_delay: int = 500,
    every: int = 2_000,
    time_column: str | None = None,
    rate: float = 1.0,
    seed: int = 0,
    policies: Sequence[str] = POLICIES,
    rollout: str | None = None,
    progress: Progress | None = None,
    jobs: int = 1,
    attribution: bool = False,
) -> BacktestResult:
    """Replay ``frame`` from ``model``'s champion under each of ``policies`` (see the module docstring).
    ``ws`` is only read. ``seed`` seeds NumPy's global generator for entrypoints that draw from it.
    ``rollout``: the loop's ``loop.rollout.mode`` in this replay (None: the model's). ``jobs``: policies
    replayed at once, each in a process of its own (the results are the same). ``attribution``: compute the
    attribution drift of every window as the live monitor does (see the module docstring)."""
    unknown = [p for p in policies if p not in POLICIES]
    if unknown or every < 1:
        raise DataError(
            f"policies must be among {', '.join(POLICIES)} and --every >= 1; got {unknown}, {every}"
        )
    ws.model_spec(model)
    if rollout is not None and rollout not in ROLLOUT_MODES:
        raise DataError(f"--rollout must be one of {', '.join(ROLLOUT_MODES)}, got {rollout!r}")
    champion = ws.registry.get(model, "champion")
    stream = make_stream(frame, champion, label_delay=label_delay, time_column=time_column, rate=rate)
    records: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in stream.frame[stream.features].to_dict(orient="records")
    ]
    say = progress or (lambda _p, _d, _n: None)
    with tempfile.TemporaryDirectory(prefix="modelward-backtest-") as tmp, _no_bytecode():
        plans = [_Plan(name, model, rollout, every, seed, Path(tmp) / name) for name in policies]
        settings = ws.settings if attribution else _without_attribution(ws.settings, model)
        if jobs > 1 and len(plans) > 1:
            results = _in_processes(ws, settings, plans, stream, records, say, jobs)
        else:
            results = {}
            for plan in plans:
                with ws.scratch(plan.directory, settings=settings) as copy:
                    results[plan.policy] = plan.run(copy, stream, records, say)
    metric = "accuracy" if champion.task == "classification" else "mae"
    return BacktestResult(model, champion.version, metric, len(stream), {p: results[p] for p in policies})


@dataclass(frozen=True)
class _Plan:
    """One policy's replay: what it runs, and the directory of its scratch copy."""

    policy: str
    model: str
    rollout: str | None
    every: int
    seed: int
    directory: Path

    def run(
        self, copy: Workspace, stream: Stream, records: list[dict[str, Any]], say: Progress
    ) -> PolicyResult:
        np.random.seed(self.seed)
        replay = Replay(Scratch(copy, self.rollout), self.model, stream, records, self.directory / "spool")
        try:
            return _RUNNERS[self.policy](
                replay, self.policy, self.every, _reporter(say, self.policy, len(stream))
            )
        finally:
            replay.close()


def _without_attribution(settings: Settings, model: str) -> Settings:
    """``settings`` with ``model``'s attribution drift off (``monitor.attribution_rows: 0``)."""
    spec = settings.models[model]
    monitor = spec.monitor.model_copy(update={"attribution_rows": 0})
    models = {**settings.models, model: spec.model_copy(update={"monitor": monitor})}
    return settings.model_copy(update={"models": models})


def _in_processes(
    ws: Workspace,
    settings: Settings,
    plans: list[_Plan],
    stream: Stream,
    records: list[dict[str, Any]],
    say: Progress,
    jobs: int,
) -> dict[str, PolicyResult]:
    """The plans in ``jobs`` processes at once (spawned: nothing of this process's connections or threads
    is shared), the longest first; each opens its own scratch copy, made here."""
    copies = []
    for plan in plans:
        with ws.scratch(plan.directory, settings=settings) as copy:
            copies.append((plan, copy.root, copy.settings, copy.artifacts))
    order = sorted(copies, key=lambda c: POLICIES[::-1].index(c[0].policy))
    context = multiprocessing.get_context("spawn")
    messages = context.Manager().Queue()
    results: dict[str, PolicyResult] = {}
    with ProcessPoolExecutor(min(jobs, len(plans)), mp_context=context) as pool:
        futures = {
            pool.submit(_run_child, plan, root, settings, artifacts, stream, records, messages): plan.policy
            for plan, root, settings, artifacts in order
        }
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5)
            while not messages.empty():
                say(*messages.get())
            for future in done:
                results[futures[future]] = future.result()  # a child's error is raised here
    return results


def _run_child(
    plan: _Plan,
    root: Path,
    settings: Settings,
    artifacts: Any,
    stream: Stream,
    records: list[dict[str, Any]],
    messages: Any,
) -> PolicyResult:
    """A plan in a process of its own (:func:`_in_processes`), on the scratch copy made for it."""
    with Workspace.reopen(root, settings, artifacts) as copy, _no_bytecode():
        return plan.run(copy, stream, records, lambda policy, done, n: messages.put((policy, done, n)))


def _reporter(say: Progress, policy: str, total: int) -> Callable[[int], None]:
    return lambda done: say(policy, done, total)


def _never(replay: Replay, name: str, _every: int, say: Callable[[int], None]) -> PolicyResult:
    n = len(replay.stream)
    version = replay.ws.registry.get(replay.model, "champion").version
    say(n)
    return PolicyResult(name, np.full(n, version), replay.scores.values(version, slice(None)))


def _scheduled(replay: Replay, name: str, every: int, say: Callable[[int], None]) -> PolicyResult:
    clock = [replay.stream.times[0].to_pydatetime()]
    runner = JobRunner(
        replay.ws,
        owner=new_owner(),
        clock=lambda: clock[0],
        settings=replay.ws.settings.loop,
        trainer=InProcessTrainer(loaded=replay.ws.remember),
        gated=False,
    )
    events: list[dict[str, Any]] = []
    n = len(replay.stream)
    for mark in range(every, n, every):
        clock[0] = replay.stream.times[mark - 1].to_pydatetime()
        replay.advance(clock[0])
        asked = request_retrain(
            replay.ws,
            replay.model,
            actor=ACTOR,
            reason=f"scheduled: every {every} rows",
            force=True,
            now=clock[0],
            owner=runner.owner,
        )
        if asked.job is not None:
            runner.run(asked.job)
        events += replay.new_events(name)
        say(mark)
    replay.advance(replay.stream.times[-1].to_pydatetime())
    say(n)
    return _finish(replay, name, events)


def _loop(replay: Replay, name: str, _every: int, say: Callable[[int], None]) -> PolicyResult:
    interval = dt.timedelta(seconds=replay.ws.settings.loop.interval_seconds)
    times = replay.stream.times
    clock = [times[0].to_pydatetime()]
    loop = Loop(
        replay.ws,
        models=[replay.model],
        clock=lambda: clock[0],
        trainer=InProcessTrainer(loaded=replay.ws.remember),
        progress=lambda msg: log.debug("%s", msg),
        guardrails=False,  # a replay measures no latency or errors (NOT_MEASURED)
    )
    events: list[dict[str, Any]] = []
    now = times[0].to_pydatetime()
    end = times[-1].to_pydatetime()
    seen = (-1, -1)
    while True:
        clock[0] = now
        replay.advance(now)
        if (replay.arrived, replay.labeled) == seen and now < end:
            now = min(now + interval, end)
            continue  # nothing arrived since the last pass: a pass would see what the last one saw
        seen = (replay.arrived, replay.labeled)
        result = loop.run_once(now)
        if result.errors:
            log.warning("backtest loop pass at row %d: %s", replay.arrived, result.errors)
        if result.decisions or result.jobs or result.rollouts:
            events += replay.new_events(name)
        say(replay.arrived)
        if now >= end:
            break
        now = min(now + interval, end)
    return _finish(replay, name, events)


def _finish(replay: Replay, name: str, events: list[dict[str, Any]]) -> PolicyResult:
    events += replay.new_events(name)
    served = replay.served
    values = np.empty(len(served), dtype=float)
    for version in np.unique(served):
        rows = np.flatnonzero(served == version)
        values[rows] = replay.scores.values(int(version), rows)
    promotions = [e for e in events if e["kind"] == "promotion"]
    jobs = replay.ws.jobs.latest(replay.model, limit=None)
    worse = sum(_worse(replay, e) for e in promotions)
    started = {e["version"]: e["row"] for e in events if e["kind"] == "rollout"}
    rolled = sum(e["row"] - started[e["version"]] for e in promotions if e["version"] in started)
    return PolicyResult(
        name,
        served,
        values,
        retrains=len(jobs),
        promotions=len(promotions),
        rollbacks=sum(e["kind"] == "rollback" for e in events),
        worse_promotions=worse,
        rollout_rows=rolled,
        events=events,
    )


def _worse(replay: Replay, promotion: dict[str, Any]) -> bool:
    """The promoted version against the one it replaced on the next 2,000 rows (whose labels are known)."""
    new = int(promotion["version"])
    old = int(promotion["detail"].split(" -> ")[0].lstrip("v"))
    rows = slice(promotion["row"], min(promotion["row"] + AFTER, len(replay.stream)))
    if rows.start >= rows.stop:
        return False
    a, b = replay.scores.values(old, rows).mean(), replay.scores.values(new, rows).mean()
    if replay.scores.task == "classification":
        return bool(b < a - 0.01)
    return bool(b > a * 1.01)


_RUNNERS: dict[str, Callable[[Replay, str, int, Callable[[int], None]], PolicyResult]] = {
    "never": _never,
    "scheduled": _scheduled,
    "loop": _loop,
}


def render_html(result: BacktestResult) -> str:
    """The backtest as one self-contained HTML page (curves with every event marked, and the event table)."""
    from modelward.maintenance._backtest_html import render_backtest_html

    return render_backtest_html(
        result.to_dict(),
        title=f"modelward backtest: {result.model} from v{result.champion} ({result.rows} rows)",
        metric=result.metric,
        rows=result.rows,
    )
