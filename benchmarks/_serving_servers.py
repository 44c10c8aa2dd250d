"""The three servers of the serving benchmark: start one for a pickled model, stop it.

Each server is a subprocess on 127.0.0.1 answering ``POST`` with the same JSON body
(``{"dataframe_records": [{"f0": ..., ..., "f19": ...}]}``):

* ``mlflow models serve`` (``--env-manager local``) of the model saved with ``mlflow.sklearn``
  (with an inferred signature, as ``log_model(input_example=...)`` would) in the MLflow venv;
* ``bentoml serve`` of a minimal service (records → DataFrame → ``predict``) in the BentoML venv;
* ``modelward serve`` of a workspace where the model is registered and promoted to champion,
  with the default durable logging (``log.durability: sync``) on SQLite.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _peers import peer_python  # type: ignore[import-not-found]
from _serving_models import FEATURES, request_rows  # type: ignore[import-not-found]

HERE = Path(__file__).resolve().parent
SKLEARN = ["scikit-learn==1.9.1", "numpy==2.4.6"]
MLFLOW_REQS = ["mlflow", *SKLEARN, "pandas<3"]
BENTOML_REQS = ["bentoml", *SKLEARN, "pandas<3"]
QUIET_ENV = {
    "BENTOML_DO_NOT_TRACK": "true",
    "DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "PYTHONWARNINGS": "ignore",
}

BENTO_SERVICE = '''\
import os
import pickle

import bentoml
import pandas as pd


@bentoml.service
class Classifier:
    """A minimal BentoML service: the same records body, one predict call per request."""

    def __init__(self) -> None:
        with open(os.environ["BENCH_MODEL_PATH"], "rb") as fh:
            self.model = pickle.load(fh)

    @bentoml.api
    def predict(self, dataframe_records: list[dict[str, float]]) -> dict:
        frame = pd.DataFrame(dataframe_records)
        return {"predictions": self.model.predict(frame).tolist()}
'''

MLFLOW_SAVE = """\
import pickle, sys
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature

model_path, out = sys.argv[1], sys.argv[2]
with open(model_path, "rb") as fh:
    model = pickle.load(fh)
example = pd.DataFrame([dict(zip(model.feature_names_in_, [0.0] * model.n_features_in_))])
mlflow.sklearn.save_model(
    model,
    out,
    signature=infer_signature(example, model.predict(example)),
    skops_trusted_types=["sklearn.tree._tree.Tree"],  # our own file; see ANCHORS.md
)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One running server subprocess."""

    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    cleanup: list[Any] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        """The server's process and all its descendants (uvicorn/BentoML workers)."""
        return [self.proc.pid, *_descendants(self.proc.pid)]

    def wait_ready(self, body: bytes, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        with httpx.Client(timeout=10) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
                try:
                    r = client.post(self.url, content=body, headers={"content-type": "application/json"})
                    if r.status_code == 200:
                        return
                    last = f"{r.status_code} {r.text[:300]}"
                except httpx.TransportError as exc:
                    last = str(exc)
                time.sleep(0.25)
        raise RuntimeError(f"{self.name} not ready within {timeout} s (last: {last}):\n{self.tail()}")

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(2)  # SIGINT: graceful (modelward drains its log)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                for pid in self.pids[::-1]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, 9)
                self.proc.wait()
        for item in self.cleanup:
            item.cleanup()


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for child in map(int, children):
        out.append(child)
        out.extend(_descendants(child))
    return out


def _popen(
    name: str, cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")[1])
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env={**os.environ, **QUIET_ENV, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
        )
    return proc, log_path


def start_mlflow(model_pkl: Path, kind: str) -> Server:
    python = peer_python("mlflow-serving", MLFLOW_REQS)
    tmp = tempfile.TemporaryDirectory(prefix="bench-mlflow-")
    out = Path(tmp.name) / f"model-{kind}"
    subprocess.run(
        [str(python), "-c", MLFLOW_SAVE, str(model_pkl), str(out)],
        check=True,
        env={**os.environ, **QUIET_ENV},
    )
    port = free_port()
    mlflow = python.parent / "mlflow"
    proc, log = _popen(
        "mlflow",
        [
            str(mlflow),
            "models",
            "serve",
            "-m",
            str(out),
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env={"PATH": f"{python.parent}:{os.environ.get('PATH', '')}"},
    )
    return Server("mlflow", f"http://127.0.0.1:{port}/invocations", proc, log, [tmp])


def start_bentoml(model_pkl: Path, kind: str) -> Server:
    python = peer_python("bentoml-serving", BENTOML_REQS)
    tmp = tempfile.TemporaryDirectory(prefix="bench-bentoml-")
    (Path(tmp.name) / "service.py").write_text(BENTO_SERVICE)
    port = free_port()
    proc, log = _popen(
        "bentoml",
        [
            str(python.parent / "bentoml"),
            "serve",
            "service:Classifier",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=Path(tmp.name),
        env={"BENCH_MODEL_PATH": str(model_pkl), "PATH": f"{python.parent}:{os.environ.get('PATH', '')}"},
    )
    return Server("bentoml", f"http://127.0.0.1:{port}/predict", proc, log, [tmp])


def modelward_workspace(model_pkl: Path, kind: str, settings: str = "") -> tempfile.TemporaryDirectory[str]:
    """A temporary workspace (SQLite) where the pickled model is version 1 and champion of ``kind``."""
    from modelward import Workspace
    from modelward.persistence import dumps

    with model_pkl.open("rb") as fh:
        model = pickle.load(fh)  # our own file, written by this benchmark
    tmp = tempfile.TemporaryDirectory(prefix="bench-modelward-")
    rows = request_rows(5)
    inputs = [{"name": f, "type": "numeric", "dtype": "float64", "nullable": False} for f in FEATURES]
    config = f"log_level: WARNING\n{settings}models: {{}}\n"
    with Workspace.init(Path(tmp.name), config=config) as ws:
        ws.registry.register(
            kind,
            task="classification",
            artifact=ws.artifacts.put(dumps(model, "skops")),
            serializer="skops",
            flavor="sklearn",
            signature={
                "inputs": inputs,
                "output": {
                    "name": "y",
                    "task": "classification",
                    "classes": [int(c) for c in model.classes_],
                },
            },
            input_example=rows,
            params={},
            metrics={},
            lineage={"benchmark": "benchmarks/serving.py"},
        )
        ws.registry.promote(kind, 1, reason="serving benchmark")
    return tmp


def start_modelward(model_pkl: Path, kind: str, extra: list[str], settings: str = "") -> Server:
    tmp = modelward_workspace(model_pkl, kind, settings)
    port = free_port()
    proc, log = _popen(
        "modelward",
        [sys.executable, "-m", "modelward", "serve", "-w", tmp.name, "--port", str(port), *extra],
    )
    return Server("modelward", f"http://127.0.0.1:{port}/v1/models/{kind}/predict", proc, log, [tmp])


def build_peers() -> None:
    """Create (once) both peer venvs before any timing starts."""
    peer_python("mlflow-serving", MLFLOW_REQS)
    peer_python("bentoml-serving", BENTOML_REQS)
