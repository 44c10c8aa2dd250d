"""Running the app under uvicorn: ``modelward serve``.

:func:`serve` makes a temporary directory it owns, points prometheus-client's multiprocess
mode at it (so ``/metrics`` is right with any number of workers), writes the workspace path
and the CLI overrides into a small spec file there, and starts uvicorn with the
:func:`app_factory` import string. Every worker process (or the single in-process one)
builds its app from that spec. The directory is removed when the server exits.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from modelward.config import environment
from modelward.errors import ConfigError

__all__ = ["SPEC_ENV", "app_factory", "serve"]

log = logging.getLogger(__name__)

SPEC_ENV = "_MODELWARD_SERVE_SPEC"  # not a MODELWARD_ setting: private to serve and its workers
_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def serve(root: Path, overrides: dict[str, Any], *, log_level: str = "info", loop: bool = True) -> None:
    """Serve the workspace at ``root`` until interrupted (SIGINT/SIGTERM drain the log).

    The maintenance loop runs in a background thread of this process (one loop whatever the number of
    workers) unless ``loop`` is false or the ``loop.serve`` setting is.
    """
    import uvicorn

    from modelward.workspace import Workspace

    with Workspace.open(root, **overrides) as ws:  # fail fast on bad settings or an unreachable store
        settings = ws.settings.serve
        root = ws.root
        loop = loop and ws.settings.loop.serve
    background = _background_loop(root, overrides) if loop else None
    runtime = Path(tempfile.mkdtemp(prefix="modelward-serve-"))
    metrics_dir = runtime / "metrics"
    metrics_dir.mkdir()
    spec = runtime / "spec.json"
    loop_metrics = runtime / "loop.prom"  # written by the loop's thread, appended to every worker's /metrics
    spec.write_text(
        json.dumps({"root": str(root), "overrides": overrides, "loop_metrics": str(loop_metrics)}),
        encoding="utf-8",
    )
    os.environ[_MULTIPROC_ENV] = str(metrics_dir)
    os.environ[SPEC_ENV] = str(spec)
    _multiprocess_values()
    try:
        if background is not None:
            background.start(loop_metrics)
        log.info(
            "serving %s on http://%s:%d with %d worker(s)",
            root,
            settings.host,
            settings.port,
            settings.workers,
        )
        uvicorn.run(
            "modelward.server.runner:app_factory",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=log_level,
            access_log=False,
            timeout_graceful_shutdown=30,
        )
    finally:
        if background is not None:
            background.close()
        os.environ.pop(SPEC_ENV, None)
        os.environ.pop(_MULTIPROC_ENV, None)
        shutil.rmtree(runtime, ignore_errors=True)


def _background_loop(root: Path, overrides: dict[str, Any]) -> Any:
    """The maintenance loop, checked now (a bad policy stops the server from starting), not yet started."""
    from modelward.maintenance.loop import BackgroundLoop

    return BackgroundLoop(root, overrides)


def app_factory() -> Any:
    """The app of one uvicorn worker, built from the spec written by :func:`serve`."""
    from modelward.server.app import create_app
    from modelward.workspace import Workspace

    path = environment(SPEC_ENV)
    if not path:
        raise ConfigError(f"{SPEC_ENV} is not set: start the server with `modelward serve`.")
    spec = json.loads(Path(path).read_text(encoding="utf-8"))
    _multiprocess_values()
    ws = Workspace.open(spec["root"], **spec["overrides"])
    extra = spec.get("loop_metrics")
    return create_app(ws, close_workspace=True, freeze_gc=True, loop_metrics=Path(extra) if extra else None)


def _multiprocess_values() -> None:
    """Make metrics created from now on use multiprocess values, even if prometheus-client was imported."""
    from prometheus_client import values

    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
