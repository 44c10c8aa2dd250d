"""Guardrail fixtures from issue 11 (acceptance 3): each must fail; and no data is never a pass."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modelward.errors import ConfigError, DataError
from modelward.evaluation import error_budget, input_error_guardrail, latency_guardrail


def test_sparse_new_errors_fail_the_error_budget() -> None:
    r = error_budget([0, 0, 0, 0, 0, 0], [0, 1, 2, 1, 0, 0])  # kayenta#426
    assert r.failed and r.details["new_errors"] == 4 and "> budget 2" in r.reason


def test_errors_shared_with_the_champion_do_not_count() -> None:
    r = error_budget([0, 5, 0, 2], [1, 6, 0, 3])
    assert r.passed and r.details["new_errors"] == 1
    assert error_budget([0, 0], [1, 2], budget=3).passed
    assert error_budget([0, 0], [1, 1], budget=2).passed
    assert error_budget([0, 0], [1, 3], budget=2).failed


def test_no_traffic_is_not_a_pass() -> None:
    assert error_budget([], []).status == "insufficient_data"
    assert error_budget([0, 0], [0, 0], challenger_requests=[0, 0]).status == "insufficient_data"
    assert latency_guardrail([10.0] * 50, []).status == "insufficient_data"
    assert latency_guardrail([10.0] * 50, [10.0] * 20).status == "insufficient_data"  # < min_samples


def test_a_variance_blow_up_with_the_same_median_fails_p99() -> None:
    rng = np.random.default_rng(7)
    champion = rng.normal(50, 5, 3000)
    challenger = rng.normal(50, 25, 3000)  # kayenta#780: same centre, wider spread
    assert abs(np.median(challenger) - np.median(champion)) < 2
    r = latency_guardrail(champion, challenger)
    assert r.failed and r.challenger is not None and r.limit is not None and r.challenger > r.limit


def test_seven_slow_of_ten_fail_at_once() -> None:
    r = latency_guardrail([1.0] * 10, [100.0] * 7 + [1.0] * 3)  # spinnaker#6278
    assert r.failed and r.details["above_limit"] == 7


def test_one_slow_request_is_not_enough_to_fail_or_pass() -> None:
    r = latency_guardrail([10.0] * 200, [10.0] * 9 + [300.0])
    assert r.status == "insufficient_data"


def test_a_quantile_above_the_limit_by_chance_neither_fails_nor_passes() -> None:
    # 57 requests: the p99 is nearly the maximum, and two hiccups put it above the limit, yet 2 of 57
    # above a p99 limit (expected 0.57) is p = 0.11: not beyond chance at alpha 0.001
    r = latency_guardrail([10.0] * 2000, [10.0] * 55 + [90.0, 95.0], min_samples=10)
    assert r.challenger is not None and r.limit is not None and r.challenger > r.limit
    assert r.status == "insufficient_data" and "could be chance" in r.reason
    assert r.details["above_limit"] == 2 and 0.05 < r.details["p_value_exceedances"] < 0.2
    slow = latency_guardrail([10.0] * 2000, [10.0] * 50 + [90.0] * 7, min_samples=10)
    assert slow.failed  # seven of 57: p < 0.001


def test_similar_latency_passes() -> None:
    rng = np.random.default_rng(8)
    r = latency_guardrail(rng.gamma(4, 5, 5000), rng.gamma(4, 5, 5000))
    assert r.passed
    assert json.dumps(r.to_dict(), allow_nan=False)


def test_bad_inputs() -> None:
    with pytest.raises(DataError, match="same intervals"):
        error_budget([0, 0], [0])
    with pytest.raises(DataError, match="whole counts"):
        error_budget([0, 0.5], [0, 0])
    with pytest.raises(ConfigError, match="budget"):
        error_budget([0], [0], budget=-1)
    with pytest.raises(ConfigError, match="quantile"):
        latency_guardrail([1.0], [1.0], quantile=1.5)


def test_input_errors_beyond_the_champions_rate_fail() -> None:
    failed = input_error_guardrail(3, 1000, 12, 200)  # 0.3 % vs 6 %: the challenger refuses what passed
    assert failed.status == "fail" and failed.reason.startswith("challenger input-error rate 12/200 above")
    assert input_error_guardrail(3, 1000, 3, 200).status == "pass"  # 1.5 %, within 0.4 % + 1 point
    waiting = input_error_guardrail(3, 1000, 0, 20)
    assert waiting.status == "insufficient_data" and "20 challenger requests < 50" in waiting.reason
    with pytest.raises(DataError, match="input errors cannot outnumber the requests"):
        input_error_guardrail(0, 10, 11, 10)
    with pytest.raises(DataError, match="challenger_requests must be a whole count >= 0, got -1"):
        input_error_guardrail(0, 10, 0, -1)
    with pytest.raises(ConfigError, match="margin must be in"):
        input_error_guardrail(0, 10, 0, 10, margin=1.5)
