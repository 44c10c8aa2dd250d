"""Behavioral tests for models ("unit tests for models", CheckList's three kinds) from a YAML file.

:func:`load_suite` / :func:`read_suite` parse and check the file (see :mod:`.spec` for the format);
:func:`run_suite` runs it against a model's ``predict`` / ``predict_proba`` and returns a
:class:`BehavioralReport` with every test's pass/fail and its failing examples.
"""

from __future__ import annotations

from modelward.evaluation.behavioral.runner import BehavioralReport, Failure, TestResult, run_suite
from modelward.evaluation.behavioral.spec import (
    BehavioralSuite,
    BehavioralTest,
    Case,
    Perturbation,
    load_suite,
    read_suite,
)

__all__ = [
    "BehavioralReport",
    "BehavioralSuite",
    "BehavioralTest",
    "Case",
    "Failure",
    "Perturbation",
    "TestResult",
    "load_suite",
    "read_suite",
    "run_suite",
]
