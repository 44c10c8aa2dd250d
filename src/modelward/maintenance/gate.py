"""The gate: champion against challenger on the same rows, every number kept, a verdict per item.

Both models score the **recent held-out rows** (the newest labeled production rows, never trained on) and
the champion's **original test set** (its recorded evaluation rows, which the challenger never saw). On
each, with :mod:`modelward.evaluation`:

* the **primary metric** (``loop.gate.metric``; accuracy by McNemar for classifiers, MAE by Wilcoxon on
  absolute errors for regressors) is judged under ``loop.gate.mode``: ``superior`` (shown better at
  ``alpha``) or ``non_inferior`` (shown at most ``margin`` worse);
* the **secondary metrics** (default F1 by a paired BCa bootstrap and ROC AUC by DeLong for binary
  classifiers, RMSE by a paired bootstrap for regressors) must be non-inferior within
  ``secondary_margin``;
* the **behavioral tests** (``loop.gate.behavioral_tests``) must all pass on the challenger;
* with **sensitive columns** declared (``models.NAME.monitor.sensitive_columns``), each fairness gap of the
  challenger (:func:`~modelward.monitoring.fairness.fairness`, the monitor's check) must have an upper
  bound at most ``loop.gate.fairness_margin`` above the champion's: a rule on the two bounds, as the
  rollout's error budget is, not a paired test.

The recent rows decide; the original test set is compared and shown (``original_test_set: report``) or
judged non-inferior too. The challenger is promoted only when every judged item passes (an
intersection-union test: false promotions stay at most ``alpha``); a metric that cannot be computed is a
note, and a primary metric that cannot be computed is a rejection, never a pass on no data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelward.config import ModelMonitorSpec
from modelward.errors import ModelwardError
from modelward.evaluation import (
    BehavioralReport,
    BehavioralSuite,
    GateItem,
    GatePolicy,
    PairedComparison,
    decide,
    delong,
    mcnemar,
    paired_bootstrap,
    read_suite,
    run_suite,
    wilcoxon_abs_errors,
)
from modelward.loop_settings import CLASSIFICATION_METRICS, GateSettings
from modelward.maintenance._reference import training_data
from modelward.monitoring.fairness import fairness_of_columns
from modelward.registry import ModelVersion
from modelward.workspace import Workspace

__all__ = ["GateReport", "compare_models", "fairness_items", "gate_rows", "load_behavioral", "run_gate"]


@dataclass(frozen=True)
class GateReport:
    """The gate's verdict, with every item (judged or only reported) and every number."""

    promote: bool
    reason: str
    champion: int
    challenger: int
    items: tuple[dict[str, Any], ...]
    rows: dict[str, int]
    policy: dict[str, Any]
    notes: tuple[str, ...] = ()

    @property
    def decision(self) -> str:
        return "promote" if self.promote else "reject"

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [i for i in self.items if i["judged"] and not i["passed"]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "promote": self.promote,
            "reason": self.reason,
            "champion": self.champion,
            "challenger": self.challenger,
            "rows": dict(self.rows),
            "policy": dict(self.policy),
            "items": [dict(i) for i in self.items],
            "notes": list(self.notes),
        }

    def lines(self) -> list[str]:
        """One line per item: PASS/FAIL for judged items, INFO for reported ones."""
        return [
            f"{'INFO' if not i['judged'] else 'PASS' if i['passed'] else 'FAIL'}  {i['section']}: {i['reason']}"
            for i in self.items
        ] + [f"note: {n}" for n in self.notes]


@dataclass
class _Scores:
    pred: np.ndarray[Any, Any]
    proba: np.ndarray[Any, Any] | None
    classes: list[Any] | None


def _score(model: Any, x: pd.DataFrame, task: str) -> _Scores:
    from modelward.training import predict_proba

    pred = np.asarray(model.predict(x))
    if task != "classification":
        return _Scores(pred.astype(float), None, None)
    classes = getattr(model, "classes_", None)
    return _Scores(pred, predict_proba(model, x), None if classes is None else list(classes))


def default_metrics(task: str, n_classes: int, gate: GateSettings) -> tuple[str, list[str]]:
    """The primary metric and the secondary ones (configured, or the task's defaults)."""
    primary = gate.metric or ("accuracy" if task == "classification" else "mae")
    if gate.secondary_metrics is not None:
        secondary = [m for m in gate.secondary_metrics if m != primary]
    elif task == "classification":
        secondary = ["f1", "roc_auc"] if n_classes == 2 else []
    else:
        secondary = ["rmse"]
    return primary, secondary


def compare_models(
    task: str,
    metrics: Sequence[str],
    y: np.ndarray[Any, Any],
    champ: _Scores,
    chall: _Scores,
    gate: GateSettings,
) -> tuple[dict[str, PairedComparison], list[str]]:
    """Paired comparisons of ``metrics`` (challenger vs champion on the same rows), and notes on those that
    could not be computed."""
    out: dict[str, PairedComparison] = {}
    notes: list[str] = []
    boot: dict[str, Any] = {"alpha": gate.alpha, "n_resamples": gate.bootstrap_resamples, "seed": gate.seed}
    classes = chall.classes or champ.classes or sorted(pd.unique(y).tolist())
    for metric in metrics:
        if (metric in CLASSIFICATION_METRICS) != (task == "classification"):
            notes.append(f"{metric} is not a {task} metric; not compared")
            continue
        try:
            if metric == "accuracy":
                out[metric] = mcnemar(y, champ.pred, chall.pred, alpha=gate.alpha)
            elif metric == "mae":
                out[metric] = wilcoxon_abs_errors(y, champ.pred, chall.pred, **boot)
            elif task == "regression":
                out[metric] = paired_bootstrap(y, champ.pred, chall.pred, metric=metric, **boot)
            elif len(classes) != 2:
                notes.append(
                    f"{metric} is compared for binary classifiers only ({len(classes)} classes); not compared"
                )
            elif metric in ("f1", "precision", "recall"):
                out[metric] = paired_bootstrap(
                    y, champ.pred, chall.pred, metric=metric, pos_label=classes[1], **boot
                )
            else:
                a, b = _positive(champ, classes[1]), _positive(chall, classes[1])
                if a is None or b is None:
                    notes.append(f"{metric} needs class probabilities from both models; not compared")
                elif metric == "roc_auc":
                    out[metric] = delong(y, a, b, alpha=gate.alpha, pos_label=classes[1])
                else:
                    truth = (y == classes[1]).astype(int)
                    out[metric] = paired_bootstrap(truth, a, b, metric=metric, **boot)
        except ModelwardError as exc:
            notes.append(f"{metric} not compared: {exc.message}")
    return out, notes


def _positive(scores: _Scores, label: Any) -> np.ndarray[Any, Any] | None:
    if scores.proba is None or scores.classes is None or label not in scores.classes:
        return None
    return np.asarray(scores.proba[:, scores.classes.index(label)], dtype=float)


def load_behavioral(ws: Workspace, gate: GateSettings) -> BehavioralSuite | None:
    """The behavioral-test file of ``gate`` (relative to the workspace), parsed and checked; None if unset."""
    if gate.behavioral_tests is None:
        return None
    path = ws.root / gate.behavioral_tests
    if not path.is_file():
        raise ModelwardError(
            f"The behavioral-test file {path} (loop.gate.behavioral_tests) does not exist. "
            "Create it or remove the setting.",
            details={"key": "loop.gate.behavioral_tests"},
        )
    return read_suite(path)


@dataclass
class _Collect:
    items: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, section: str, item: GateItem, judged: bool) -> None:
        reason = item.reason if judged else f"{item.reason} (reported, not judged)"
        self.items.append(
            {
                "section": section,
                "name": item.name,
                "kind": item.kind,
                "judged": judged,
                "passed": item.passed,
                "reason": reason,
                "evidence": item.evidence,
            }
        )

    def add_behavioral(self, behavioral: BehavioralReport) -> None:
        for r in behavioral.results:
            item = GateItem(
                r.name,
                "behavioral",
                r.passed,
                f"behavioral test {r.name!r} ({r.type}): {r.reason}.",
                r.to_dict(),
            )
            self.add("behavioral", item, True)


@dataclass(frozen=True)
class _Judges:
    """What one gate run judges with: the primary metric and its policy, the secondary metrics and theirs."""

    primary: str
    secondary: list[str]
    policy: GatePolicy
    secondary_policy: GatePolicy

    @classmethod
    def of(cls, task: str, n_classes: int, gate: GateSettings) -> _Judges:
        primary, secondary = default_metrics(task, n_classes, gate)
        return cls(
            primary,
            secondary,
            GatePolicy(mode=gate.mode, margin=gate.margin, alpha=gate.alpha),
            GatePolicy(
                mode="non_inferior", margin=dict.fromkeys(secondary, gate.secondary_margin), alpha=gate.alpha
            ),
        )


def run_gate(
    ws: Workspace,
    champion: ModelVersion,
    challenger: ModelVersion,
    *,
    recent: pd.DataFrame | None,
    gate: GateSettings,
    suite: BehavioralSuite | None = None,
) -> GateReport:
    """Judge ``challenger`` against ``champion`` (see the module docstring). ``recent``: the held-out recent
    rows (features and target), or None to judge on the original test set alone."""
    original = training_data(ws, champion)
    models = ws.load_model(champion), ws.load_model(challenger)
    n_classes = len(champion.signature.get("output", {}).get("classes") or []) or 2
    judges = _Judges.of(champion.task, n_classes, gate)
    sets = [("original test set", original.holdout)]
    collect = _Collect()
    if recent is not None and len(recent):
        sets.insert(0, ("recent rows", recent))
    else:
        collect.notes.append("no recent held-out rows: judged on the champion's original test set")
    judged_primary = False
    behavioral: BehavioralReport | None = None
    rows: dict[str, int] = {}
    for index, (section, frame) in enumerate(sets):
        x, y = frame[original.features].reset_index(drop=True), np.asarray(frame[original.target])
        rows[section] = len(frame)
        decisive = index == 0
        judged_primary |= _judge_section(
            collect, section, x, y, models, champion.task, judges, gate, decisive=decisive
        )
        if decisive:
            monitor = ws.settings.models.get(champion.name)
            if (
                monitor is not None
                and monitor.monitor.sensitive_columns
                and champion.task == "classification"
            ):
                preds = (np.asarray(models[0].predict(x)), np.asarray(models[1].predict(x)))
                for item, judged in fairness_items(frame, y, preds, monitor.monitor, gate, collect.notes):
                    collect.add(section, item, judged)
        if decisive and suite is not None:
            behavioral = run_suite(
                suite,
                models[1].predict,
                predict_proba=_proba_fn(models[1]),
                classes=getattr(models[1], "classes_", None),
                data=x,
            )
    if behavioral is not None:
        collect.add_behavioral(behavioral)
    return _report(collect, judged_primary, champion, challenger, rows, judges, gate)


def _judge_section(
    collect: _Collect,
    section: str,
    x: pd.DataFrame,
    y: np.ndarray[Any, Any],
    models: tuple[Any, Any],
    task: str,
    judges: _Judges,
    gate: GateSettings,
    *,
    decisive: bool,
) -> bool:
    """Compare both models on one set of rows and collect the items; True when the primary metric was
    judged there. Only the decisive set (recent rows, else the original test set) is judged under the gate's
    mode; the original test set is judged non-inferior when configured so, else only reported."""
    primary, secondary = judges.primary, judges.secondary
    comps, notes = compare_models(
        task, [primary, *secondary], y, _score(models[0], x, task), _score(models[1], x, task), gate
    )
    collect.notes += [f"{section}: {n}" for n in notes]
    judged = decisive or gate.original_test_set == "non_inferior"
    main_policy = judges.policy if decisive else secondary_policy_for(primary, gate)
    if primary in comps:
        for item in decide([comps[primary]], main_policy).items:
            collect.add(section, item, judged)
    elif decisive:
        reason = f"{primary}: not computed on the {section}; never a pass on no data"
        collect.add(section, GateItem(primary, "comparison", False, reason), True)
    extra = [comps[m] for m in secondary if m in comps]
    if extra:
        for item in decide(extra, judges.secondary_policy).items:
            collect.add(section, item, judged)
    return judged and primary in comps


def _report(
    collect: _Collect,
    judged_primary: bool,
    champion: ModelVersion,
    challenger: ModelVersion,
    rows: dict[str, int],
    judges: _Judges,
    gate: GateSettings,
) -> GateReport:
    """The verdict: promote only when the primary metric was judged and no judged item failed."""
    failed = [i for i in collect.items if i["judged"] and not i["passed"]]
    promote = judged_primary and not failed
    judged_n = sum(i["judged"] for i in collect.items)
    reason = (
        f"promote: all {judged_n} judged items passed ({gate.mode}, alpha {gate.alpha:g})"
        if promote
        else f"reject: {len(failed)} of {judged_n} judged items failed "
        f"({', '.join(str(i['section']) + ' ' + str(i['name']) for i in failed)})"
    )
    policy = {
        **judges.policy.to_dict(),
        "primary": judges.primary,
        "secondary": judges.secondary,
        "secondary_margin": gate.secondary_margin,
        "original_test_set": gate.original_test_set,
    }
    return GateReport(
        promote,
        reason,
        champion.version,
        challenger.version,
        tuple(collect.items),
        rows,
        policy,
        tuple(collect.notes),
    )


def fairness_items(
    frame: pd.DataFrame,
    y: Any,
    predictions: tuple[Any, Any],
    monitor: ModelMonitorSpec,
    gate: GateSettings,
    notes: list[str],
) -> list[tuple[GateItem, bool]]:
    """The fairness items of the gate: per sensitive column of ``frame`` and per gap, the challenger's upper
    bound against the champion's plus ``gate.fairness_margin`` (judged), or, when a gap cannot be computed
    on these rows (groups too small), the numbers shown and not judged: small groups never fail."""
    options = {
        "positive_label": monitor.positive_label,
        "alpha": gate.alpha,
        "tolerance": monitor.fairness_tolerance,
        "min_group_rows": monitor.fairness_min_group_rows,
        "seed": gate.seed,
    }
    (champions, missing, errors), (challengers, _, errors_b) = (
        fairness_of_columns(y, pred, frame, monitor.sensitive_columns, **options) for pred in predictions
    )
    notes += [f"fairness: sensitive column {c!r} is not in the gate's rows" for c in missing]
    notes += [f"fairness of {c!r} not compared: {why}" for c, why in {**errors_b, **errors}.items()]
    out: list[tuple[GateItem, bool]] = []
    for column in (c for c in champions if c in challengers):
        champion, challenger = champions[column], challengers[column]
        for a, b in (
            (champion.demographic_parity, challenger.demographic_parity),
            (champion.equalized_odds, challenger.equalized_odds),
        ):
            name = f"{column}: {b.name}"
            evidence = {
                "champion": a.to_dict(),
                "challenger": b.to_dict(),
                "margin": gate.fairness_margin,
                "groups": {
                    "champion": [g.to_dict() for g in champion.groups],
                    "challenger": [g.to_dict() for g in challenger.groups],
                },
            }
            if a.upper is None or b.upper is None:
                reason = f"{name}: not computed on these rows ({b.reason or a.reason})"
                out.append((GateItem(name, "fairness", True, reason, evidence), False))
                continue
            passed = b.upper <= a.upper + gate.fairness_margin
            reason = (
                f"{name}: the challenger's {b.value:.3f} (upper bound {b.upper:.3f}) against the champion's "
                f"{a.value:.3f} (upper bound {a.upper:.3f}); refused above {a.upper + gate.fairness_margin:.3f} "
                f"(the champion's bound + fairness_margin {gate.fairness_margin:g})"
            )
            out.append((GateItem(name, "fairness", passed, reason, evidence), True))
    return out


def gate_rows(
    ws: Workspace, champion: ModelVersion, challenger: ModelVersion, *, now: dt.datetime
) -> tuple[pd.DataFrame | None, str]:
    """The recent rows to gate ``challenger`` on, and where they come from: the rows its retrain job held
    out, else the labeled rows logged after it was registered (which it cannot have been trained on) within
    ``loop.retrain.recent``; None when fewer than ``loop.gate.min_rows``."""
    from modelward.maintenance.retrain import load_holdout, production_rows, sensitive_columns

    job = ws.jobs.with_challenger(challenger.name, challenger.version)
    if job is not None and job.holdout is not None:
        return load_holdout(ws, job.holdout), f"the {job.holdout['rows']} rows retrain job {job.id} held out"
    policy = ws.model_spec(champion.name).loop
    lineage = champion.lineage
    since = max(challenger.created_at, now - dt.timedelta(seconds=policy.retrain.recent))
    rows = production_rows(
        ws,
        champion.name,
        list(lineage["features"]),
        lineage["target"],
        since=since,
        max_rows=policy.retrain.max_rows,
        context=sensitive_columns(ws, champion.name),
    )
    if len(rows) < policy.gate.min_rows:
        return None, (
            f"only {len(rows)} labeled rows were logged after {challenger.ref} was registered "
            f"({policy.gate.min_rows} needed, loop.gate.min_rows)"
        )
    return rows, f"the {len(rows)} labeled rows logged after {challenger.ref} was registered"


def secondary_policy_for(metric: str, gate: GateSettings) -> GatePolicy:
    """How a metric is judged on the original test set: non-inferior within ``secondary_margin``."""
    return GatePolicy(mode="non_inferior", margin={metric: gate.secondary_margin}, alpha=gate.alpha)


def _proba_fn(model: Any) -> Any:
    if not hasattr(model, "predict_proba"):
        return None
    return lambda frame: np.asarray(model.predict_proba(frame), dtype=float)
