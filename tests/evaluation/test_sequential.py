"""The mixture SPRT: the ANCHORS formula, incremental updates, persistence and decisions."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from modelward.errors import ConfigError, DataError
from modelward.evaluation import MixtureSPRT, optimal_mixing_ratio


def _anchors_lambda(n: int, v_one: float, tau: float, diff: float) -> float:
    """ANCHORS.md: Lambda_n = sqrt(V / (V + n tau^2)) exp(n^2 tau^2 (Y - X)^2 / (2 V (V + n tau^2)))."""
    t2 = tau * tau
    return math.sqrt(v_one / (v_one + n * t2)) * math.exp(
        n * n * t2 * diff * diff / (2 * v_one * (v_one + n * t2))
    )


def test_equal_arms_reproduce_the_published_formula() -> None:
    rng = np.random.default_rng(0)
    test = MixtureSPRT(tau=0.05, min_samples=2)
    p_running = 1.0
    a_all, b_all = np.empty(0), np.empty(0)
    for _ in range(20):
        a, b = rng.normal(0, 1, 25), rng.normal(0.5, 1, 25)
        test.update(a, b)
        a_all, b_all = np.concatenate([a_all, a]), np.concatenate([b_all, b])
        n = a_all.size
        v_one = a_all.var(ddof=1) + b_all.var(ddof=1)  # variance of one difference, V
        lam = _anchors_lambda(n, v_one, 0.05, b_all.mean() - a_all.mean())
        p_running = min(p_running, 1 / lam) if lam > 1 else p_running
        # Tolerance 1e-9 relative: the same closed form, computed through log Lambda.
        assert test.p_value == pytest.approx(p_running, rel=1e-9)
        assert test.estimate == pytest.approx(b_all.mean() - a_all.mean(), abs=1e-12)
    assert test.decision == "benefit" and test.p_value < 0.05


def test_interval_is_the_inverted_test() -> None:
    """Outside the always-valid interval, Lambda(theta0) >= 1 / alpha (checked at the interval's ends)."""
    rng = np.random.default_rng(1)
    test = MixtureSPRT(tau=0.1, min_samples=2).update(rng.normal(0, 1, 400), rng.normal(0.1, 1, 400))
    lo, hi = test.ci
    a_var, b_var = 1.0, 1.0  # recompute from the state instead of trusting it
    state = test.to_dict()["arms"]
    a_var = state["champion"]["m2"] / (state["champion"]["n"] - 1)
    b_var = state["challenger"]["m2"] / (state["challenger"]["n"] - 1)
    v = a_var / 400 + b_var / 400
    for edge in (lo, hi):
        d = test.estimate - edge
        log_lr = 0.5 * math.log(v / (v + 0.01)) + 0.01 * d * d / (2 * v * (v + 0.01))
        assert log_lr == pytest.approx(math.log(1 / 0.05), rel=1e-9)


def test_batches_of_any_size_give_the_same_state() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 600), rng.normal(0, 1, 600)
    whole = MixtureSPRT(tau=0.1).update(a, b)
    one_by_one = MixtureSPRT(tau=0.1)
    for i in range(0, 600, 37):
        one_by_one.update(a[i : i + 37], b[i : i + 37])
    # sufficient statistics merge exactly (Chan et al.), so the estimate and final variance agree
    assert one_by_one.estimate == pytest.approx(whole.estimate, abs=1e-12)
    assert one_by_one.to_dict()["arms"]["champion"]["m2"] == pytest.approx(
        whole.to_dict()["arms"]["champion"]["m2"], rel=1e-12
    )


def test_tau_is_tuned_once_from_the_expected_sample_size() -> None:
    rng = np.random.default_rng(3)
    test = MixtureSPRT(expected_n=4000, min_samples=30)
    test.update(rng.normal(0, 2, 10), rng.normal(0, 2, 10))
    assert test.tau_ is None and test.decision == "continue"  # too few rows for any judgement
    test.update(rng.normal(0, 2, 90), rng.normal(0, 2, 90))
    arms = test.to_dict()["arms"]
    v = sum(arm["m2"] / (arm["n"] - 1) / arm["n"] for arm in arms.values())
    assert test.tau_ == pytest.approx(math.sqrt(optimal_mixing_ratio(0.05) * v * 200 / 4000), rel=1e-12)
    tau = test.tau_
    test.update(rng.normal(0, 5, 500), rng.normal(0, 5, 500))
    assert test.tau_ == tau
    r = optimal_mixing_ratio(0.05)
    assert r == pytest.approx(2 * math.log(20) + math.log1p(r), abs=1e-12)


def test_binary_outcomes_and_unequal_arms() -> None:
    rng = np.random.default_rng(4)
    test = MixtureSPRT(outcome="binary", higher_is_better=False)
    for _ in range(100):
        test.update(rng.random(180) < 0.01, rng.random(20) < 0.03)
        if test.decision != "continue":
            break
    assert test.decision == "harm"
    lo, _ = test.ci
    assert lo > 0 and test.n_champion == 9 * test.n_challenger
    with pytest.raises(DataError, match="binary outcomes must be 0 or 1"):
        MixtureSPRT(outcome="binary").update([0, 2], [1])


def test_non_inferiority_mode() -> None:
    rng = np.random.default_rng(5)
    test = MixtureSPRT(mode="non_inferior", margin=0.2, min_samples=2)
    for _ in range(50):
        test.update(rng.normal(0, 1, 100), rng.normal(-0.02, 1, 100))
        if test.decision != "continue":
            break
    assert test.decision == "non_inferior"
    lo, _ = test.ci
    assert lo > -0.2


def test_decision_is_kept_and_state_round_trips_through_json() -> None:
    rng = np.random.default_rng(6)
    test = MixtureSPRT(min_samples=2)
    test.update(rng.normal(0, 1, 500), rng.normal(1, 1, 500))
    assert test.decision == "benefit"
    decided = test.state().decided_at_look
    test.update(rng.normal(1, 1, 500), rng.normal(0, 1, 500))
    assert test.decision == "benefit" and test.state().decided_at_look == decided
    saved = json.loads(json.dumps(test.to_dict(), allow_nan=False))
    back = MixtureSPRT.from_dict(saved)
    assert back.state() == test.state()
    back.update([0.5], [0.5])
    assert back.looks == test.looks + 1
    assert json.dumps(test.state().to_dict(), allow_nan=False)
    with pytest.raises(DataError, match="Not a saved MixtureSPRT state"):
        MixtureSPRT.from_dict({"params": {}})


def test_no_data_never_decides() -> None:
    test = MixtureSPRT()
    test.update([], [])
    test.update([1.0] * 50, [])
    assert test.decision == "continue" and test.p_value == 1.0 and test.ci == (-math.inf, math.inf)
    assert math.isnan(test.estimate)
    const = MixtureSPRT(min_samples=2).update([1.0] * 50, [1.0] * 50)
    assert const.decision == "continue"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 0.7}, "alpha"),
        ({"outcome": "counts"}, "outcome must be one of"),
        ({"mode": "better"}, "mode must be one of"),
        ({"mode": "non_inferior"}, "needs margin > 0"),
        ({"expected_n": 0}, "expected_n must be an integer"),
        ({"tau": -1.0}, "tau must be a positive number"),
    ],
)
def test_bad_parameters(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MixtureSPRT(**kwargs)  # type: ignore[arg-type]


def test_an_errorless_small_canary_arm_is_not_evidence() -> None:
    """Champion 33 errors in 2,700 requests, canary none in 300: at a shared 1.2 % rate no error in 300
    happens 3 % of the time, so no decision. (Each arm's own variance made this 'a difference' and 7 % of
    A/A canaries decided before the pooled floor.)"""
    test = MixtureSPRT(outcome="binary", higher_is_better=False)
    for _ in range(6):
        test.update([1] * 5 + [0] * 445 if _ < 3 else [1] * 6 + [0] * 444, [0] * 50)
    assert (test.n_champion, test.n_challenger) == (2700, 300)
    assert test.decision == "continue" and test.p_value > 0.05
