"""Per-feature drift tests as small objects, and the registry that names them.

Each test is a :class:`DriftTest` subclass in a file of its own. It declares the column kinds it
accepts, whether it yields a p-value or a distance, its default threshold and what its effect size
measures; :data:`REGISTRY` maps the method names used in :meth:`Profile.compare` to the classes.

>>> from modelward.monitoring.drift import get_test
>>> get_test("psi", bins=20)
PSI(bins=20, eps=0.0001, threshold=None)
>>> available_tests("boolean")
['chi2', 'jensenshannon', 'new_category', 'psi', 'ztest']

A test of your own subclasses :class:`DriftTest`, implements :meth:`DriftTest.run` over the column
summaries exported here (:class:`NumericSummary` / :class:`CurrentNumeric` for numeric columns,
:class:`CategoricalSummary` / :class:`CurrentCategorical` for categorical and boolean ones), and is
added to the registry with :func:`register`; docs/drift-reports.md has a worked example.
"""

from __future__ import annotations

import inspect
import math
import re
from typing import Any, TypeVar

from modelward.errors import ConfigError
from modelward.monitoring._columns import (
    KINDS,
    CategoricalSummary,
    ColumnKind,
    ColumnSummary,
    CurrentCategorical,
    CurrentColumn,
    CurrentNumeric,
    NumericSummary,
)
from modelward.monitoring.drift.anderson import AndersonDarling
from modelward.monitoring.drift.base import DriftTest, TestOutcome
from modelward.monitoring.drift.chi2 import ChiSquare
from modelward.monitoring.drift.cramervonmises import CramerVonMises
from modelward.monitoring.drift.jensenshannon import JensenShannon
from modelward.monitoring.drift.ks import KolmogorovSmirnov
from modelward.monitoring.drift.new_category import NewCategory
from modelward.monitoring.drift.psi import PSI
from modelward.monitoring.drift.wasserstein import Wasserstein
from modelward.monitoring.drift.ztest import ZTest

__all__ = [
    "KINDS",
    "PSI",
    "REGISTRY",
    "AndersonDarling",
    "CategoricalSummary",
    "ChiSquare",
    "ColumnKind",
    "ColumnSummary",
    "CramerVonMises",
    "CurrentCategorical",
    "CurrentColumn",
    "CurrentNumeric",
    "DriftTest",
    "JensenShannon",
    "KolmogorovSmirnov",
    "NewCategory",
    "NumericSummary",
    "TestOutcome",
    "Wasserstein",
    "ZTest",
    "available_tests",
    "get_test",
    "register",
]

T = TypeVar("T", bound=type[DriftTest])
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

#: Method name → test class.
REGISTRY: dict[str, type[DriftTest]] = {
    cls.name: cls
    for cls in (
        KolmogorovSmirnov,
        Wasserstein,
        PSI,
        JensenShannon,
        CramerVonMises,
        AndersonDarling,
        ChiSquare,
        NewCategory,
        ZTest,
    )
}


def available_tests(kind: ColumnKind | None = None) -> list[str]:
    """Registered method names, optionally only those accepting ``kind``, sorted."""
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"Unknown column kind {kind!r}; expected one of {', '.join(KINDS)}.")
    return sorted(name for name, cls in REGISTRY.items() if kind is None or kind in cls.kinds)


def register(cls: T) -> T:
    """Add a :class:`DriftTest` subclass to :data:`REGISTRY` under its ``name``; usable as a decorator.

    Once registered, the test is a method like the built-in ones: :func:`get_test` makes it,
    :func:`available_tests` lists it, and ``Profile.compare(method=...)`` (one name for every column,
    or a mapping column → name) runs it. The class attributes are checked here, so a mistake is an
    error at import time rather than in the middle of a report.

    Registering a class again under the same name is allowed when it is the same class or a
    redefinition of it (same module and qualified name, as when a notebook cell runs twice); taking
    the name of a different test is a :class:`~modelward.errors.ConfigError`.
    """
    if not (inspect.isclass(cls) and issubclass(cls, DriftTest)):
        raise ConfigError(f"register() takes a DriftTest subclass, got {cls!r}.")
    label = cls.__qualname__
    missing = [
        a
        for a in ("name", "kinds", "uses_p_value", "default_threshold", "effect_measure")
        if not hasattr(cls, a)
    ]
    if missing:
        raise ConfigError(f"{label} cannot be registered: set the class attribute(s) {', '.join(missing)}.")
    if inspect.isabstract(cls):
        raise ConfigError(f"{label} cannot be registered: implement run(reference, current).")
    if not isinstance(cls.name, str) or not _NAME.match(cls.name) or cls.name == "auto":
        raise ConfigError(
            f"{label}.name must be a lower-case identifier other than 'auto' (e.g. 'mean_shift'), "
            f"got {cls.name!r}."
        )
    kinds = cls.kinds
    if not isinstance(kinds, frozenset) or not kinds or not kinds <= set(KINDS):
        raise ConfigError(
            f"{label}.kinds must be a non-empty frozenset of {', '.join(KINDS)}, got {kinds!r}."
        )
    if not isinstance(cls.uses_p_value, bool):
        raise ConfigError(f"{label}.uses_p_value must be True or False, got {cls.uses_p_value!r}.")
    t = cls.default_threshold
    bad = not isinstance(t, int | float) or isinstance(t, bool) or not math.isfinite(t) or t < 0
    if bad or (cls.uses_p_value and not 0 < t < 1):
        want = "a significance level between 0 and 1" if cls.uses_p_value else "a finite distance >= 0"
        raise ConfigError(f"{label}.default_threshold must be {want}, got {t!r}.")
    if not isinstance(cls.effect_measure, str) or not cls.effect_measure:
        raise ConfigError(
            f"{label}.effect_measure must name what effect_size measures, e.g. 'mean_shift_sd'."
        )
    held = REGISTRY.get(cls.name)
    same = held is not None and (held.__module__, held.__qualname__) == (cls.__module__, cls.__qualname__)
    if held is not None and not same:
        raise ConfigError(
            f"Drift method {cls.name!r} is already registered by {held.__module__}.{held.__qualname__}; "
            f"give {label} another name.",
            details={"method": cls.name},
        )
    REGISTRY[cls.name] = cls
    return cls


def get_test(name: str, **params: Any) -> DriftTest:
    """A new instance of the registered test ``name`` with the given parameters."""
    cls = REGISTRY.get(name)
    if cls is None:
        raise ConfigError(
            f"Unknown drift method {name!r}; registered methods are: {', '.join(sorted(REGISTRY))}.",
            details={"method": name},
        )
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(
            f"Bad parameters for drift method {name!r}: {exc}.", details={"method": name}
        ) from exc
