"""The rollout's decision rules under continuous monitoring, a reduced version of `make validate` run
through :func:`decide` itself (seeded, 300 rollouts each, a decision after every batch of 200 requests,
up to 100 looks, the canary fixed at 10 %, default settings):

* A/A (error rate 10 % and 1 % on both arms): a rollback is a false harm; its rate must stay within alpha = 5 %
  (upper 95 % bound at most 6 %). Measured: 0 of 600.
* a degraded canary (errors 1 % → 3 %): rolled back before any promotion in at least 95 % of runs.
  Measured: 299 of 300, after a median of 7,600 requests.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from modelward.evaluation import GuardrailResult, MixtureSPRT
from modelward.loop_settings import RolloutSettings
from modelward.maintenance.rollout_policy import decide

SETTINGS = RolloutSettings(step_seconds=0, deadline=10**9)
PASS = GuardrailResult("latency_p99", "pass", "within the limit", 1.0, 1.0, 6.0)


def _rollout(p_champion: float, p_canary: float, seed: int) -> tuple[str, int]:
    rng = np.random.default_rng(seed)
    test = MixtureSPRT(
        alpha=SETTINGS.alpha,
        outcome="binary",
        higher_is_better=False,
        mode="non_inferior",
        margin=SETTINGS.margin,
        expected_n=SETTINGS.expected_rows,
        min_samples=SETTINGS.min_rows,
    )
    for look in range(1, 101):
        canary = rng.random(200) < 0.1
        n = int(canary.sum())
        test.update(rng.random(200 - n) < p_champion, rng.random(n) < p_canary)
        verdict = decide(
            mode="ab",
            step=0,
            steps=[10],
            test=test.state(),
            guardrails=[PASS],
            step_elapsed=1.0,
            elapsed=1.0,
            settings=SETTINGS,
        )
        if verdict.action != "continue":
            return verdict.action, look * 200
    return "continue", 20_000


def _upper(k: int, n: int) -> float:
    return float(stats.beta.ppf(0.975, k + 1, n - k)) if k < n else 1.0  # Clopper-Pearson


@pytest.mark.slow
def test_a_and_a_rollouts_are_rarely_rolled_back_and_a_degraded_canary_is() -> None:
    same = [_rollout(p, p, seed)[0] for p in (0.1, 0.01) for seed in range(300)]
    false_harm = same.count("roll_back")
    assert _upper(false_harm, len(same)) <= 0.06, false_harm
    degraded = [_rollout(0.01, 0.03, 1000 + seed) for seed in range(300)]
    rolled_back = [rows for action, rows in degraded if action == "roll_back"]
    assert len(rolled_back) >= 0.95 * len(degraded), [a for a, _ in degraded].count("promote")
    print(
        f"A/A false rollbacks {false_harm}/{len(same)}; degraded canary rolled back "
        f"{len(rolled_back)}/{len(degraded)}, median {np.median(rolled_back):.0f} requests"
    )
