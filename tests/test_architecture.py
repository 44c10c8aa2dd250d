"""The layers hold: import-linter's contracts pass, and no package reaches into another's private module."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "modelward"


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in ``path``, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parts = ["modelward", *path.relative_to(SRC).with_suffix("").parts]
    package = parts[:-1]  # a module's package; for __init__.py, the package itself
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            out.append((node.lineno, base))
            out.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return out


def test_no_module_imports_another_packages_private_module() -> None:
    offences = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "__init__.py":
            continue  # the public facade
        importer = ".".join(["modelward", *path.relative_to(SRC).with_suffix("").parts])
        for line, module in _imports(path):
            parts = module.split(".")
            if parts[0] != "modelward":
                continue
            private = next(
                (i for i, p in enumerate(parts[1:], 1) if p.startswith("_") and not p.startswith("__")), None
            )
            if private is None:
                continue
            owner = ".".join(parts[:private])  # the package whose private module this is
            inside = importer.startswith(owner + ".") and (owner != "modelward" or importer.count(".") == 1)
            if not inside:
                offences.append(f"{path.relative_to(SRC.parent)}:{line} imports {module}")
    assert not offences, "private modules imported across packages (make the name public):\n" + "\n".join(
        offences
    )


def test_import_linter_contracts_are_kept() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is a test dependency: pip install -e '.[dev]'"
    done = subprocess.run([lint], capture_output=True, text=True, cwd=SRC.parents[1], check=False)
    assert done.returncode == 0, done.stdout[-4000:]
    assert "0 broken" in done.stdout
