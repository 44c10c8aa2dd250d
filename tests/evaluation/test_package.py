"""The evaluation package's contract: pure (no I/O, no store), an honest ``__all__``, documented."""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
from pathlib import Path

import modelward.evaluation as evaluation

#: What the package may import: numerical libraries, YAML for the behavioral files, pandas for the frames
#: handed to predict(), and modelward's own errors. No store, no registry, no server, no HTTP.
ALLOWED_ROOTS = {
    "numpy",
    "scipy",
    "yaml",
    "pandas",
    "__future__",
    "abc",
    "collections",
    "dataclasses",
    "math",
    "pathlib",
    "typing",
    "warnings",
}
ALLOWED_MODELWARD = ("modelward.errors", "modelward.evaluation")


def _modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(evaluation.__path__, "modelward.evaluation."))


def test_only_pure_imports() -> None:
    for name in ["modelward.evaluation", *_modules()]:
        module = importlib.import_module(name)
        assert module.__file__ is not None
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module]
            else:
                continue
            for target in targets:
                if target.startswith("modelward"):
                    assert target.startswith(ALLOWED_MODELWARD), f"{name} imports {target}"
                else:
                    assert target.split(".")[0] in ALLOWED_ROOTS, f"{name} imports {target}"


def test_all_is_honest_and_every_public_module_explains_itself() -> None:
    for name in evaluation.__all__:
        assert hasattr(evaluation, name), name
    for name in _modules():
        module = importlib.import_module(name)
        assert module.__doc__ and len(module.__doc__) > 40, f"{name} needs a docstring saying why it exists"


def test_results_are_json_safe() -> None:
    from modelward.evaluation import MixtureSPRT, error_budget, mcnemar_counts

    for obj in (mcnemar_counts(0, 0, 10), MixtureSPRT().state(), error_budget([0], [0])):
        json.dumps(obj.to_dict(), allow_nan=False)
