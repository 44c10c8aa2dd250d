"""Every docstring example in the package runs and gives what it shows.

The modules are found by walking the package, so a new module's examples are checked without
anyone adding it to a list.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil
from pathlib import Path

import pytest

import modelward


def _modules_with_examples() -> list[str]:
    found = []
    for info in pkgutil.walk_packages(modelward.__path__, "modelward."):
        if info.name.endswith("__main__") or ".migrations" in info.name:
            continue
        spec = importlib.util.find_spec(info.name)
        if spec is not None and spec.origin and ">>>" in Path(spec.origin).read_text(encoding="utf-8"):
            found.append(info.name)
    return sorted(found)


MODULES = _modules_with_examples()


def test_the_walk_finds_the_documented_modules() -> None:
    for name in (
        "modelward.monitoring.profile",
        "modelward.monitoring.performance.cbpe",
        "modelward.server.batching",
        "modelward.predlog._windows",
    ):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has '>>>' but doctest found no example"
    assert result.failed == 0
