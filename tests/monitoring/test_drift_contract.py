"""The contract every registered drift test honours; a new test gets this whole suite for free."""

from __future__ import annotations

import inspect
import math
import pickle

import numpy as np
import pytest

from modelward.errors import ConfigError
from modelward.monitoring import REGISTRY, DriftTest, available_tests, get_test
from modelward.monitoring._columns import KINDS

NAMES = sorted(REGISTRY)
EXPECTED = {
    "ks",
    "wasserstein",
    "psi",
    "jensenshannon",
    "cramervonmises",
    "anderson",
    "chi2",
    "new_category",
    "ztest",
}


def _sample(kind: str, n: int, seed: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "numeric":
        return rng.normal(shift, 1.0, n)
    if kind == "boolean":
        return rng.random(n) < 0.3 + shift
    p = np.array([0.5, 0.3, 0.2]) if not shift else np.array([0.2, 0.3, 0.5])
    return rng.choice(np.array(["a", "b", "c"], dtype=object), n, p=p)


def _cases() -> list[tuple[str, str]]:
    return [(name, kind) for name in NAMES for kind in sorted(REGISTRY[name].kinds)]


def test_registry_holds_the_documented_methods() -> None:
    assert set(REGISTRY) == EXPECTED
    assert available_tests("numeric") == [
        "anderson",
        "cramervonmises",
        "jensenshannon",
        "ks",
        "psi",
        "wasserstein",
    ]
    assert available_tests("categorical") == ["chi2", "jensenshannon", "new_category", "psi"]


@pytest.mark.parametrize("name", NAMES)
def test_declares_kinds_threshold_and_name(name: str) -> None:
    cls = REGISTRY[name]
    assert cls.name == name
    assert cls.kinds and cls.kinds <= set(KINDS)
    assert math.isfinite(cls.default_threshold) and cls.default_threshold >= 0
    if cls.uses_p_value:
        assert 0 < cls.default_threshold < 1
    assert cls.effect_measure


@pytest.mark.parametrize("name", NAMES)
def test_has_a_docstring_that_says_what_it_computes(name: str) -> None:
    doc = inspect.getdoc(REGISTRY[name]) or ""
    assert len(doc) > 80
    assert "threshold" in doc  # every test documents its threshold parameter


@pytest.mark.parametrize("name", NAMES)
def test_constructor_stores_parameters_under_their_own_names(name: str) -> None:
    test = get_test(name)
    params = test.get_params()
    assert "threshold" in params
    clone = type(test)(**params)
    assert clone == test
    assert repr(clone) == repr(test)
    assert set(vars(test)) == set(params)  # nothing else is stored


@pytest.mark.parametrize("name", NAMES)
def test_pickles_and_compares_equal(name: str) -> None:
    test = get_test(name, threshold=0.03)
    assert pickle.loads(pickle.dumps(test)) == test


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [-1.0, float("nan"), "0.1", True])
def test_bad_threshold_raises_a_clear_error(name: str, bad: object) -> None:
    with pytest.raises(ConfigError, match=rf"{REGISTRY[name].__name__}: threshold"):
        get_test(name, threshold=bad)


@pytest.mark.parametrize("name", [n for n in NAMES if REGISTRY[n].uses_p_value])
def test_significance_level_outside_0_1_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="between 0 and 1"):
        get_test(name, threshold=1.5)


def test_unknown_parameter_and_unknown_name_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="Bad parameters for drift method 'ks'"):
        get_test("ks", bins=3)
    with pytest.raises(ConfigError, match="registered methods are: anderson, chi2"):
        get_test("kolmogorov")
    with pytest.raises(ConfigError, match="bins must be an integer >= 2, got 1"):
        get_test("psi", bins=1)
    with pytest.raises(ConfigError, match="eps must be a number between 0 and 1"):
        get_test("psi", eps=0.0)


@pytest.mark.parametrize(("name", "kind"), _cases())
def test_deterministic(name: str, kind: str) -> None:
    ref, cur = _sample(kind, 800, 1), _sample(kind, 600, 2)
    first = get_test(name).compute(ref, cur, kind=kind)  # type: ignore[arg-type]
    second = get_test(name).compute(ref.copy(), cur.copy(), kind=kind)  # type: ignore[arg-type]
    assert first == second


@pytest.mark.parametrize(("name", "kind"), _cases())
def test_identical_samples_do_not_drift_and_a_large_shift_does(name: str, kind: str) -> None:
    ref = _sample(kind, 2000, 3)
    same = get_test(name).compute(ref, ref.copy(), kind=kind)  # type: ignore[arg-type]
    assert not same.drifted
    assert same.effect_size == pytest.approx(0.0, abs=1e-12)
    if name == "new_category":
        cur = np.concatenate([ref[:1800], np.array(["zzz"] * 200, dtype=object)])
    else:
        cur = _sample(kind, 2000, 4, shift=0.4 if kind == "boolean" else 1.0)
    moved = get_test(name).compute(ref, cur, kind=kind)  # type: ignore[arg-type]
    assert moved.drifted
    assert moved.effect_size > 0.05


@pytest.mark.parametrize(("name", "kind"), _cases())
@pytest.mark.parametrize("n", [1, 2, 3])
def test_tiny_samples_run_without_warnings(name: str, kind: str, n: int) -> None:
    # pytest turns every warning into an error, so this fails on any scipy/numpy warning
    out = get_test(name).compute(_sample(kind, n, 5), _sample(kind, n, 6), kind=kind)  # type: ignore[arg-type]
    assert math.isfinite(out.statistic)
    assert out.p_value is None or 0.0 <= out.p_value <= 1.0


@pytest.mark.parametrize("name", NAMES)
def test_refuses_a_kind_it_does_not_accept(name: str) -> None:
    cls = REGISTRY[name]
    other = next((k for k in KINDS if k not in cls.kinds), None)
    if other is None:  # accepts every kind
        assert cls.kinds == set(KINDS)
        return
    with pytest.raises(ConfigError, match=f"does not accept {other} columns"):
        cls().compute(_sample(other, 10, 1), _sample(other, 10, 2), kind=other)  # type: ignore[arg-type]


def test_every_registered_test_is_a_drift_test_subclass_in_its_own_module() -> None:
    modules = {REGISTRY[n].__module__ for n in NAMES}
    assert len(modules) == len(NAMES)
    assert all(issubclass(REGISTRY[n], DriftTest) for n in NAMES)
