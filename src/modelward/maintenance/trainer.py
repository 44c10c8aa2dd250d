"""Where a retrain job's training runs: a subprocess with a time limit and captured logs (live), or the
calling process (:class:`InProcessTrainer`, for the backtest's simulated clock only).

:class:`SubprocessTrainer` starts ``python -m modelward.maintenance._train_child`` in a session of its own and
hands it the request on stdin (the database URL never touches the disk). The child calls
:func:`~modelward.maintenance.retrain.train_challenger`, writes its result to a file and exits; its
stdout and stderr go to a log that is stored in the artifact store whatever happens. Started by the loop's
leader, it fences its writes with the leader's lease (:func:`~modelward.jobs.lease.held`): a version trained
for a leader that was replaced meanwhile is refused, not registered. It dies with its
parent (Linux ``PR_SET_PDEATHSIG``), so a ``kill -9`` of the server cannot leave a training behind that
registers a version later; past the time limit its whole process group is killed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from modelward.errors import ModelwardError
from modelward.jobs.lease import Lease, held
from modelward.maintenance.retrain import TrainRequest, TrainResult, train_challenger
from modelward.workspace import Workspace

__all__ = ["InProcessTrainer", "Stopped", "SubprocessTrainer", "TrainOutcome", "Trainer", "main"]

log = logging.getLogger(__name__)

_LOG_LIMIT = 1_000_000  # bytes of training output kept
_TAIL_LINES = 25


class Stopped(Exception):  # noqa: N818 - a signal to unwind, not an error
    """The loop is stopping: the training was killed and the job is left to resume."""


@dataclass(frozen=True)
class TrainOutcome:
    """How a training run ended: a result, or an error / a timeout, with its log."""

    result: TrainResult | None
    error: str | None = None
    timed_out: bool = False
    exit_code: int | None = None
    seconds: float = 0.0
    log_tail: str = ""
    log_artifact: str | None = None


class Trainer(Protocol):
    def run(
        self,
        ws: Workspace,
        request: TrainRequest,
        *,
        time_limit: float,
        tick: Callable[[], None],
        stop: threading.Event,
    ) -> TrainOutcome:
        """Train; call ``tick`` now and then (it may raise to abandon the run); honour ``stop``."""
        ...


class InProcessTrainer:
    """Trains in the calling process, without a time limit (the backtest, on a simulated clock).
    ``loaded`` is handed each new artifact's digest and the model loaded back from it
    (:func:`~modelward.maintenance.retrain.train_challenger`)."""

    def __init__(self, loaded: Callable[[str, Any], None] | None = None) -> None:
        self.loaded = loaded

    def run(
        self,
        ws: Workspace,
        request: TrainRequest,
        *,
        time_limit: float,
        tick: Callable[[], None],
        stop: threading.Event,
    ) -> TrainOutcome:
        started = time.perf_counter()
        try:
            result = train_challenger(ws, request, loaded=self.loaded)
        except ModelwardError as exc:
            return TrainOutcome(None, error=exc.message, seconds=time.perf_counter() - started)
        return TrainOutcome(result, seconds=time.perf_counter() - started)


class SubprocessTrainer:
    """Trains in a child process (see the module docstring)."""

    def __init__(self, poll_seconds: float = 1.0) -> None:
        self.poll_seconds = poll_seconds

    def run(
        self,
        ws: Workspace,
        request: TrainRequest,
        *,
        time_limit: float,
        tick: Callable[[], None],
        stop: threading.Event,
    ) -> TrainOutcome:
        with tempfile.TemporaryDirectory(prefix="modelward-train-") as tmp:
            work = Path(tmp)
            result_path, log_path = work / "result.json", work / "train.log"
            lease = held()
            spec = {
                "root": str(ws.root),
                "database_url": ws.store.url,
                "artifacts": ws.artifacts.location,
                "request": asdict(request),
                "lease": None if lease is None else lease.to_dict(),
            }
            started = time.monotonic()
            with log_path.open("wb") as out:
                proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "modelward.maintenance._train_child",
                        str(result_path),
                        str(os.getpid()),
                    ],
                    stdin=subprocess.PIPE,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    cwd=str(ws.root),
                )
                assert proc.stdin is not None
                with contextlib.suppress(BrokenPipeError):  # a child that died at once says why in its log
                    proc.stdin.write(json.dumps(spec).encode())
                    proc.stdin.close()
                timed_out = self._wait(proc, started, time_limit, tick, stop)
            seconds = time.monotonic() - started
            raw = log_path.read_bytes()[-_LOG_LIMIT:]
            blob = ws.artifacts.put(raw) if raw else None
            tail = "\n".join(raw.decode("utf-8", "replace").splitlines()[-_TAIL_LINES:])
            outcome = TrainOutcome(
                None, exit_code=proc.returncode, seconds=seconds, log_tail=tail, log_artifact=blob
            )
            if timed_out:
                return replace(
                    outcome,
                    timed_out=True,
                    error=f"training exceeded its time limit of {time_limit:g} s and was killed",
                )
            doc = json.loads(result_path.read_text()) if result_path.exists() else {}
            if proc.returncode == 0 and "result" in doc:
                return replace(outcome, result=TrainResult(**doc["result"]))
            error = doc.get("error") or (
                f"the training process exited with status {proc.returncode} without a result (see its log)"
            )
            return replace(outcome, error=str(error))

    def _wait(
        self,
        proc: subprocess.Popen[bytes],
        started: float,
        time_limit: float,
        tick: Callable[[], None],
        stop: threading.Event,
    ) -> bool:
        """Wait for the child; True when it was killed at the time limit."""
        try:
            while True:
                remaining = time_limit - (time.monotonic() - started)
                if remaining <= 0:
                    _kill(proc)
                    return True
                try:
                    proc.wait(timeout=min(self.poll_seconds, remaining))
                    return False
                except subprocess.TimeoutExpired:
                    pass
                if stop.is_set():
                    raise Stopped
                tick()
        except BaseException:
            _kill(proc)
            raise


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    proc.wait()


# -- the child ---------------------------------------------------------------------------------------


def _die_with(parent: int) -> None:
    """Be killed when the parent dies (Linux); exit now if it is already gone."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(3)


def main(argv: list[str] | None = None) -> int:
    """The training child: ``python -m modelward.maintenance._train_child RESULT_FILE PARENT_PID`` (spec on
    stdin)."""
    result_path, parent = (argv or sys.argv[1:])[:2]
    _die_with(int(parent))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spec = json.loads(sys.stdin.read())
    out: dict[str, object]
    code = 0
    try:
        with Workspace.open(
            spec["root"], database_url=spec["database_url"], artifacts=spec["artifacts"]
        ) as ws:
            lease = spec.get("lease")
            with ws.leases.fenced(Lease.from_dict(lease)) if lease else contextlib.nullcontext():
                result = train_challenger(ws, TrainRequest(**spec["request"]))
        out = {"result": asdict(result)}
        log.info(
            "registered %s@%d (%s, %s)",
            spec["request"]["model"],
            result.version,
            "new" if result.created else "identical to an existing version",
            "weighted" if result.weighted else "unweighted",
        )
    except ModelwardError as exc:
        log.error("%s", exc.message)
        out, code = {"error": exc.message}, 2
    except BaseException as exc:
        traceback.print_exc()
        out, code = {"error": f"{type(exc).__name__}: {exc}"}, 1
    Path(result_path).write_text(json.dumps(out), encoding="utf-8")
    return code
