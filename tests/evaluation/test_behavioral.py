"""Behavioral-test files: parsed whole or refused with the key and the file named; run against a model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelward.errors import ConfigError, DataError
from modelward.evaluation import load_suite, read_suite, run_suite

SUITE = """
seed: 3
tests:
  - name: approves high earners
    type: minimum_functionality
    cases:
      - input: {age: 45, income: 120, city: Paris}
        expect: 1
      - input: {age: 45, income: 1, city: Paris}
        output: probability
        range: [0.0, 0.3]
  - name: city does not matter
    type: invariance
    sample: 50
    perturb:
      - {column: city, set: [Paris, Lyon, Nice]}
      - {column: age, add: [-1, 1]}
      - {column: income, multiply_uniform: [0.99, 1.01], draws: 2}
    output: probability
    tolerance: 0.05
  - name: more income, more approvals
    type: directional
    change: {column: income, multiply: 1.5}
    expect: increase
    output: probability
    class: 1
"""


def _data(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(20, 70, n),
            "income": rng.uniform(1, 150, n),
            "city": rng.choice(["Paris", "Lyon", "Nice"], n),
        }
    )


class FairModel:
    classes_ = np.array([0, 1])

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        p = 1 / (1 + np.exp(-(frame["income"].to_numpy(float) - 60) / 10))
        return np.column_stack([1 - p, p])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(frame)[:, 1] > 0.5).astype(int)


class CityBiasedModel(FairModel):
    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        p = super().predict_proba(frame)[:, 1]
        p = np.where(frame["city"].to_numpy() == "Nice", p * 0.5, p)
        return np.column_stack([1 - p, p])


def test_a_sound_model_passes_every_test() -> None:
    suite = load_suite(SUITE, "suite.yaml")
    model = FairModel()
    report = run_suite(
        suite, model.predict, predict_proba=model.predict_proba, classes=model.classes_, data=_data()
    )
    assert report.passed, [r.reason for r in report.results]
    inv = report.results[1]
    # 50 sampled rows x (3 cities + 2 ages + 2 income draws)
    assert inv.checks == 50 * 7 and inv.failed == 0


def test_a_biased_model_fails_invariance_with_examples() -> None:
    suite = load_suite(SUITE, "suite.yaml")
    model = CityBiasedModel()
    report = run_suite(
        suite, model.predict, predict_proba=model.predict_proba, classes=model.classes_, data=_data()
    )
    assert not report.passed
    assert [r.name for r in report.failed] == ["city does not matter"]
    inv = report.failed[0]
    assert inv.failed > 0 and inv.failure_rate > inv.max_failure_rate
    example = inv.failures[0]
    assert example.change is not None and example.change["column"] == "city"
    assert abs(example.after - example.before) > 0.05
    assert "city set" in inv.reason and "expected probability unchanged within 0.05" in inv.reason
    json_ready = report.to_dict()
    assert json_ready["passed"] is False and json_ready["results"][1]["failures"][0]["row"]["city"] in {
        "Paris",
        "Lyon",
        "Nice",
    }


def test_directional_and_minimum_functionality_failures() -> None:
    suite = load_suite(SUITE)

    def backwards(frame: pd.DataFrame) -> np.ndarray:
        p = 1 / (1 + np.exp((frame["income"].to_numpy(float) - 60) / 10))
        return np.column_stack([1 - p, p])

    report = run_suite(
        suite,
        lambda f: (backwards(f)[:, 1] > 0.5).astype(int),
        predict_proba=backwards,
        classes=[0, 1],
        data=_data(),
    )
    by_name = {r.name: r for r in report.results}
    mf = by_name["approves high earners"]
    assert (mf.checks, mf.failed) == (2, 2)
    assert (
        mf.failures[0].expected == "prediction == 1" and mf.failures[1].expected == "probability in [0, 0.3]"
    )
    directional = by_name["more income, more approvals"]
    assert not directional.passed and directional.failures[0].expected == "probability not lower"


def test_sampling_is_seeded() -> None:
    suite = load_suite(SUITE)
    model = CityBiasedModel()
    runs = [
        run_suite(
            suite, model.predict, predict_proba=model.predict_proba, classes=model.classes_, data=_data()
        ).to_dict()
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


def test_regression_outputs_and_listed_rows() -> None:
    suite = load_suite("""
tests:
  - name: size raises price
    type: directional
    rows: [{size: 50, rooms: 2}, {size: 80, rooms: 3}]
    change: {column: size, add: [10, 20]}
    expect: increase
  - name: exact price
    type: minimum_functionality
    cases: [{input: {size: 50, rooms: 2}, range: [99, 101]}]
""")
    report = run_suite(suite, lambda f: 2.0 * f["size"].to_numpy(float))
    assert report.passed and report.results[0].checks == 4


def test_model_errors_and_missing_columns_name_the_test() -> None:
    suite = load_suite(SUITE, "suite.yaml")
    with pytest.raises(
        DataError,
        match=r"suite.yaml: test 'approves high earners': the model's predict raised "
        r"KeyError",
    ):
        run_suite(suite, lambda f: f["missing"], data=_data())
    inv = load_suite("tests: [{name: t, type: invariance, perturb: [{column: zip, set: [1]}]}]", "s.yaml")
    with pytest.raises(DataError, match=r"column 'zip' is not in the rows"):
        run_suite(inv, lambda f: np.zeros(len(f)), data=_data())
    with pytest.raises(DataError, match="none was given"):
        run_suite(inv, lambda f: np.zeros(len(f)))
    numeric = load_suite(
        "tests: [{name: t, type: invariance, perturb: [{column: city, add: [1]}]}]", "s.yaml"
    )
    with pytest.raises(DataError, match="'add' needs a numeric column"):
        run_suite(numeric, lambda f: np.zeros(len(f)), data=_data())
    with pytest.raises(ConfigError, match="no predict_proba was given"):
        run_suite(load_suite(SUITE), FairModel().predict, data=_data())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tests: [", r"bad.yaml: not valid YAML at line 1"),
        ("[1, 2]", r"bad.yaml: expected a mapping with keys seed, tests; got a list"),
        ("test: []", r"bad.yaml: unknown key 'test'; expected seed, tests"),
        ("tests: []", r"bad.yaml: tests: expected a non-empty list, got an empty list"),
        (
            "tests: [{name: a, type: invariant}]",
            r"tests\[0\].type: expected one of minimum_functionality, "
            r"invariance, directional, got 'invariant'",
        ),
        ("tests: [{name: a, type: invariance}]", r"tests\[0\]: missing required key 'perturb'"),
        (
            "tests: [{name: a, type: invariance, perturb: [{column: c, set: [1]}], cases: []}]",
            r"tests\[0\]: unknown key 'cases'; expected name, type, output, class, tolerance, max_failure_rate, rows, "
            r"sample, perturb",
        ),
        (
            "tests: [{name: a, type: invariance, perturb: [{column: c, add: [x]}]}]",
            r"tests\[0\].perturb\[0\].add\[0\]: expected a finite number, got 'x'",
        ),
        (
            "tests: [{name: a, type: invariance, perturb: [{column: c, set: [1], add: [1]}]}]",
            r"tests\[0\].perturb\[0\]: give exactly one of set, add, multiply, add_uniform, multiply_uniform; got set, add",
        ),
        (
            "tests: [{name: a, type: invariance, max_failure_rate: 2, perturb: [{column: c, set: [1]}]}]",
            r"tests\[0\].max_failure_rate: expected a number between 0.0 and 1.0, got 2",
        ),
        (
            "tests: [{name: a, type: directional, change: {column: c, add: 1}, expect: up}]",
            r"tests\[0\].expect: expected one of increase, decrease, got 'up'",
        ),
        (
            "tests: [{name: a, type: minimum_functionality, cases: [{input: {x: 1}}]}]",
            r"tests\[0\].cases\[0\]: give exactly one of 'expect'",
        ),
        (
            "tests: [{name: a, type: minimum_functionality, cases: [{input: {x: 1}, range: [2, 1]}]}]",
            r"tests\[0\].cases\[0\].range: low 2.0 is above high 1.0",
        ),
        (
            "tests: [{name: a, type: invariance, perturb: [{column: c, set: [1], draws: 2}]}]",
            r"tests\[0\].perturb\[0\].draws: 'draws' goes with add_uniform or multiply_uniform",
        ),
        (
            "tests: [{name: a, type: invariance, perturb: [{column: c, set: [1]}]},"
            " {name: a, type: invariance, perturb: [{column: c, set: [1]}]}]",
            r"tests\[1\].name: duplicate test name 'a'",
        ),
        (
            "seed: -1\ntests: [{name: a, type: invariance, perturb: [{column: c, set: [1]}]}]",
            r"bad.yaml: seed: expected a whole number >= 0, got -1",
        ),
    ],
)
def test_malformed_files_name_the_key_and_the_file(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_suite(text, "bad.yaml")
    assert info.value.details["file"] == "bad.yaml"


def test_read_suite_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "behavior.yaml"
    path.write_text(
        "tests: [{name: a, type: invariance, perturb: [{column: c, sett: [1]}]}]", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=rf"{path}: tests\[0\].perturb\[0\]: unknown key 'sett'"):
        read_suite(path)
    with pytest.raises(ConfigError, match="Cannot read the behavioral-test file"):
        read_suite(tmp_path / "absent.yaml")
    path.write_text(SUITE, encoding="utf-8")
    suite = read_suite(path)
    assert suite.source == str(path) and suite.names == (
        "approves high earners",
        "city does not matter",
        "more income, more approvals",
    )
