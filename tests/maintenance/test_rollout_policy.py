"""The rollout's decision rules, pure: precedence of a guardrail breach and harm, steps only on passing
guardrails and after the step's time, promotion only at the last step on a shown result, the deadline
said plainly and never a promotion."""

from __future__ import annotations

from typing import Any

import pytest

from modelward.evaluation import GuardrailResult, MixtureSPRT, SequentialState
from modelward.loop_settings import RolloutSettings
from modelward.maintenance.rollout_policy import decide, last_traffic_step

SETTINGS = RolloutSettings(step_seconds=60, deadline=600, margin=0.05)
PASS = GuardrailResult("latency_p99", "pass", "fine", 1.0, 1.0, 6.0)
WAIT = GuardrailResult("error_budget", "insufficient_data", "no traffic is not a pass", 0.0, 0.0, 2.0)
FAIL = GuardrailResult("error_budget", "fail", "4 new errors > budget 2", 0.0, 4.0, 2.0)


def _test(decision: str) -> SequentialState:
    test = MixtureSPRT(outcome="binary", higher_is_better=False, mode="non_inferior", margin=0.05)
    if decision == "none":
        return test.state()
    rate = {"harm": 0.5, "non_inferior": 0.05, "continue": 0.05}[decision]
    n = 40 if decision == "continue" else 3000
    test.update(
        [0.0] * int(n * 0.95) + [1.0] * int(n * 0.05), [0.0] * int(n * (1 - rate)) + [1.0] * int(n * rate)
    )
    assert test.decision == decision
    return test.state()


def _decide(decision: str = "non_inferior", guardrails: Any = (PASS,), **kw: Any) -> tuple[str, str]:
    args: dict[str, Any] = {
        "mode": "canary",
        "step": 0,
        "steps": [5, 25, 100],
        "step_elapsed": 61.0,
        "elapsed": 61.0,
        "settings": SETTINGS,
        **kw,
    }
    verdict = decide(test=_test(decision), guardrails=list(guardrails), **args)
    return verdict.action, verdict.reason


def test_a_breach_or_harm_rolls_back_whatever_else_holds() -> None:
    action, reason = _decide("non_inferior", (PASS, FAIL), step_elapsed=0.0)
    assert action == "roll_back" and reason == "guardrail breached: error_budget: 4 new errors > budget 2"
    action, reason = _decide("harm", step_elapsed=0.0)
    assert action == "roll_back" and reason.startswith(
        "the sequential test shows the challenger worse: error difference +0.45"
    )


def test_a_challenger_shown_worse_within_the_margin_is_rolled_back_not_promoted() -> None:
    test = MixtureSPRT(outcome="binary", higher_is_better=False, mode="non_inferior", margin=0.05)
    test.update([0.0] * 9900 + [1.0] * 100, [0.0] * 9700 + [1.0] * 300)  # 1 % vs 3 %: inside the margin
    args: dict[str, Any] = {"mode": "ab", "step": 0, "steps": [50], "step_elapsed": 61.0, "elapsed": 61.0}
    verdict = decide(test=test.state(), guardrails=[PASS], settings=SETTINGS, **args)
    assert test.decision == "non_inferior" and verdict.action == "roll_back", verdict


def test_a_canary_moves_on_only_with_passing_guardrails_after_the_steps_time() -> None:
    assert _decide("none")[0] == "advance"  # labels are not needed to widen a healthy canary
    assert _decide("none", step_elapsed=59.0)[0] == "continue"
    action, reason = _decide("non_inferior", (PASS, WAIT))
    assert action == "continue" and "error_budget: no traffic is not a pass" in reason
    assert _decide("non_inferior", step=1)[0] == "promote"  # 25 % is the last step below 100
    assert _decide("none", step=1)[0] == "continue"


def test_ab_and_shadow_promote_from_their_one_step_on_a_shown_result() -> None:
    for mode in ("ab", "shadow"):
        assert _decide("non_inferior", mode=mode, steps=[50])[0] == "promote"
        assert _decide("continue", mode=mode, steps=[50])[0] == "continue"
    superior = RolloutSettings(step_seconds=60, promote_when="superior")
    assert _decide("non_inferior", mode="ab", steps=[50], settings=superior)[0] == "continue"


def test_the_deadline_says_what_was_missing_and_never_promotes() -> None:
    action, reason = _decide("none", (PASS, WAIT), step=1, elapsed=601.0)
    assert action == "deadline"
    assert reason.startswith("deadline of 600 s passed without a decision: the sequential test has not shown")
    assert "0 labeled challenger rows and 0 champion rows so far" in reason
    assert "error_budget: no traffic is not a pass" in reason


@pytest.mark.parametrize(("steps", "last"), [([5, 25, 50, 100], 2), ([10, 30], 1), ([100], 0)])
def test_the_last_traffic_step(steps: list[float], last: int) -> None:
    assert last_traffic_step(steps) == last
