"""What a model version was made from: code reference and environment."""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import platform
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

KEY_PACKAGES = ("modelward", "scikit-learn", "numpy", "pandas", "scipy", "pyarrow", "skops")


def environment() -> dict[str, Any]:
    packages: dict[str, str | None] = {}
    for name in KEY_PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            packages[name] = None
    return {"python": platform.python_version(), "platform": sys.platform, "packages": packages}


def source_hash(module: ModuleType) -> str | None:
    """SHA-256 of the entrypoint module's source file."""
    try:
        path = inspect.getsourcefile(module)
    except TypeError:
        return None
    if not path:
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def code_reference(root: Path, module: ModuleType) -> dict[str, Any]:
    """Git commit and dirty flag when ``root`` is in a git work tree; always the source hash."""
    ref: dict[str, Any] = {"module": module.__name__, "source_sha256": source_hash(module)}
    git = _git(root, "rev-parse", "HEAD")
    if git is not None:
        status = _git(root, "status", "--porcelain", "--untracked-files=no")
        ref.update({"kind": "git", "commit": git, "dirty": bool(status)})
    else:
        ref["kind"] = "source"
    return ref


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip()
