"""The behavioral-test file: YAML in, typed, fully checked tests out (nothing half-applied).

"Unit tests for models" after CheckList (Ribeiro et al., ACL 2020), whose three kinds carry over to
tabular models:

* ``minimum_functionality``: given these inputs, the model must answer this label, or a value (a
  regression output or a class probability) within a range;
* ``invariance``: changing these columns in these ways must not change the answer (a tolerance for
  numbers, an allowed failure rate for the whole test);
* ``directional``: changing a column this way must move the answer up (or down); as CheckList's
  ``Expect.monotonic`` it passes when it moves the right way or the wrong way by less than ``tolerance``.

An example file::

    seed: 7                          # optional: seeds row sampling and random perturbations
    tests:
      - name: approves high earners
        type: minimum_functionality
        cases:
          - input: {age: 45, income: 120000, city: Paris}
            expect: 1                # the exact predicted label
          - input: {age: 45, income: 4000, city: Paris}
            output: probability      # P(class 1) (``class`` picks another) must lie in the range
            range: [0.0, 0.3]
      - name: city does not matter
        type: invariance
        rows: data                   # rows of the frame given to the runner (default), or a list
        sample: 200                  # at most this many of them (all when absent)
        perturb:
          - {column: city, set: [Paris, Lyon, Nice]}
          - {column: age, add: [-1, 1]}
          - {column: income, multiply_uniform: [0.95, 1.05], draws: 3}
        max_failure_rate: 0.02       # share of (row, perturbation) pairs allowed to fail; default 0
      - name: more income, more approvals
        type: directional
        change: {column: income, multiply: 1.5}
        expect: increase
        output: probability
        tolerance: 0.01

Every key is checked before anything is returned: an unknown key, a wrong type, a missing value raises
:class:`~modelward.errors.ConfigError` naming the file and the key's path (``tests[2].perturb[0].add``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from modelward.errors import ConfigError

TestType = Literal["minimum_functionality", "invariance", "directional"]
Output = Literal["prediction", "probability"]
TEST_TYPES: tuple[str, ...] = ("minimum_functionality", "invariance", "directional")
OUTPUTS: tuple[str, ...] = ("prediction", "probability")
#: Perturbation operations: a list of values each tried on every row, or a range with ``draws``.
LIST_OPS: tuple[str, ...] = ("set", "add", "multiply")
RANGE_OPS: tuple[str, ...] = ("add_uniform", "multiply_uniform")


@dataclass(frozen=True)
class Case:
    """One minimum-functionality case: an input row and what the model must answer."""

    input: Mapping[str, Any]
    expect: Any = None
    range: tuple[float, float] | None = None
    output: Output = "prediction"


@dataclass(frozen=True)
class Perturbation:
    """Change ``column`` of a row: ``op`` is one of :data:`LIST_OPS` (each of ``values`` in turn) or
    :data:`RANGE_OPS` (``draws`` seeded uniform draws between ``values[0]`` and ``values[1]``)."""

    column: str
    op: str
    values: tuple[Any, ...]
    draws: int = 1


@dataclass(frozen=True)
class BehavioralTest:
    """One test of the suite. Which fields matter depends on ``type`` (see the module docstring)."""

    __test__ = False  # not a pytest class

    name: str
    type: TestType
    cases: tuple[Case, ...] = ()
    rows: tuple[Mapping[str, Any], ...] | None = None
    sample: int | None = None
    perturb: tuple[Perturbation, ...] = ()
    expect: Literal["increase", "decrease"] | None = None
    output: Output = "prediction"
    class_label: Any = None
    tolerance: float = 0.0
    max_failure_rate: float = 0.0


@dataclass(frozen=True)
class BehavioralSuite:
    """The parsed file: its tests, the seed, and where it came from (for messages)."""

    tests: tuple[BehavioralTest, ...]
    seed: int = 0
    source: str = "<string>"
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(t.name for t in self.tests))


# --------------------------------------------------------------------------------------------- parsing
def load_suite(content: str | Mapping[str, Any], source: str = "<string>") -> BehavioralSuite:
    """Parse a behavioral-test suite from YAML text or an already parsed mapping.

    >>> suite = load_suite('''
    ... tests:
    ...   - name: city does not matter
    ...     type: invariance
    ...     perturb: [{column: city, set: [Paris, Lyon]}]
    ... ''')
    >>> t = suite.tests[0]
    >>> t.type, t.perturb[0].column, t.perturb[0].values, t.max_failure_rate
    ('invariance', 'city', ('Paris', 'Lyon'), 0.0)
    >>> load_suite("tests: [{name: x, type: invariance, perturb: [{column: a, ad: [1]}]}]", "b.yaml")
    Traceback (most recent call last):
    ...
    modelward.errors.ConfigError: b.yaml: tests[0].perturb[0]: unknown key 'ad'; expected column, set, add, multiply, add_uniform, multiply_uniform, draws.
    """
    if isinstance(content, str):
        try:
            data = yaml.safe_load(content)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise ConfigError(
                f"{source}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}.",
                details={"file": source},
            ) from exc
    else:
        data = content
    return _Parser(source).suite(data)


def read_suite(path: str | Path) -> BehavioralSuite:
    """Read and parse a behavioral-test YAML file (the only function here that touches a file)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the behavioral-test file {p}: {exc.strerror or exc}.", details={"file": str(p)}
        ) from exc
    return load_suite(text, str(p))


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> ConfigError:
        where = f"{path}: " if path else ""
        return ConfigError(f"{self.source}: {where}{message}", details={"file": self.source, "key": path})

    def mapping(
        self, value: Any, path: str, allowed: Sequence[str], required: Sequence[str] = ()
    ) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a mapping with keys {', '.join(allowed)}; got {_kind(value)}.")
        for key in value:
            if key not in allowed:
                raise self.fail(path, f"unknown key {key!r}; expected {', '.join(allowed)}.")
        for key in required:
            if key not in value:
                raise self.fail(path, f"missing required key '{key}'.")
        return dict(value)

    def text(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"expected a non-empty string, got {_kind(value)}.")
        return value

    def number(self, value: Any, path: str, low: float | None = None, high: float | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(path, f"expected a finite number, got {_kind(value)}.")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(path, f"expected a number between {low} and {high}, got {value!r}.")
        return float(value)

    def integer(self, value: Any, path: str, low: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(path, f"expected a whole number >= {low}, got {_kind(value)}.")
        return int(value)

    def choice(self, value: Any, path: str, options: Sequence[str]) -> str:
        if value not in options:
            raise self.fail(path, f"expected one of {', '.join(options)}, got {_kind(value)}.")
        return str(value)

    def items(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list) or not value:
            raise self.fail(path, f"expected a non-empty list, got {_kind(value)}.")
        return value

    def row(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, Mapping) or not value:
            raise self.fail(
                path, f"expected a row as a non-empty mapping of column to value, got {_kind(value)}."
            )
        for key in value:
            if not isinstance(key, str):
                raise self.fail(path, f"column names must be strings, got {key!r}.")
        return dict(value)

    # -- the document --------------------------------------------------------------------------------
    def suite(self, data: Any) -> BehavioralSuite:
        top = self.mapping(data, "", ("seed", "tests"), required=("tests",))
        seed = self.integer(top["seed"], "seed", 0) if "seed" in top else 0
        tests = tuple(self.test(t, f"tests[{i}]") for i, t in enumerate(self.items(top["tests"], "tests")))
        seen: set[str] = set()
        for i, t in enumerate(tests):
            if t.name in seen:
                raise self.fail(f"tests[{i}].name", f"duplicate test name {t.name!r}; names must be unique.")
            seen.add(t.name)
        return BehavioralSuite(tests=tests, seed=seed, source=self.source)

    _COMMON = ("name", "type", "output", "class", "tolerance", "max_failure_rate")

    def test(self, value: Any, path: str) -> BehavioralTest:
        raw = self.mapping(
            value,
            path,
            (*self._COMMON, "cases", "rows", "sample", "perturb", "change", "expect"),
            required=("name", "type"),
        )
        kind = self.choice(raw["type"], f"{path}.type", TEST_TYPES)
        allowed = {
            "minimum_functionality": (*self._COMMON, "cases"),
            "invariance": (*self._COMMON, "rows", "sample", "perturb"),
            "directional": (*self._COMMON, "rows", "sample", "change", "expect"),
        }[kind]
        self.mapping(
            raw,
            path,
            allowed,
            required={
                "minimum_functionality": ("cases",),
                "invariance": ("perturb",),
                "directional": ("change", "expect"),
            }[kind],
        )
        output = self.choice(raw.get("output", "prediction"), f"{path}.output", OUTPUTS)
        common: dict[str, Any] = {
            "name": self.text(raw["name"], f"{path}.name"),
            "type": kind,
            "output": output,
            "class_label": raw.get("class"),
            "tolerance": self.number(raw.get("tolerance", 0.0), f"{path}.tolerance", 0.0),
            "max_failure_rate": self.number(
                raw.get("max_failure_rate", 0.0), f"{path}.max_failure_rate", 0.0, 1.0
            ),
        }
        if kind == "minimum_functionality":
            cases = tuple(
                self.case(c, f"{path}.cases[{i}]", output)
                for i, c in enumerate(self.items(raw["cases"], f"{path}.cases"))
            )
            return BehavioralTest(cases=cases, **common)
        rows = self.rows(raw.get("rows", "data"), f"{path}.rows")
        sample = self.integer(raw["sample"], f"{path}.sample", 1) if "sample" in raw else None
        if kind == "invariance":
            perturb = tuple(
                self.perturbation(p, f"{path}.perturb[{i}]")
                for i, p in enumerate(self.items(raw["perturb"], f"{path}.perturb"))
            )
            return BehavioralTest(rows=rows, sample=sample, perturb=perturb, **common)
        change = self.perturbation(raw["change"], f"{path}.change")
        expect = self.choice(raw["expect"], f"{path}.expect", ("increase", "decrease"))
        return BehavioralTest(
            rows=rows,
            sample=sample,
            perturb=(change,),
            expect=expect,  # type: ignore[arg-type]
            **common,
        )

    def case(self, value: Any, path: str, default_output: str) -> Case:
        raw = self.mapping(value, path, ("input", "expect", "range", "output"), required=("input",))
        if ("expect" in raw) == ("range" in raw):
            raise self.fail(path, "give exactly one of 'expect' (the exact answer) or 'range' ([low, high]).")
        output = self.choice(raw.get("output", default_output), f"{path}.output", OUTPUTS)
        if "range" in raw:
            r = raw["range"]
            if not isinstance(r, list) or len(r) != 2:
                raise self.fail(f"{path}.range", f"expected [low, high], got {_kind(r)}.")
            low = self.number(r[0], f"{path}.range[0]")
            high = self.number(r[1], f"{path}.range[1]")
            if low > high:
                raise self.fail(f"{path}.range", f"low {low} is above high {high}.")
            return Case(input=self.row(raw["input"], f"{path}.input"), range=(low, high), output=output)  # type: ignore[arg-type]
        if output == "probability":
            raise self.fail(
                f"{path}.expect",
                "an exact 'expect' needs output: prediction; give a 'range' for a probability.",
            )
        return Case(input=self.row(raw["input"], f"{path}.input"), expect=raw["expect"], output=output)  # type: ignore[arg-type]

    def rows(self, value: Any, path: str) -> tuple[Mapping[str, Any], ...] | None:
        if value == "data":
            return None
        return tuple(self.row(r, f"{path}[{i}]") for i, r in enumerate(self.items(value, path)))

    def perturbation(self, value: Any, path: str) -> Perturbation:
        raw = self.mapping(value, path, ("column", *LIST_OPS, *RANGE_OPS, "draws"), required=("column",))
        ops = [k for k in (*LIST_OPS, *RANGE_OPS) if k in raw]
        if len(ops) != 1:
            raise self.fail(
                path,
                f"give exactly one of {', '.join((*LIST_OPS, *RANGE_OPS))}; got {', '.join(ops) or 'none'}.",
            )
        op = ops[0]
        column = self.text(raw["column"], f"{path}.column")
        key = f"{path}.{op}"
        if op in RANGE_OPS:
            r = raw[op]
            if not isinstance(r, list) or len(r) != 2:
                raise self.fail(key, f"expected [low, high], got {_kind(r)}.")
            low, high = self.number(r[0], f"{key}[0]"), self.number(r[1], f"{key}[1]")
            if low > high:
                raise self.fail(key, f"low {low} is above high {high}.")
            draws = self.integer(raw.get("draws", 3), f"{path}.draws", 1)
            return Perturbation(column, op, (low, high), draws)
        if "draws" in raw:
            raise self.fail(f"{path}.draws", f"'draws' goes with {' or '.join(RANGE_OPS)}, not with '{op}'.")
        values = raw[op] if isinstance(raw[op], list) else [raw[op]]
        if not values:
            raise self.fail(key, "expected at least one value.")
        if op != "set":
            values = [self.number(v, f"{key}[{i}]") for i, v in enumerate(values)]
        return Perturbation(column, op, tuple(values))


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    return f"{value!r}"
