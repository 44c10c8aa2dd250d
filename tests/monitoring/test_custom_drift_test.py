"""A drift test of one's own, as docs/drift-reports.md shows it: public imports only, registered, run.

The example is read from the doc itself, so the doc cannot drift from the code: it must import only
public names (no ``_private`` module, every name in its module's ``__all__``), run as written, and print
what its comments say. ``register`` is then checked on the mistakes a user can make.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from modelward.errors import ConfigError
from modelward.monitoring.drift import (
    REGISTRY,
    ColumnKind,
    ColumnSummary,
    CurrentColumn,
    DriftTest,
    TestOutcome,
    available_tests,
    get_test,
    register,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "drift-reports.md"
SECTION = "## Your own drift test"


def example() -> str:
    text = DOC.read_text(encoding="utf-8")
    assert SECTION in text, f"{DOC.name} lost its section {SECTION!r}"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, "the section should hold one python example"
    return str(blocks[0])


@pytest.fixture(autouse=True)
def _registry_restored() -> Iterator[None]:
    """Tests here register classes; the registry is the built-in one again afterwards."""
    saved = dict(REGISTRY)
    try:
        yield
    finally:
        REGISTRY.clear()
        REGISTRY.update(saved)


def run_example() -> tuple[dict[str, Any], list[str]]:
    namespace: dict[str, Any] = {"__name__": "drift_doc_example"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(example(), str(DOC), "exec"), namespace)
    return namespace, out.getvalue().splitlines()


def test_the_example_imports_only_public_names() -> None:
    imported = 0
    for node in ast.walk(ast.parse(example())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("modelward"):
                    assert not any(p.startswith("_") for p in alias.name.split(".")), alias.name
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("modelward"):
            module = str(node.module)
            assert not any(p.startswith("_") for p in module.split(".")), f"private module {module}"
            public = set(importlib.import_module(module).__all__)
            for alias in node.names:
                assert alias.name in public, f"{alias.name} is not in {module}.__all__"
                imported += 1
    assert imported >= 5


def test_the_example_runs_and_prints_what_its_comments_say() -> None:
    namespace, printed = run_example()
    expected = [
        line.split("#", 1)[1].strip().split(": ", 1)[0]
        for line in example().splitlines()
        if line.startswith("print(") and "#" in line
    ]
    assert printed == expected
    assert len(printed) == 5
    report = namespace["report"]
    assert report["age"].method == "mean_shift" and not report["age"].auto
    assert report["age"].effect_measure == "mean_shift_sd" and report["age"].p_value is None


def test_the_registered_example_keeps_the_drift_test_contract() -> None:
    namespace, _ = run_example()
    cls = namespace["MeanShift"]
    assert REGISTRY["mean_shift"] is cls and "mean_shift" in available_tests("numeric")
    test = get_test("mean_shift", threshold=0.3)
    params = test.get_params()
    assert params == {"threshold": 0.3} and set(vars(test)) == set(params)
    assert cls(**params) == test and repr(test) == "MeanShift(threshold=0.3)"
    with pytest.raises(ConfigError, match="MeanShift: threshold is a distance and must be >= 0"):
        get_test("mean_shift", threshold=-1)
    same = test.compute([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert not same.drifted and same.effect_size == 0.0
    with pytest.raises(ConfigError, match="does not accept categorical columns"):
        test.compute(["a", "b"], ["a", "b"], kind="categorical")
    run_example()  # the doc's cell run twice (a notebook): the same class registers again


class _Valid(DriftTest):
    """A distance that is always zero; a base for the broken variants below (threshold: unused)."""

    name: ClassVar[str] = "always_zero"
    kinds: ClassVar[frozenset[ColumnKind]] = frozenset({"numeric", "categorical"})
    uses_p_value: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 0.1
    effect_measure: ClassVar[str] = "zero"

    def run(self, reference: ColumnSummary, current: CurrentColumn) -> TestOutcome:
        return TestOutcome(0.0, None, 0.0, self.effect_measure, self.threshold_value, False)


def _variant(**attributes: Any) -> type[DriftTest]:
    return type("Broken", (_Valid,), attributes)


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        (
            {"name": "ks"},
            "Drift method 'ks' is already registered by modelward.monitoring.drift.ks.Kolmogorov",
        ),
        ({"name": "Mean Shift"}, "Broken.name must be a lower-case identifier"),
        ({"name": "auto"}, "other than 'auto'"),
        (
            {"kinds": frozenset({"text"})},
            "Broken.kinds must be a non-empty frozenset of numeric, categorical",
        ),
        ({"kinds": {"numeric"}}, "Broken.kinds must be a non-empty frozenset"),
        ({"uses_p_value": "no"}, "Broken.uses_p_value must be True or False"),
        (
            {"uses_p_value": True, "default_threshold": 2.0},
            "Broken.default_threshold must be a significance level between 0 and 1",
        ),
        ({"default_threshold": float("nan")}, "Broken.default_threshold must be a finite distance >= 0"),
        ({"effect_measure": ""}, "Broken.effect_measure must name what effect_size measures"),
    ],
)
def test_register_refuses_a_badly_declared_test(attributes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        register(_variant(**attributes))
    assert "always_zero" not in REGISTRY


def test_register_refuses_what_is_not_a_finished_drift_test() -> None:
    with pytest.raises(ConfigError, match="register\\(\\) takes a DriftTest subclass, got <class 'int'>"):
        register(int)  # type: ignore[type-var]

    class NoRun(DriftTest):
        name: ClassVar[str] = "no_run"
        kinds: ClassVar[frozenset[ColumnKind]] = frozenset({"numeric"})
        uses_p_value: ClassVar[bool] = False
        default_threshold: ClassVar[float] = 0.1
        effect_measure: ClassVar[str] = "x"

    with pytest.raises(ConfigError, match="NoRun cannot be registered: implement run"):
        register(NoRun)

    class NoName(DriftTest):
        def run(self, reference: ColumnSummary, current: CurrentColumn) -> TestOutcome:
            raise NotImplementedError

    with pytest.raises(ConfigError, match="set the class attribute\\(s\\) name, kinds, uses_p_value"):
        register(NoName)


def test_a_registered_test_runs_in_a_profile_comparison_like_a_built_in_one() -> None:
    import numpy as np
    import pandas as pd

    from modelward.monitoring import Profile

    assert register(_Valid) is _Valid
    assert register(_Valid) is _Valid  # again: the same class, allowed
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(0, 1, 200), "c": rng.choice(["a", "b"], 200)})
    report = Profile.fit(frame).compare(frame, method="always_zero")
    assert [f.method for f in report.features] == ["always_zero", "always_zero"]
    assert report.to_dict()["features"][0]["method"] == "always_zero"
