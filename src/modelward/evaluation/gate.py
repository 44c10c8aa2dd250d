"""The gate's decision: promote the challenger or keep the champion, with a reason per item.

:func:`decide` takes the paired comparisons (McNemar, bootstrap, DeLong, Wilcoxon results), optionally
a behavioral report, and a :class:`GatePolicy`, and judges every item:

* ``mode="superior"``: each comparison must show the challenger better at ``alpha`` (its one-sided
  p-value below ``alpha``; for a bootstrap, the one-sided ``1 - alpha`` lower bound of the improvement
  above 0);
* ``mode="non_inferior"``: each comparison's one-sided ``1 - alpha`` lower bound of the improvement
  must lie above ``-margin`` (the challenger is shown at most ``margin`` worse, in the metric's units:
  0.01 = one accuracy point). The margin is per metric when given as a mapping.

The challenger is promoted only when **every** item passes, behavioral tests included. Requiring all
items to pass is an intersection-union test: the chance of promoting a challenger that is not better on
some metric stays at most ``alpha`` without any multiplicity correction. No comparison at all is a
rejection: never a pass on no data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from modelward.errors import ConfigError
from modelward.evaluation._json import jsonable
from modelward.evaluation.behavioral.runner import BehavioralReport
from modelward.evaluation.result import PairedComparison, check_alpha

Mode = Literal["superior", "non_inferior"]
MODES: tuple[str, ...] = ("superior", "non_inferior")


@dataclass(frozen=True)
class GatePolicy:
    """How the gate judges: ``mode``, ``margin`` (metric units; a number or ``{metric: margin}``) and the
    one-sided ``alpha`` every comparison was computed at."""

    mode: Mode = "superior"
    margin: float | Mapping[str, float] = 0.0
    alpha: float = 0.05

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(
                f"gate mode must be one of {', '.join(MODES)}, got {self.mode!r}.", details={"key": "mode"}
            )
        check_alpha(self.alpha)
        margins = self.margin.values() if isinstance(self.margin, Mapping) else [self.margin]
        for m in margins:
            if isinstance(m, bool) or not isinstance(m, int | float) or not math.isfinite(m) or m < 0:
                raise ConfigError(
                    f"gate margin must be a finite number >= 0 in the metric's units, got {m!r}.",
                    details={"key": "margin"},
                )
        if self.mode == "non_inferior" and not isinstance(self.margin, Mapping) and self.margin == 0:
            raise ConfigError(
                "mode non_inferior needs a margin > 0 (how much worse the challenger may be, in "
                "the metric's units, e.g. 0.01); with no margin use mode superior.",
                details={"key": "margin"},
            )

    def margin_for(self, metric: str) -> float:
        """The margin for ``metric`` (0 when a mapping does not name it)."""
        if isinstance(self.margin, Mapping):
            return float(self.margin.get(metric, 0.0))
        return float(self.margin)

    def to_dict(self) -> dict[str, Any]:
        margin = dict(self.margin) if isinstance(self.margin, Mapping) else self.margin
        return {"mode": self.mode, "margin": margin, "alpha": self.alpha}


@dataclass(frozen=True)
class GateItem:
    """One judged item: a comparison, a behavioral test or a fairness rule, whether it passed, and why."""

    name: str
    kind: Literal["comparison", "behavioral", "fairness"]
    passed: bool
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GateDecision:
    """Promote or reject, the policy applied, and every item's verdict."""

    promote: bool
    policy: GatePolicy
    items: tuple[GateItem, ...]
    reason: str

    @property
    def decision(self) -> Literal["promote", "reject"]:
        return "promote" if self.promote else "reject"

    @property
    def failed(self) -> tuple[GateItem, ...]:
        return tuple(i for i in self.items if not i.passed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "promote": self.promote,
            "reason": self.reason,
            "policy": self.policy.to_dict(),
            "items": [
                jsonable(
                    {
                        "name": i.name,
                        "kind": i.kind,
                        "passed": i.passed,
                        "reason": i.reason,
                        "evidence": i.evidence,
                    }
                )
                for i in self.items
            ],
        }


def decide(
    comparisons: Sequence[PairedComparison],
    policy: GatePolicy | None = None,
    *,
    behavioral: BehavioralReport | None = None,
) -> GateDecision:
    """Judge every comparison (and behavioral test) under ``policy``; promote only if all pass.

    >>> from modelward.evaluation import mcnemar_counts
    >>> better = mcnemar_counts(550, 450, 10_000)          # challenger right on 55 % of disagreements
    >>> d = decide([better])
    >>> d.decision, d.items[0].passed
    ('promote', True)
    >>> d = decide([mcnemar_counts(500, 500, 10_000)], GatePolicy(mode="superior"))
    >>> d.decision
    'reject'
    >>> print(d.items[0].reason)
    accuracy (McNemar, chi2): challenger - champion +0; one-sided p = 0.5126 >= alpha 0.05: not shown better.
    >>> decide([mcnemar_counts(500, 500, 10_000)], GatePolicy(mode="non_inferior", margin=0.01)).decision
    'promote'
    """
    policy = policy or GatePolicy()
    items: list[GateItem] = []
    for comparison in comparisons:
        if not math.isclose(comparison.alpha, policy.alpha, rel_tol=0.0, abs_tol=1e-12):
            raise ConfigError(
                f"The {comparison.metric} comparison was computed at alpha {comparison.alpha:g}, but "
                f"the policy's alpha is {policy.alpha:g}; recompute it with alpha={policy.alpha:g}."
            )
        items.append(_judge(comparison, policy))
    if behavioral is not None:
        for r in behavioral.results:
            items.append(
                GateItem(
                    name=r.name,
                    kind="behavioral",
                    passed=r.passed,
                    reason=f"behavioral test {r.name!r} ({r.type}): {r.reason}.",
                    evidence=r.to_dict(),
                )
            )
    if not comparisons:
        items.append(
            GateItem(
                name="evidence",
                kind="comparison",
                passed=False,
                reason="no paired comparison was given: never a pass on no data.",
            )
        )
    failed = [i for i in items if not i.passed]
    if failed:
        reason = (
            f"rejected: {len(failed)} of {len(items)} items failed ({', '.join(i.name for i in failed)})."
        )
    else:
        reason = f"promoted: all {len(items)} items passed ({policy.mode}, alpha {policy.alpha:g})."
    return GateDecision(promote=not failed, policy=policy, items=tuple(items), reason=reason)


_TESTS = {
    "exact": "McNemar, exact",
    "chi2": "McNemar, chi2",
    "delong": "DeLong",
    "wilcoxon": "Wilcoxon",
    "bootstrap_bca": "paired bootstrap, BCa",
    "bootstrap_percentile": "paired bootstrap, percentile",
}


def _judge(c: PairedComparison, policy: GatePolicy) -> GateItem:
    label = f"{c.metric} ({_TESTS.get(c.test, c.test)})"
    if math.isnan(c.challenger) or math.isnan(c.champion):
        head = f"{label}: challenger - champion {c.difference:+.4g}"
    else:
        head = f"{label}: challenger {c.challenger:.4g} vs champion {c.champion:.4g} ({c.difference:+.4g})"
    if not c.higher_is_better:
        head += ", lower is better"
    if policy.mode == "superior":
        passed = c.shows_better()
        if c.p_value is not None:
            rel = "<" if passed else ">="
            why = f"one-sided p = {c.p_value:.4g} {rel} alpha {c.alpha:g}"
        else:
            rel = ">" if passed else "<="
            why = f"{1 - c.alpha:.0%} lower bound of the improvement {c.improvement_lower:+.4g} {rel} 0"
        verdict = "better" if passed else "not shown better"
    else:
        margin = policy.margin_for(c.metric)
        passed = c.shows_non_inferior(margin)
        rel = ">" if passed else "<="
        why = f"{1 - c.alpha:.0%} lower bound of the improvement {c.improvement_lower:+.4g} {rel} -margin {-margin:g}"
        verdict = (
            f"non-inferior within {margin:g}" if passed else f"not shown within {margin:g} of the champion"
        )
    return GateItem(
        name=c.metric,
        kind="comparison",
        passed=passed,
        reason=f"{head}; {why}: {verdict}.",
        evidence=c.to_dict(),
    )
