"""`modelward serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from modelward.cli._common import DatabaseOpt, WorkspaceOpt, configure_logging
from modelward.workspace import Workspace


def serve_command(
    host: Annotated[
        str | None,
        typer.Option(metavar="ADDRESS", help="Interface to bind (default: serve.host, 127.0.0.1)."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(metavar="PORT", help="TCP port (default: serve.port, 8000; 0: any free port)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(metavar="N", help="Worker processes (default: serve.workers, 1).", min=1)
    ] = None,
    no_loop: Annotated[
        bool,
        typer.Option("--no-loop", help="Do not run the maintenance loop in the server (see loop.serve)."),
    ] = False,
    workspace: WorkspaceOpt = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Serve the champion of every model over HTTP (predict, feedback, metrics, hot reload).

    The maintenance loop (monitor, retraining triggers, gate, promotion) runs in the background unless
    --no-loop is given or loop.serve is false.
    """
    from modelward.server.runner import serve

    serve_flags = {k: v for k, v in {"host": host, "port": port, "workers": workers}.items() if v is not None}
    overrides: dict[str, Any] = {"database_url": database_url}
    if serve_flags:
        overrides["serve"] = serve_flags
    overrides = {k: v for k, v in overrides.items() if v is not None}
    with Workspace.open(workspace or Path.cwd(), **overrides) as ws:
        root = ws.root
        level = ws.settings.log_level
    configure_logging(level)
    serve(root, overrides, log_level=level.lower(), loop=not no_loop)
