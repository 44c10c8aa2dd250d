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
every evaluation says so (:data:`~modelward.maintenance.rollout.NOT_MEASURED`).

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
from modelward.maintenance.loop import Loop, request_retrain
from modelward.maintenance.rollout import NOT_MEASURED
from modelward.maintenance.steps import JobRunner, new_owner
from modelward.maintenance.trainer import InProcessTrainer
from modelward.predlog import (
    FeedbackItem,
    PredictionLog,
    PredictionRecord,
    hash_routing_key,
    new_prediction_id,
)
from modelward.registry import ModelVersion
from modelward.rollouts import Rollout, shadow_twin
from modelward.routing import assign_arm
from modelward.training import predict_proba
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
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
"""When row 0 arrives on the simulated clock, without a time column."""
NEVER = np.iinfo(np.int64).max
BLOCK = 1_000  # rows per point of a curve
AFTER = 2_000  # labeled rows after a promotion on which it is judged worse or not
SCORE_BLOCK = 4_000  # rows a version scores at a time (its next rows are asked for at the next pass)
ACTOR = "backtest"

Progress = Callable[[str, int, int], None]  # (policy, rows done, rows in all)

_KINDS = {
    "loop_trigger_fired": "trigger",
    "loop_gate_decided": "gate",
    "loop_promoted": "promotion",
    "loop_rejected": "rejection",
    "loop_job_failed": "failure",
    "loop_training_failed": "failure",
    "loop_training_timed_out": "failure",
    "alias_rollback": "rollback",
    "rollout_started": "rollout",
    "rollout_step": "step",
    "rollout_promoted": "promotion",
    "rollout_rolled_back": "rollback",
    "rollout_expired": "rollback",
    "rollout_held": "held",
}


@dataclass(frozen=True)
class Stream:
    """The replayed rows: features and target in arrival order, when each arrives, when its label does."""

    frame: pd.DataFrame
    features: list[str]
    target: str
    times: pd.DatetimeIndex
    label_at: np.ndarray[Any, Any]  # when each label arrives, ns since the epoch (NEVER: after the end)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def y(self) -> np.ndarray[Any, Any]:
        return self.frame[self.target].to_numpy()


def make_stream(
    frame: pd.DataFrame,
    champion: ModelVersion,
    *,
    label_delay: int = 500,
    time_column: str | None = None,
    rate: float = 1.0,
    t0: dt.datetime = T0,
) -> Stream:
    """Arrival order (sorted by ``time_column`` when given, else row ``i`` at ``t0 + i / rate`` s) and label
    arrivals (``label_delay`` rows later) of ``frame``, checked against ``champion``'s features and target."""
    features, target = list(champion.lineage["features"]), str(champion.lineage["target"])
    missing = [c for c in [*features, target, *([time_column] if time_column else [])] if c not in frame]
    if missing:
        raise DataError(
            f"The backtest data lacks column(s) {', '.join(map(repr, missing))} that {champion.ref} needs "
            f"(features {', '.join(features)}; target {target!r}"
            + (f"; --time-column {time_column!r}" if time_column else "")
            + "). Replay a table with those columns.",
            details={"missing": missing},
        )
    if label_delay < 0 or rate <= 0:
        raise DataError(f"--label-delay must be >= 0 and --rate > 0, got {label_delay} and {rate}.")
    if frame[target].isna().any():
        raise DataError(
            f"The backtest data has {int(frame[target].isna().sum())} rows without a {target!r} label; "
            "a backtest replays labeled rows only. Drop them or fill them in."
        )
    if time_column:
        try:
            stamps = pd.to_datetime(frame[time_column], utc=True)
        except (TypeError, ValueError) as exc:
            raise DataError(f"--time-column {time_column!r} does not hold times: {exc}") from exc
        order = np.argsort(stamps.to_numpy(), kind="stable")
        frame, times = frame.iloc[order], pd.DatetimeIndex(stamps.iloc[order])
    else:
        times = pd.DatetimeIndex(t0 + pd.to_timedelta(np.arange(len(frame)) / rate, unit="s"))
    frame = frame[[*features, target]].reset_index(drop=True)
    label_at = np.full(len(frame), NEVER, dtype=np.int64)
    if label_delay < len(frame):
        label_at[: len(frame) - label_delay] = times.asi8[label_delay:]
    return Stream(frame, features, target, times, label_at)


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


def with_rollout(settings: Settings, mode: str | None) -> Settings:
    """``settings`` with every model's ``loop.rollout.mode`` set to ``mode`` (None: unchanged)."""
    if mode is None:
        return settings
    models = {}
    for name, spec in settings.models.items():
        rollout = spec.loop.rollout.model_copy(update={"mode": mode})
        models[name] = spec.model_copy(update={"loop": spec.loop.model_copy(update={"rollout": rollout})})
    return settings.model_copy(update={"models": models})


def rollout_note(ws: Workspace, model: str, rollout: str | None = None) -> str | None:
    """What the replay of the model's rollout leaves out, when it rolls out at all."""
    mode = rollout or ws.model_spec(model).loop.rollout.mode
    if mode == "immediate":
        return None
    return f"the loop's {mode} rollouts are replayed on the simulated clock, but {NOT_MEASURED}"


class _Scratch(Workspace):
    """A scratch workspace that loads each model artifact once: the replay's loop loads the same few versions
    for every job (monitor reference, load check, gate) and the skops audit of a 100-tree forest costs seconds.
    Models are only ever used to predict here."""

    def __init__(self, base: Workspace, rollout: str | None = None) -> None:
        super().__init__(base.root, with_rollout(base.settings, rollout), base.store, base.artifacts)
        self._loaded: dict[str, Any] = {}

    def load_model(self, version: ModelVersion) -> Any:
        if version.artifact not in self._loaded:
            self._loaded[version.artifact] = super().load_model(version)
        return self._loaded[version.artifact]

    def remember(self, artifact: str, model: Any) -> None:
        """A model the replay's training loaded back from its new artifact to check it: loaded once."""
        self._loaded.setdefault(artifact, model)


class _Scores:
    """Each version's scores of the rows it is asked about (the version serving a row takes its score),
    computed in blocks of rows ahead (:data:`SCORE_BLOCK`) and kept: a version scores the rows it served
    and those a worse-promotion check compares, not the whole table."""

    def __init__(self, ws: Workspace, model: str, stream: Stream) -> None:
        self.ws, self.model, self.stream = ws, model, stream
        self.x = stream.frame[stream.features]
        self._cache: dict[int, _Scored] = {}
        self.task = ws.registry.get(model).task

    def get(
        self, version: int, rows: slice | np.ndarray[Any, Any]
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
        """``version``'s predictions (and class probabilities) of ``rows``."""
        scored = self._cache.get(version)
        if scored is None:
            estimator = self.ws.load_model(self.ws.registry.get(self.model, version))
            scored = self._cache[version] = _Scored(estimator, self.task == "classification", len(self.x))
        index = np.arange(*rows.indices(len(self.x))) if isinstance(rows, slice) else np.asarray(rows)
        missing = index[~scored.done[index]]
        while len(missing):  # score from the first missing row on, a block at a time
            block = np.arange(missing[0], min(missing[0] + SCORE_BLOCK, len(self.x)))
            block = block[~scored.done[block]]
            scored.fill(block, self.x.iloc[block])
            missing = missing[~scored.done[missing]]
        return scored.pred[index], None if scored.proba is None else scored.proba[index]

    def values(self, version: int, rows: slice | np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Per row: 1.0 where ``version`` is right (classifiers), else its absolute error."""
        pred, y = self.get(version, rows)[0], self.stream.y[rows]
        if self.task == "classification":
            return np.asarray(pred == y, dtype=float)
        return np.asarray(np.abs(pred.astype(float) - y.astype(float)), dtype=float)


class _Scored:
    """One version's predictions (and probabilities) of the table's rows, filled in as they are asked for."""

    def __init__(self, estimator: Any, classifier: bool, n: int) -> None:
        self.estimator, self.classifier, self.n = estimator, classifier, n
        self.done = np.zeros(n, dtype=bool)
        self.pred: np.ndarray[Any, Any] = np.empty(0)
        self.proba: np.ndarray[Any, Any] | None = None

    def fill(self, rows: np.ndarray[Any, Any], x: pd.DataFrame) -> None:
        pred = np.asarray(self.estimator.predict(x))
        proba = predict_proba(self.estimator, x) if self.classifier else None
        if not self.done.any():
            self.pred = np.empty(self.n, dtype=pred.dtype)
            self.proba = None if proba is None else np.empty((self.n, *proba.shape[1:]), dtype=proba.dtype)
        self.pred[rows] = pred
        if self.proba is not None and proba is not None:
            self.proba[rows] = proba
        self.done[rows] = True


class _Replay:
    """Logs the rows that arrived and delivers the labels that did, up to a simulated instant."""

    def __init__(self, ws: _Scratch, model: str, stream: Stream, records: list[dict[str, Any]], spool: Path):
        self.ws, self.model, self.stream, self.records = ws, model, stream, records
        self.scores = _Scores(ws, model, stream)
        self.served = np.zeros(len(stream), dtype=np.int64)
        self.ids: list[str] = []
        self.labeled = 0
        self.plog = PredictionLog(ws.store, spool_dir=spool)
        self.plog.start()
        self._seen_event = 0

    @property
    def arrived(self) -> int:
        return len(self.ids)

    def advance(self, now: dt.datetime) -> None:
        end = int(self.stream.times.searchsorted(pd.Timestamp(now), side="right"))
        if end > self.arrived:
            self._log(self.arrived, end)
        ready = int(np.searchsorted(self.stream.label_at[: self.arrived], pd.Timestamp(now).value, "right"))
        if ready > self.labeled:
            y = self.stream.y
            items = [FeedbackItem(self.ids[i], _plain(y[i])) for i in range(self.labeled, ready)]
            for k in range(0, len(items), 5000):
                self.plog.add_feedback(items[k : k + 5000], now=now)
            self.labeled = ready

    def _log(self, start: int, end: int) -> None:
        """Log rows ``start:end`` as the server would: each from the champion, or split by the model's active
        rollout (:meth:`_route`)."""
        champion = self.ws.registry.get(self.model, "champion").version
        rollout = self.ws.rollouts.active(self.model)
        if rollout is not None and rollout.champion_version != champion:
            rollout = None  # the champion moved and the rollout is being closed: the server routes no split
        routes = [self._route(rollout, champion, f"row-{i}") for i in range(start, end)]
        rows = np.arange(start, end)
        versions = np.array([version for _arm, version, _shadow in routes], dtype=np.int64)
        shadows = np.array([-1 if shadow is None else shadow for *_, shadow in routes], dtype=np.int64)
        used = np.unique(np.r_[versions, shadows[shadows >= 0]])
        scores = {int(v): self.scores.get(int(v), rows) for v in used}  # each scores the batch (a block)
        self.served[start:end] = versions
        batch = []
        for k, (arm, version, shadow) in enumerate(routes):
            i = start + k
            pid = new_prediction_id()
            self.ids.append(pid)
            batch.append(self._record(i, k, pid, version, arm, scores[version]))
            if shadow is not None:
                batch.append(self._record(i, k, shadow_twin(pid), shadow, "shadow", scores[shadow]))
        self.plog.submit(batch).result(timeout=300)

    @staticmethod
    def _route(rollout: Rollout | None, champion: int, key: str) -> tuple[str, int, int | None]:
        """The arm and version that answer ``key`` (and the shadow's version), as the server's router."""
        if rollout is None:
            return "champion", champion, None
        if rollout.mode == "shadow":
            return "champion", champion, rollout.challenger_version
        split = [("champion", 1.0 - rollout.share), (rollout.arm, rollout.share)]
        if assign_arm(key, split, salt=rollout.salt) == "champion":
            return "champion", champion, None
        return rollout.arm, rollout.challenger_version, None

    def _record(
        self,
        i: int,
        k: int,
        pid: str,
        version: int,
        arm: str,
        scores: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None],
    ) -> PredictionRecord:
        """Row ``i`` (the ``k``-th of its batch, whose ``scores`` are given) as ``version`` answered it."""
        pred, proba = scores
        return PredictionRecord(
            pid,
            self.stream.times[i].to_pydatetime(),
            self.model,
            version,
            arm,
            hash_routing_key(f"row-{i}"),
            self.records[i],
            _plain(pred[k]),
            None if proba is None else proba[k].tolist(),
            0.0,
        )

    def new_events(self, policy: str) -> list[dict[str, Any]]:
        """The job and alias events since the last call, with the row and time they happened at."""
        out = []
        for event in self.ws.registry.events(self.model):
            if event.id <= self._seen_event:
                continue
            self._seen_event = event.id
            kind = _KINDS.get(event.kind)
            if kind is None or (event.kind == "alias_rollback" and event.payload.get("alias") != "champion"):
                continue
            payload = dict(event.payload)
            if event.kind.startswith("rollout_"):
                rollout = self.ws.rollouts.get(int(payload["rollout"]))
                payload.update({"from": rollout.champion_version, "to": rollout.challenger_version})
                payload.setdefault("challenger", rollout.challenger_version)
            out.append(_event(event.kind, kind, payload, event.ts, self.arrived, policy))
        return out

    def close(self) -> None:
        self.plog.close()


def _event(
    raw: str, kind: str, payload: dict[str, Any], ts: dt.datetime, row: int, policy: str
) -> dict[str, Any]:
    if raw == "alias_rollback" or kind == "promotion":
        version = payload.get("to")
    else:
        version = payload.get("challenger")
    if kind in ("trigger", "gate"):
        detail = payload.get("reason", "")
    elif kind == "promotion":
        detail = f"v{payload.get('from')} -> v{payload.get('to')}"
    elif kind == "rollout":
        detail = f"{payload.get('mode')} of v{payload.get('challenger')} against v{payload.get('champion')}"
    elif kind == "step":
        detail = f"{payload.get('percent'):g} % of requests: {payload.get('reason', '')}"
    else:
        detail = str(payload.get("reason") or payload.get("error") or raw)
    return {
        "row": row,
        "time": ts.isoformat(),
        "policy": policy,
        "kind": kind,
        "version": version,
        "detail": str(detail)[:500],
    }


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


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
) -> BacktestResult:
    """Replay ``frame`` from ``model``'s champion under each of ``policies`` (see the module docstring).
    ``ws`` is only read. ``seed`` seeds NumPy's global generator for entrypoints that draw from it.
    ``rollout``: the loop's ``loop.rollout.mode`` in this replay (None: the model's). ``jobs``: policies
    replayed at once, each in a process of its own (the results are the same)."""
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
        if jobs > 1 and len(plans) > 1:
            results = _in_processes(ws, plans, stream, records, say, jobs)
        else:
            results = {}
            for plan in plans:
                with ws.scratch(plan.directory) as copy:
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
        replay = _Replay(_Scratch(copy, self.rollout), self.model, stream, records, self.directory / "spool")
        try:
            return _RUNNERS[self.policy](
                replay, self.policy, self.every, _reporter(say, self.policy, len(stream))
            )
        finally:
            replay.close()


def _in_processes(
    ws: Workspace,
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
        with ws.scratch(plan.directory) as copy:
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


def _never(replay: _Replay, name: str, _every: int, say: Callable[[int], None]) -> PolicyResult:
    n = len(replay.stream)
    version = replay.ws.registry.get(replay.model, "champion").version
    say(n)
    return PolicyResult(name, np.full(n, version), replay.scores.values(version, slice(None)))


def _scheduled(replay: _Replay, name: str, every: int, say: Callable[[int], None]) -> PolicyResult:
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


def _loop(replay: _Replay, name: str, _every: int, say: Callable[[int], None]) -> PolicyResult:
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


def _finish(replay: _Replay, name: str, events: list[dict[str, Any]]) -> PolicyResult:
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


def _worse(replay: _Replay, promotion: dict[str, Any]) -> bool:
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


_RUNNERS: dict[str, Callable[[_Replay, str, int, Callable[[int], None]], PolicyResult]] = {
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
