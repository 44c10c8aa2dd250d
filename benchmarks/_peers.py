"""Virtualenvs for the peers a benchmark measures (MLflow, BentoML, Evidently, NannyML, ...).

Peers are never runtime dependencies of modelward: each benchmark asks for a virtualenv of its
own under ``benchmarks/.venvs/NAME`` with exactly the requirements it lists. The venv is built
once and reused while the requirement list is unchanged; a file lock makes two benchmarks that
ask for the same venv at once wait for each other instead of corrupting it.

>>> python = peer_python("nannyml", ["nannyml==0.13.1", "statsmodels"])   # doctest: +SKIP
>>> subprocess.run([python, "-c", "import nannyml"], check=True)         # doctest: +SKIP
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import time
from pathlib import Path

VENVS = Path(__file__).resolve().parent / ".venvs"


def peer_python(name: str, requirements: list[str], *, quiet: bool = True) -> Path:
    """The ``python`` of ``benchmarks/.venvs/NAME``, created with ``requirements`` if needed."""
    VENVS.mkdir(parents=True, exist_ok=True)
    venv = VENVS / name
    python = venv / "bin" / "python"
    stamp = venv / ".requirements.json"
    wanted = json.dumps(sorted(requirements))
    with (VENVS / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and stamp.exists() and stamp.read_text() == wanted:
            return python
        started = time.perf_counter()
        print(
            f"[peers] building venv {name!r}: {' '.join(requirements)} (once; reused afterwards)",
            file=sys.stderr,
            flush=True,
        )
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        cmd = [str(python), "-m", "pip", "install", *(["--quiet"] if quiet else []), *requirements]
        subprocess.run(cmd, check=True)
        stamp.write_text(wanted)
        print(
            f"[peers] venv {name!r} ready in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        return python
