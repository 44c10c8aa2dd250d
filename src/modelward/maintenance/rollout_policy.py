"""What a rollout does next, from its evidence: a pure function, so every rule is tested without a server.

:func:`decide` takes the sequential test's state, the guardrails' verdicts and the clock, and returns a
:class:`Verdict`, in this order of precedence:

1. **roll back** at once when a guardrail fails (error budget, p99 latency, input-error rate) or the
   always-valid test shows harm: its interval shows the challenger worse at all (the non-inferiority
   ``margin`` only bounds what a promotion must show; a challenger shown worse is not promoted however
   small the loss);
2. **advance** a canary to its next step once it has spent ``step_seconds`` at the current one and every
   guardrail *passes* (enough challenger traffic to judge; "insufficient data" never moves a canary on);
3. **promote** at the last step below 100 % (for shadow and ab: their only step) once the step's time is
   spent, every guardrail passes and the test shows the challenger not worse (``promote_when:
   non_inferior``) or better (``superior``);
4. at the **deadline** without a promotion: the configured ``on_deadline`` (roll back, or hold the split
   for an operator) with what was missing said plainly; never a promotion on missing data;
5. else **continue**, saying what it waits for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from modelward.evaluation import GuardrailResult, SequentialState
from modelward.loop_settings import RolloutSettings

__all__ = ["Action", "Verdict", "decide", "harmed", "last_traffic_step"]

Action = Literal["continue", "advance", "promote", "roll_back", "deadline"]


@dataclass(frozen=True)
class Verdict:
    """The action and the plain-words reason behind it."""

    action: Action
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "reason": self.reason}


def last_traffic_step(steps: Sequence[float]) -> int:
    """Index of the last step that still leaves the champion traffic (a final 100 % is the promotion).

    >>> last_traffic_step([5, 25, 50, 100]), last_traffic_step([10, 30])
    (2, 1)
    """
    below = [i for i, s in enumerate(steps) if s < 100]
    return below[-1] if below else 0


def harmed(test: SequentialState) -> bool:
    """The always-valid interval shows the challenger worse at all (whatever the non-inferiority margin,
    which only bounds what a promotion must show), or the test decided harm.

    >>> from modelward.evaluation import MixtureSPRT
    >>> test = MixtureSPRT(outcome="binary", higher_is_better=False, mode="non_inferior", margin=0.05)
    >>> harmed(test.update([0] * 950 + [1] * 50, [0] * 900 + [1] * 100).state())  # 5 % vs 10 % errors
    True
    """
    high = test.upper if test.higher_is_better else -test.lower
    return test.decision == "harm" or high < 0


def _test_words(test: SequentialState) -> str:
    if test.tau is None:  # not evaluated yet: too few rows on an arm
        return (
            f"{test.n_challenger} labeled challenger rows and {test.n_champion} champion rows so far "
            "(the test judges once each arm has min_rows)"
        )
    return (
        f"error difference {test.estimate:+.4g} (challenger - champion), always-valid {1 - test.alpha:.0%} "
        f"interval [{test.lower:+.4g}, {test.upper:+.4g}], p = {test.p_value:.3g}, "
        f"{test.n_challenger} + {test.n_champion} labeled rows"
    )


def decide(
    *,
    mode: str,
    step: int,
    steps: Sequence[float],
    test: SequentialState,
    guardrails: Sequence[GuardrailResult],
    step_elapsed: float,
    elapsed: float,
    settings: RolloutSettings,
) -> Verdict:
    """The next action of a rollout (see the module docstring)."""
    failed = [g for g in guardrails if g.failed]
    if failed:
        return Verdict(
            "roll_back", "guardrail breached: " + "; ".join(f"{g.name}: {g.reason}" for g in failed)
        )
    if harmed(test):
        return Verdict("roll_back", f"the sequential test shows the challenger worse: {_test_words(test)}")
    waiting = [g for g in guardrails if g.status == "insufficient_data"]
    # A replay (the backtest) measures no guardrail: none is listed, and the reasons say so.
    guards = "every guardrail passes" if guardrails else "no guardrail is measured"
    step_done = step_elapsed >= settings.step_seconds
    last = last_traffic_step(steps) if mode == "canary" else 0
    if mode == "canary" and step < last and step_done and not waiting:
        return Verdict(
            "advance",
            f"{guards} at {steps[step]:g} % after {step_elapsed:.0f} s: moving to {steps[step + 1]:g} %",
        )
    wanted = ("benefit",) if settings.promote_when == "superior" else ("benefit", "non_inferior")
    shown = test.decision in wanted
    if step >= last and step_done and not waiting and shown:
        return Verdict(
            "promote",
            f"the sequential test shows the challenger {'better' if test.decision == 'benefit' else 'not worse'} "
            f"({_test_words(test)}) and {guards}",
        )
    missing = _missing(test, waiting, shown, step_done, step < last, settings)
    if elapsed >= settings.deadline:
        return Verdict(
            "deadline", f"deadline of {settings.deadline:.0f} s passed without a decision: {missing}"
        )
    return Verdict("continue", f"waiting: {missing}")


def _missing(
    test: SequentialState,
    waiting: Sequence[GuardrailResult],
    shown: bool,
    step_done: bool,
    more_steps: bool,
    settings: RolloutSettings,
) -> str:
    parts: list[str] = []
    if not shown:
        need = "better" if settings.promote_when == "superior" else f"not worse than {settings.margin:g}"
        parts.append(f"the sequential test has not shown the challenger {need} ({_test_words(test)})")
    parts += [f"{g.name}: {g.reason}" for g in waiting]
    if not step_done:
        parts.append(f"the step lasts at least {settings.step_seconds:.0f} s")
    elif more_steps and not waiting:
        parts.append("the next step")
    return "; ".join(parts) or "nothing"
