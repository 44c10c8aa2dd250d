"""The statistics the maintenance loop calls: pure, arrays in and results out, no I/O, no store.

* gate (champion vs challenger on the same rows): :func:`mcnemar` (accuracy), :func:`paired_bootstrap`
  (F1, log loss, any metric), :func:`delong` (ROC AUC), :func:`wilcoxon_abs_errors` (regression), all
  returning a :class:`PairedComparison`; :func:`decide` turns them and a :class:`GatePolicy` into a
  :class:`GateDecision` with a reason per item;
* behavioral tests: :func:`load_suite` / :func:`read_suite` and :func:`run_suite`
  (:mod:`modelward.evaluation.behavioral`);
* rollouts: :class:`MixtureSPRT`, an always-valid sequential test, and the guardrails
  :func:`error_budget`, :func:`latency_guardrail` and
  :func:`input_error_guardrail`;
* :mod:`modelward.evaluation.simulate`: the seeded simulations that check the gate and the sequential
  test keep their error rates (``make validate``).
"""

from __future__ import annotations

from modelward.evaluation.behavioral import (
    BehavioralReport,
    BehavioralSuite,
    BehavioralTest,
    load_suite,
    read_suite,
    run_suite,
)
from modelward.evaluation.bootstrap import paired_bootstrap
from modelward.evaluation.delong import delong, delong_covariance
from modelward.evaluation.gate import GateDecision, GateItem, GatePolicy, decide
from modelward.evaluation.guardrails import (
    GuardrailResult,
    error_budget,
    input_error_guardrail,
    latency_guardrail,
)
from modelward.evaluation.mcnemar import mcnemar, mcnemar_counts, tango_interval
from modelward.evaluation.result import HIGHER_IS_BETTER, PairedComparison
from modelward.evaluation.sequential import MixtureSPRT, SequentialState, optimal_mixing_ratio
from modelward.evaluation.wilcoxon import wilcoxon_abs_errors

__all__ = [
    "HIGHER_IS_BETTER",
    "BehavioralReport",
    "BehavioralSuite",
    "BehavioralTest",
    "GateDecision",
    "GateItem",
    "GatePolicy",
    "GuardrailResult",
    "MixtureSPRT",
    "PairedComparison",
    "SequentialState",
    "decide",
    "delong",
    "delong_covariance",
    "error_budget",
    "input_error_guardrail",
    "latency_guardrail",
    "load_suite",
    "mcnemar",
    "mcnemar_counts",
    "optimal_mixing_ratio",
    "paired_bootstrap",
    "read_suite",
    "run_suite",
    "tango_interval",
    "wilcoxon_abs_errors",
]
