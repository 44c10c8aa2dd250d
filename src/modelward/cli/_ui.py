"""`modelward ui`: the web console alone, read-only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelward.cli._common import DatabaseOpt, configure_logging, err_console
from modelward.workspace import Workspace


def ui_command(
    directory: Annotated[
        Path | None,
        typer.Argument(
            metavar="[DIRECTORY]",
            help="The workspace (a directory holding modelward.yaml, or below one); default: the current one.",
        ),
    ] = None,
    host: Annotated[str, typer.Option(metavar="ADDRESS", help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(metavar="PORT", help="TCP port (default 8001, beside modelward serve's 8000).")
    ] = 8001,
    database_url: DatabaseOpt = None,
) -> None:
    """Serve the web console alone, read-only, at http://ADDRESS:PORT/ui (no model served, no action offered).

    Models, rollouts, monitoring charts, data-quality findings, the loop's timeline and datasets, read from
    the workspace's store. `modelward serve` mounts the same console at /ui, with actions for a signed-in
    admin. Ctrl-C stops it.
    """
    import uvicorn

    from modelward.ui import create_console_app

    overrides = {"database_url": database_url} if database_url else {}
    ws = Workspace.open(directory or Path.cwd(), **overrides)
    configure_logging(ws.settings.log_level)
    err_console.print(f"modelward console (read-only) of {ws.root}: http://{host}:{port}/ui", highlight=False)
    uvicorn.run(
        create_console_app(ws, close_workspace=True),
        host=host,
        port=port,
        log_level=ws.settings.log_level.lower(),
        access_log=False,
    )
