"""Every random draw in the tests and benchmarks is seeded with a fixed number, so a run repeats.

Read from the source (AST), so a new test file is checked without anyone adding it to a list. Refused:
a generator made without a seed (``default_rng()``), NumPy's global legacy state (``np.random.rand``,
``np.random.seed``), the stdlib ``random`` module, ``hash(...)`` anywhere in a seed (Python salts string
hashes per process, so ``hash("x0")`` is a different seed every run), and scikit-learn estimators and
splitters that draw random numbers but were given no ``random_state``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(p for d in ("tests", "benchmarks") for p in (ROOT / d).rglob("*.py"))

# NumPy's seedable constructors; any other np.random.<name>(...) call uses the global state.
_NUMPY_SEEDED = {
    "default_rng",
    "Generator",
    "RandomState",
    "SeedSequence",
    "PCG64",
    "PCG64DXSM",
    "Philox",
    "MT19937",
    "SFC64",
    "BitGenerator",
}
# scikit-learn callables that draw random numbers unless given random_state.
_SKLEARN_RANDOM = (
    "RandomForest",
    "ExtraTrees",
    "GradientBoosting",
    "HistGradientBoosting",
    "MLP",
    "SGD",
    "KMeans",
    "train_test_split",
    "IsolationForest",
)
_SEED_KEYWORDS = {"seed", "random_state", "rng"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _calls_hash(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and _dotted(n.func) == "hash" for n in ast.walk(node))


def problems(source: str, name: str = "<source>") -> Iterator[str]:
    """``file:line: what is unseeded`` for every unseeded random draw in ``source``."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [a.name for a in node.names]
            if module == "random" or (module is None and "random" in names):
                yield f"{name}:{node.lineno}: the stdlib random module; use np.random.default_rng(SEED)"
            continue
        if not isinstance(node, ast.Call):
            continue
        func = _dotted(node.func)
        last = func.rsplit(".", 1)[-1]
        seeds = [*node.args, *(k.value for k in node.keywords if k.arg in _SEED_KEYWORDS)]
        if last in _NUMPY_SEEDED and func.startswith(("np.random.", "numpy.random.", "default_rng")):
            if not node.args and not node.keywords:
                yield f"{name}:{node.lineno}: {func}() without a seed"
            if any(_calls_hash(s) for s in seeds):
                yield f"{name}:{node.lineno}: {func} seeded with hash(...), which changes per process"
            continue
        if func.startswith(("np.random.", "numpy.random.")):
            yield f"{name}:{node.lineno}: {func}() uses NumPy's global state; draw from default_rng(SEED)"
            continue
        if any(_calls_hash(k.value) for k in node.keywords if k.arg in _SEED_KEYWORDS):
            yield f"{name}:{node.lineno}: {func} seeded with hash(...), which changes per process"
        draws = last.startswith(_SKLEARN_RANDOM) and (
            last.endswith(("Regressor", "Classifier", "Forest", "Means")) or last == "train_test_split"
        )
        if draws and not any(k.arg == "random_state" for k in node.keywords):
            yield f"{name}:{node.lineno}: {func}(...) without random_state"


def test_the_checker_catches_each_kind_of_unseeded_draw() -> None:
    bad = """
import random
import numpy as np
from sklearn.ensemble import RandomForestClassifier
a = np.random.default_rng()
b = np.random.default_rng(hash("x0") % 2**32)
c = np.random.normal(0, 1, 10)
np.random.seed(0)
d = RandomForestClassifier(n_estimators=3)
e = run(seed=hash(name))
"""
    found = list(problems(bad))
    assert len(found) == 7, found
    good = """
import numpy as np
from sklearn.ensemble import RandomForestClassifier
a = np.random.default_rng(0)
b = np.random.default_rng([1, 2])
c = a.normal(0, 1, 10)
d = RandomForestClassifier(n_estimators=3, random_state=0)
e = run(seed=n)
"""
    assert list(problems(good)) == []


def test_every_random_draw_in_tests_and_benchmarks_is_seeded() -> None:
    assert len(FILES) > 50  # the walk found the suite
    found = [
        p for path in FILES for p in problems(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert not found, "unseeded randomness:\n" + "\n".join(found)
