"""Per-feature drift tests as small objects, and the registry that names them.

Each test is a :class:`DriftTest` subclass in a file of its own. It declares the column kinds it
accepts, whether it yields a p-value or a distance, its default threshold and what its effect size
measures; :data:`REGISTRY` maps the method names used in :meth:`Profile.compare` to the classes.

>>> from modelward.monitoring.drift import get_test
>>> get_test("psi", bins=20)
PSI(bins=20, eps=0.0001, threshold=None)
>>> available_tests("boolean")
['chi2', 'jensenshannon', 'new_category', 'psi', 'ztest']
"""

from __future__ import annotations

from typing import Any

from modelward.errors import ConfigError
from modelward.monitoring._columns import KINDS, ColumnKind
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
    "PSI",
    "REGISTRY",
    "AndersonDarling",
    "ChiSquare",
    "CramerVonMises",
    "DriftTest",
    "JensenShannon",
    "KolmogorovSmirnov",
    "NewCategory",
    "TestOutcome",
    "Wasserstein",
    "ZTest",
    "available_tests",
    "get_test",
]

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
        raise ConfigError(f"Bad parameters for drift method {name!r}: {exc}.", details={"method": name}) from exc
