"""decide(): promote only when every item passes, and say why item by item."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modelward.errors import ConfigError
from modelward.evaluation import (
    GatePolicy,
    decide,
    delong,
    load_suite,
    mcnemar_counts,
    paired_bootstrap,
    run_suite,
)


def test_superior_mode_needs_every_item_better() -> None:
    better = mcnemar_counts(560, 440, 10_000)
    tie = mcnemar_counts(500, 500, 10_000)
    assert decide([better]).promote
    d = decide([better, tie])
    assert not d.promote and d.decision == "reject"
    assert [i.passed for i in d.items] == [True, False]
    assert "not shown better" in d.items[1].reason and "p = " in d.items[1].reason
    assert d.reason.startswith("rejected: 1 of 2 items failed")


def test_non_inferior_mode_uses_the_margin() -> None:
    slightly_worse = mcnemar_counts(480, 520, 10_000)  # -0.4 points, 90 % CI about [-0.9, +0.1]
    assert not decide([slightly_worse], GatePolicy(mode="superior")).promote
    assert decide([slightly_worse], GatePolicy(mode="non_inferior", margin=0.01)).promote
    d = decide([slightly_worse], GatePolicy(mode="non_inferior", margin=0.005))
    assert not d.promote and "not shown within 0.005" in d.items[0].reason
    per_metric = GatePolicy(mode="non_inferior", margin={"accuracy": 0.01})
    assert decide([slightly_worse], per_metric).promote


def test_bootstrap_items_are_judged_on_their_lower_bound() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 3000)
    champ = np.where(rng.random(3000) < 0.8, y, 1 - y)
    chall = np.where(rng.random(3000) < 0.9, y, 1 - y)
    r = paired_bootstrap(y, champ, chall, metric="f1", n_resamples=999)
    item = decide([r]).items[0]
    assert item.passed and "lower bound of the improvement" in item.reason
    worse = paired_bootstrap(y, chall, champ, metric="f1", n_resamples=999)
    assert not decide([worse], GatePolicy(mode="non_inferior", margin=0.01)).promote


def test_behavioral_failures_reject_with_their_reason() -> None:
    suite = load_suite(
        "tests: [{name: rich approved, type: minimum_functionality, "
        "cases: [{input: {income: 9}, expect: 1}]}]"
    )
    report = run_suite(suite, lambda frame: np.zeros(len(frame), dtype=int))
    d = decide([mcnemar_counts(560, 440, 10_000)], behavioral=report)
    assert not d.promote
    item = d.failed[0]
    assert (
        item.kind == "behavioral"
        and "rich approved" in item.reason
        and "expected prediction == 1" in item.reason
    )


def test_no_evidence_is_never_a_pass() -> None:
    d = decide([])
    assert not d.promote and "never a pass on no data" in d.items[0].reason


def test_alpha_must_match_and_policy_is_checked() -> None:
    with pytest.raises(ConfigError, match="recompute it with alpha=0.01"):
        decide([mcnemar_counts(560, 440, 10_000)], GatePolicy(alpha=0.01))
    with pytest.raises(ConfigError, match="needs a margin > 0"):
        GatePolicy(mode="non_inferior")
    with pytest.raises(ConfigError, match="mode must be one of"):
        GatePolicy(mode="better")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="margin must be a finite number"):
        GatePolicy(mode="non_inferior", margin=-0.1)


def test_decision_is_json_safe_with_every_number() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    s1, s2 = y + rng.normal(0, 1, 500), y + rng.normal(0, 0.8, 500)
    d = decide([mcnemar_counts(30, 10, 500), delong(y, s1, s2)])
    text = json.dumps(d.to_dict(), allow_nan=False)
    back = json.loads(text)
    evidence = back["items"][1]["evidence"]
    for key in (
        "champion",
        "challenger",
        "difference",
        "lower",
        "upper",
        "p_value",
        "statistic",
        "alpha",
        "n",
    ):
        assert evidence[key] is not None, key
    assert back["policy"] == {"mode": "superior", "margin": 0.0, "alpha": 0.05}
