"""When to retrain: trigger evaluation over stored monitoring results, and whether a trigger fires.

Pure functions: the loop reads the champion's monitored windows (``ws.monitoring_results``), turns them
into :class:`WindowEvidence` and asks :func:`evaluate` which triggers hold; :func:`decide` then says
whether a job starts or why it is suppressed. Nothing here reads a clock: ``now`` is always given, so the
same code runs live and on a simulated clock (the backtest).

Triggers (each configured under ``models.NAME.loop``):

* ``drift``: the last ``windows`` consecutive windows of the champion all show dataset drift;
* ``attribution_drift``: the last ``windows`` consecutive windows all show attribution drift (the model leans
  on a column differently: :mod:`modelward.monitoring.attribution_drift`);
* ``performance``: the realized metric of the newest window with enough labeled rows is worse than the
  version's holdout value by more than ``drop`` (relative), **judged on its interval**: the upper bound
  below ``holdout x (1 - drop)`` (for errors such as MAE: the lower bound above ``holdout x (1 + drop)``);
* ``estimated``: the same on the label-free estimate (CBPE for classifiers, DLE for regressors);
* ``concept_drift``: one of the chosen detectors signalled on the newest window with enough labeled rows;
* ``schedule``: a cron instant passed (:func:`schedule_due`);
* ``follow_up``: the champion was trained on the first rows of a new regime (an anchored retraining) and the
  regime's labeled rows have grown ``growth`` times since (:func:`follow_up`);
* ``manual``: ``modelward retrain MODEL`` or ``POST /v1/admin/models/{name}/retrain``.

Each :class:`Signal` carries a ``key`` naming the evidence it judged (a window, and for labeled figures
how many labels it had), so a window is decided once, not at every pass.

>>> import datetime as dt
>>> from modelward.loop_settings import LoopPolicy
>>> now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
>>> w = [WindowEvidence(run_id=i, version=1, start=now, end=now, n_rows=500, n_labeled=0, dataset_drift=True)
...      for i in (9, 8, 7)]
>>> [s.trigger for s in evaluate(LoopPolicy(), "classification", {}, w, now=now)]
['drift']
>>> decide([], active_job=None, last_finished=None, cooldown=3600, now=now, labeled_rows=0,
...        needed_rows=0).fire
False
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelward.evaluation import HIGHER_IS_BETTER
from modelward.loop_settings import LoopPolicy, PerformanceTrigger
from modelward.monitoring import MetricEstimate, WindowReport
from modelward.results import MonitoringRun

__all__ = [
    "TRIGGERS",
    "Decision",
    "Signal",
    "WindowEvidence",
    "baseline_metrics",
    "decide",
    "default_metric",
    "evaluate",
    "follow_up",
    "schedule_due",
]

TRIGGERS = (
    "drift",
    "attribution_drift",
    "performance",
    "estimated",
    "concept_drift",
    "schedule",
    "follow_up",
    "manual",
    "alert",
)


@dataclass(frozen=True)
class WindowEvidence:
    """What the triggers need of one monitored window of the champion."""

    run_id: int
    version: int
    start: dt.datetime
    end: dt.datetime
    n_rows: int
    n_labeled: int
    dataset_drift: bool
    drifted_share: float | None = None
    drifted_features: tuple[str, ...] = ()
    realized: Mapping[str, MetricEstimate] = field(default_factory=dict)
    estimated: Mapping[str, MetricEstimate] = field(default_factory=dict)
    concept_drift: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    attribution_drifted: tuple[str, ...] | None = None  # None: not computed for this window

    @classmethod
    def of(cls, run: MonitoringRun, report: WindowReport) -> WindowEvidence:
        drift = report.drift
        return cls(
            run_id=run.id,
            version=run.version,
            start=run.start_ts,
            end=run.end_ts,
            n_rows=report.n_rows,
            n_labeled=report.n_labeled,
            dataset_drift=report.dataset_drift,
            drifted_share=report.drifted_share,
            drifted_features=tuple(drift.drifted_features) if drift is not None else (),
            realized=dict(report.realized),
            estimated=dict(report.estimated),
            concept_drift={c.detector: tuple(c.detections) for c in report.concept_drift},
            attribution_drifted=None
            if report.attribution_drift is None
            else tuple(report.attribution_drift.drifted_columns),
        )

    def describe(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "version": self.version,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rows": self.n_rows,
            "labeled": self.n_labeled,
        }


@dataclass(frozen=True)
class Signal:
    """A trigger that holds: which, what evidence it judged (``key``), why, and the numbers."""

    trigger: str
    key: str
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"trigger": self.trigger, "key": self.key, "reason": self.reason, "evidence": self.evidence}


def default_metric(task: str) -> str:
    """The metric judged when none is configured."""
    return "accuracy" if task == "classification" else "mae"


def baseline_metrics(version_metrics: Mapping[str, Any], gate: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a champion's performance is judged against. A version registered by hand: its holdout metrics. A
    version the loop trained and promoted (``gate``: the report of the gate it passed): its metrics on the
    gate's recent held-out rows, where they were measured. Its own holdout is a random split of its
    training set, mostly rows of the regime before the change it was trained for, so the accuracy there
    understates what it does on today's traffic, and a later decay would hide under that lower bar."""
    out = dict(version_metrics)
    for item in (gate or {}).get("items", []):
        value = (item.get("evidence") or {}).get("challenger")
        if item.get("section") == "recent rows" and item.get("kind") == "comparison" and value is not None:
            out[str(item["name"])] = value
    return out


def evaluate(
    policy: LoopPolicy,
    task: str,
    holdout: Mapping[str, Any],
    windows: Sequence[WindowEvidence],
    *,
    now: dt.datetime,
    realized: Mapping[str, Any] | None = None,
) -> list[Signal]:
    """The window triggers that hold on ``windows`` (the champion's, newest first). ``holdout``: the
    version's holdout metrics, what the estimated (CBPE/DLE) performance is compared against: the estimator
    is calibrated on that holdout, so under no shift it estimates those values. ``realized``: what the
    realized performance is compared against (:func:`baseline_metrics`; default ``holdout``)."""
    signals = [
        _drift(policy, windows),
        _attribution(policy, windows),
        _performance("performance", policy.performance, task, realized or holdout, windows),
        _performance("estimated", policy.estimated, task, holdout, windows),
        _concept(policy, windows),
    ]
    return [s for s in signals if s is not None]


def _drift(policy: LoopPolicy, windows: Sequence[WindowEvidence]) -> Signal | None:
    k = policy.drift.windows
    recent = list(windows[:k])
    if not policy.drift.enabled or len(recent) < k or not all(w.dataset_drift for w in recent):
        return None
    features = sorted({f for w in recent for f in w.drifted_features})
    return Signal(
        "drift",
        f"run:{recent[0].run_id}",
        f"dataset drift in {k} consecutive window{'s' if k > 1 else ''} of v{recent[0].version} "
        f"(drifted features: {', '.join(features) or 'none named'})",
        {
            "windows": [
                {
                    **w.describe(),
                    "drifted_share": w.drifted_share,
                    "drifted_features": list(w.drifted_features),
                }
                for w in recent
            ],
            "required": k,
        },
    )


def _attribution(policy: LoopPolicy, windows: Sequence[WindowEvidence]) -> Signal | None:
    k = policy.attribution_drift.windows
    recent = list(windows[:k])
    if (
        not policy.attribution_drift.enabled
        or len(recent) < k
        or not all(w.attribution_drifted for w in recent)
    ):
        return None
    columns = sorted({c for w in recent for c in w.attribution_drifted or ()})
    return Signal(
        "attribution_drift",
        f"run:{recent[0].run_id}",
        f"attribution drift in {k} consecutive window{'s' if k > 1 else ''} of v{recent[0].version}: the "
        f"model leans differently on {', '.join(columns)}",
        {
            "windows": [{**w.describe(), "columns": list(w.attribution_drifted or ())} for w in recent],
            "required": k,
        },
    )


def _performance(
    trigger: str,
    cfg: PerformanceTrigger,
    task: str,
    holdout: Mapping[str, Any],
    windows: Sequence[WindowEvidence],
) -> Signal | None:
    if not cfg.enabled:
        return None
    metric = cfg.metric or default_metric(task)
    base = holdout.get(metric)
    if not isinstance(base, int | float) or not math.isfinite(base):
        return None
    for w in windows:
        figures = w.realized if trigger == "performance" else w.estimated
        m = figures.get(metric)
        if m is None or m.n < cfg.min_rows or not math.isfinite(m.value):
            continue
        return _judge(trigger, cfg, metric, float(base), m, w)
    return None


def _judge(
    trigger: str, cfg: PerformanceTrigger, metric: str, base: float, m: MetricEstimate, w: WindowEvidence
) -> Signal | None:
    higher = HIGHER_IS_BETTER.get(metric, True)
    what = "realized" if trigger == "performance" else f"estimated ({m.method})"
    evidence = {
        "window": w.describe(),
        "metric": metric,
        "method": m.method,
        "value": m.value,
        "lower": m.lower,
        "upper": m.upper,
        "confidence": m.confidence,
        "n": m.n,
        "holdout": base,
        "drop": cfg.drop,
    }
    if higher:
        limit = base * (1 - cfg.drop)
        evidence["limit"] = limit
        if m.upper is None or not m.upper < limit:
            return None
        reason = (
            f"{what} {metric} {m.value:.4g} on {m.n} rows, {m.confidence:.0%} interval "
            f"[{m.lower:.4g}, {m.upper:.4g}]: its upper bound is below {limit:.4g} "
            f"(holdout {base:.4g} - {cfg.drop:.0%})"
        )
    else:
        limit = base * (1 + cfg.drop)
        evidence["limit"] = limit
        if m.lower is None or not m.lower > limit:
            return None
        reason = (
            f"{what} {metric} {m.value:.4g} on {m.n} rows, {m.confidence:.0%} interval "
            f"[{m.lower:.4g}, {m.upper:.4g}]: its lower bound is above {limit:.4g} "
            f"(holdout {base:.4g} + {cfg.drop:.0%})"
        )
    return Signal(trigger, f"run:{w.run_id}:n:{m.n}", reason, evidence)


def _concept(policy: LoopPolicy, windows: Sequence[WindowEvidence]) -> Signal | None:
    cfg = policy.concept_drift
    if not cfg.enabled:
        return None
    for w in windows:
        if w.n_labeled < cfg.min_rows or not w.concept_drift:
            continue
        fired = {d: list(w.concept_drift[d]) for d in cfg.detectors if w.concept_drift.get(d)}
        if not fired:
            return None
        names = ", ".join(f"{d} at labeled row {rows[0]}" for d, rows in fired.items())
        return Signal(
            "concept_drift",
            f"run:{w.run_id}:n:{w.n_labeled}",
            f"concept drift on the error stream of {w.n_labeled} labeled rows ({names})",
            {"window": w.describe(), "detections": fired},
        )
    return None


def follow_up(policy: LoopPolicy, job: int, trained_rows: int, served_rows: int) -> Signal | None:
    """The follow-up of the job ``job`` that made the champion from ``trained_rows`` labeled rows of a new
    regime (training and gate rows), now that it served ``served_rows`` more labeled rows of it: it holds
    at every power of ``growth`` the regime's rows reach (each power is decided once).

    >>> from modelward.loop_settings import LoopPolicy
    >>> follow_up(LoopPolicy(), 7, 1000, 900) is None
    True
    >>> follow_up(LoopPolicy(), 7, 1000, 1000).key, follow_up(LoopPolicy(), 7, 1000, 3000).key
    ('follow_up:job:7:stage:1', 'follow_up:job:7:stage:2')
    """
    cfg = policy.follow_up
    if not cfg.enabled or trained_rows <= 0:
        return None
    total = trained_rows + served_rows
    stage = math.floor(math.log(total / trained_rows) / math.log(cfg.growth) + 1e-9)
    if stage < 1:
        return None
    return Signal(
        "follow_up",
        f"follow_up:job:{job}:stage:{stage}",
        f"the champion learnt a new regime from its first {trained_rows} labeled rows (job {job}); the regime "
        f"now has {total} ({cfg.growth**stage:g} times as many): retraining on all of them",
        {"job": job, "trained_rows": trained_rows, "served_rows": served_rows, "growth": cfg.growth},
    )


def schedule_due(cron: str, since: dt.datetime, now: dt.datetime) -> dt.datetime | None:
    """The latest instant of ``cron`` (UTC) in ``(since, now]``, or None when none passed.

    >>> t = dt.datetime(2026, 1, 1, 2, 59, tzinfo=dt.UTC)
    >>> schedule_due("0 3 * * *", t, t + dt.timedelta(minutes=2))
    datetime.datetime(2026, 1, 1, 3, 0, tzinfo=datetime.timezone.utc)
    >>> schedule_due("0 3 * * *", t, t + dt.timedelta(seconds=30)) is None
    True
    """
    from croniter import croniter

    last = croniter(cron, now.astimezone(dt.UTC) + dt.timedelta(microseconds=1)).get_prev(dt.datetime)
    last = last.replace(tzinfo=dt.UTC) if last.tzinfo is None else last.astimezone(dt.UTC)
    last = last.replace(fold=0)
    return last if since < last <= now else None


@dataclass(frozen=True)
class Decision:
    """Whether the signals start a job, and why (or why not)."""

    fire: bool
    reason: str
    suppressed_by: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def decide(
    signals: Sequence[Signal],
    *,
    active_job: int | None,
    last_finished: dt.datetime | None,
    cooldown: float,
    now: dt.datetime,
    labeled_rows: int,
    needed_rows: int,
    force: bool = False,
) -> Decision:
    """Start a job on ``signals`` unless one is active, the cooldown runs, or too few labeled rows exist
    for training and the gate. ``force`` (manual triggers only) skips the cooldown, never the other two."""
    if not signals:
        return Decision(False, "no trigger holds")
    if active_job is not None:
        return Decision(
            False,
            f"job {active_job} is already running for this model; one job at a time",
            "active_job",
            {"job": active_job},
        )
    if last_finished is not None and not force:
        until = last_finished + dt.timedelta(seconds=cooldown)
        if now < until:
            return Decision(
                False,
                f"cooldown: the last job ended {last_finished.isoformat()}; no new job before "
                f"{until.isoformat()}",
                "cooldown",
                {"until": until.isoformat(), "cooldown_s": cooldown},
            )
    if labeled_rows < needed_rows:
        return Decision(
            False,
            f"waiting for labels: {labeled_rows} labeled production rows in the recent window, "
            f"{needed_rows} needed (gate rows + training rows)",
            "labels",
            {"labeled_rows": labeled_rows, "needed_rows": needed_rows},
        )
    return Decision(True, "; ".join(s.reason for s in signals))
