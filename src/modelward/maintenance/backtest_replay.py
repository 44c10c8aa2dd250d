"""The replay under ``modelward backtest`` (:mod:`modelward.maintenance.backtest`): a labeled table as a stream
of rows and labels on a simulated clock (:func:`make_stream`), each version's scores of the rows it serves, and
:class:`Replay`, which logs the rows that arrived as the server would (routed through the model's active rollout by
:func:`modelward.routing.assign_arm`, as the server's router routes a request) and delivers the labels that did."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelward.config import Settings
from modelward.errors import DataError
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

__all__ = ["NEVER", "T0", "Replay", "Scratch", "Stream", "make_stream", "with_rollout"]

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
"""When row 0 arrives on the simulated clock, without a time column."""
NEVER = np.iinfo(np.int64).max
SCORE_BLOCK = 4_000  # rows a version scores at a time (its next rows are asked for at the next pass)

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


def with_rollout(settings: Settings, mode: str | None) -> Settings:
    """``settings`` with every model's ``loop.rollout.mode`` set to ``mode`` (None: unchanged)."""
    if mode is None:
        return settings
    models = {}
    for name, spec in settings.models.items():
        rollout = spec.loop.rollout.model_copy(update={"mode": mode})
        models[name] = spec.model_copy(update={"loop": spec.loop.model_copy(update={"rollout": rollout})})
    return settings.model_copy(update={"models": models})


class Scratch(Workspace):
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


class Replay:
    """Logs the rows that arrived and delivers the labels that did, up to a simulated instant."""

    def __init__(self, ws: Scratch, model: str, stream: Stream, records: list[dict[str, Any]], spool: Path):
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
