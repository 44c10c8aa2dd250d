"""Every public class and function says what it is, and every field of a public record type says what it
means.

"Public" is what a package's ``__all__`` lists (a module without one: its own non-underscore classes and
functions). A record type is a dataclass; each of its fields must be named in the class's own docstring
(an ``Attributes:`` section, or prose) — the docstring a dataclass writes for itself (its signature)
does not count, nor one inherited from a base class.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from types import ModuleType
from typing import Any

import pytest

import modelward

# Every field of these packages' record types is documented: the top-level API, the core (versions,
# registry, prediction log, stored results, training) and the analysis library users call directly.
FIELDS_DOCUMENTED = [
    "modelward",
    "modelward.registry",
    "modelward.datasets",
    "modelward.predlog",
    "modelward.results",
    "modelward.training",
    "modelward.persistence",
    "modelward.workspace",
    "modelward.monitoring",
    "modelward.monitoring.drift",
]
# These have a docstring on every public class and function.
DOCUMENTED = [
    *FIELDS_DOCUMENTED,
    "modelward.store",
    "modelward.artifacts",
    "modelward.config",
    "modelward.errors",
    "modelward.monitoring.performance",
    "modelward.maintenance",
    "modelward.evaluation",
    "modelward.evaluation.behavioral",
]


def _public(module: ModuleType) -> dict[str, Any]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n
            for n, v in vars(module).items()
            if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__
        ]
    return {name: getattr(module, name) for name in names}


def _documented(module_name: str) -> list[tuple[str, Any]]:
    module = importlib.import_module(module_name)
    return [
        (f"{module_name}.{name}", obj)
        for name, obj in _public(module).items()
        if inspect.isclass(obj) or inspect.isfunction(obj)
    ]


def own_docstring(obj: Any) -> str:
    """The docstring written for ``obj`` itself: not inherited, not the signature dataclasses generate."""
    if inspect.isclass(obj):
        doc = obj.__dict__.get("__doc__") or ""
        if dataclasses.is_dataclass(obj) and doc.startswith(f"{obj.__name__}("):
            return ""  # dataclasses' stand-in: ModelVersion(name: str, version: int, ...)
        return inspect.cleandoc(doc)
    return inspect.cleandoc(obj.__doc__ or "")


def undocumented_fields(cls: type) -> list[str]:
    """Fields of dataclass ``cls`` whose name is not a word of its own docstring."""
    doc = own_docstring(cls)
    return [
        f.name
        for f in dataclasses.fields(cls)
        if not f.name.startswith("_") and re.search(rf"(?<![\w.]){re.escape(f.name)}\b", doc) is None
    ]


DOCUMENTED_OBJECTS = [item for module in DOCUMENTED for item in _documented(module)]
RECORD_TYPES = [
    (name, obj)
    for module in FIELDS_DOCUMENTED
    for name, obj in _documented(module)
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj)
]


def test_the_lists_reach_the_types_named_in_the_architecture() -> None:
    names = {name.rsplit(".", 1)[1] for name, _ in RECORD_TYPES}
    assert {
        "ModelVersion",
        "ModelInfo",
        "Event",
        "AliasChange",
        "DatasetVersion",
        "PredictionRecord",
        "FeedbackItem",
        "FeedbackResult",
        "MonitoringRun",
        "StoredReference",
        "ReproduceReport",
        "DriftReport",
        "FeatureResult",
        "Finding",
        "TestOutcome",
    } <= names
    assert set(modelward.__all__) - {"__version__"} <= {n.rsplit(".", 1)[1] for n, _ in DOCUMENTED_OBJECTS}


def test_the_checks_see_through_generated_and_inherited_docstrings() -> None:
    @dataclasses.dataclass
    class Bare:
        size: int

    @dataclasses.dataclass
    class Partly:
        """A thing. ``size`` is in bytes; the sizes of its parts are not the field ``part``."""

        size: int
        part: str
        part_size: int

    class ChildError(ValueError):
        pass

    assert own_docstring(Bare) == "" and own_docstring(ChildError) == ""
    assert undocumented_fields(Bare) == ["size"]
    assert undocumented_fields(Partly) == ["part_size"]


@pytest.mark.parametrize(("name", "obj"), DOCUMENTED_OBJECTS, ids=[n for n, _ in DOCUMENTED_OBJECTS])
def test_public_class_or_function_has_a_docstring(name: str, obj: Any) -> None:
    assert len(own_docstring(obj)) >= 20, (
        f"{name} is public (in __all__) but has no docstring of its own: say what it is and what it is for."
    )


@pytest.mark.parametrize(("name", "cls"), RECORD_TYPES, ids=[n for n, _ in RECORD_TYPES])
def test_every_field_of_a_public_record_type_is_documented(name: str, cls: type) -> None:
    missing = undocumented_fields(cls)
    assert not missing, (
        f"{name}: fields not described in its docstring: {', '.join(missing)}. Add each to the class "
        "docstring's Attributes: section (name: what it means, its unit or allowed values)."
    )
