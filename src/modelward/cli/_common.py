"""Shared pieces of the CLI: options, opening the workspace, rendering."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from modelward.errors import ModelwardError
from modelward.workspace import Workspace

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace", "-w", metavar="DIR", help="Workspace directory (default: this directory or a parent)."
    ),
]
DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        metavar="URL",
        help="Metadata database URL; overrides MODELWARD_DATABASE_URL and modelward.yaml.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


@contextmanager
def open_workspace(workspace: Path | None, database_url: str | None = None) -> Iterator[Workspace]:
    ws = Workspace.open(workspace or Path.cwd(), database_url=database_url)
    configure_logging(ws.settings.log_level)
    try:
        yield ws
    finally:
        ws.close()


def configure_logging(level: str) -> None:
    root = logging.getLogger("modelward")
    if not any(isinstance(h, RichHandler) for h in root.handlers):
        root.addHandler(RichHandler(console=err_console, show_path=False))
    root.setLevel(level)


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``key=value`` pairs; values are read as YAML scalars (``100`` → int, ``true`` → bool)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ModelwardError(f"Expected key=value, got {item!r}. Example: --param max_depth=8")
        try:
            out[key] = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            out[key] = raw
    return out


def to_jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {k: to_jsonable(getattr(value, k)) for k in value.__dataclass_fields__}
    return value


def print_json(value: Any) -> None:
    console.print_json(json.dumps(to_jsonable(value)))


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def kv_table(title: str, rows: Mapping[str, Any]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows.items():
        table.add_row(key, fmt(value))
    return table


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A titled table with ``columns``; each cell goes through :func:`fmt`."""
    out = Table(title=title, title_justify="left")
    for col in columns:
        out.add_column(col)
    for row in rows:
        out.add_row(*(fmt(v) for v in row))
    return out
