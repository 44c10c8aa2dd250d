"""Writes ``docs/cli.md``, the command-line reference, from the Typer app itself.

Every command and group is walked in the order ``modelward -h`` lists them; each gets its usage line,
its description, and a table of its arguments and options with their metavars, defaults and help.
Nothing is written by hand, so the reference cannot drift from the code; ``tests/test_cli_docs.py``
fails when the committed file differs from what this writes. Regenerate with::

    make docs        # or: .venv/bin/python -m modelward.cli._docs docs/cli.md

``--check FILE`` exits with status 1 (and says so) when ``FILE`` is out of date, without writing.
"""

from __future__ import annotations

import argparse
import enum
import inspect
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
import typer.main

from modelward.cli._help import HELP_OPTION_NAMES, _type_metavar

__all__ = ["REGENERATE", "main", "render"]

REGENERATE = "make docs"
"""The command that rewrites docs/cli.md (what a failing check tells the reader to run)."""

_HEADER = f"""\
# Command-line reference

<!-- Generated from the Typer app by `python -m modelward.cli._docs docs/cli.md`; do not edit by hand.
     Regenerate with `{REGENERATE}`; tests/test_cli_docs.py fails when this file is out of date. -->

Every command and option of `modelward`, as `modelward COMMAND -h` shows them. Every command takes
`-h`/`--help`. A command that opens a workspace looks for `modelward.yaml` in the current directory
or a parent unless given `--workspace DIR`; settings come from the command line, then `MODELWARD_*`
environment variables, then `modelward.yaml` (see [configuration.md](configuration.md)).
"""


def _subcommands(ctx: typer.Context) -> Iterator[tuple[str, Any]]:
    """The visible subcommands of a group, in the order ``-h`` lists them (none for a command)."""
    command: Any = ctx.command
    for name in getattr(command, "list_commands", lambda _ctx: [])(ctx):
        sub = command.get_command(ctx, name)
        if sub is not None and not sub.hidden:
            yield name, sub


def _walk(ctx: typer.Context) -> Iterator[typer.Context]:
    """``ctx`` and the contexts of every visible subcommand below it, depth first, in listing order."""
    yield ctx
    for name, sub in _subcommands(ctx):
        yield from _walk(typer.Context(sub, info_name=name, parent=ctx))


def _cell(text: str) -> str:
    """One table cell: a single line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _paragraphs(text: str) -> str:
    """A help text as Markdown paragraphs: Click's ``\\b`` markers dropped, lines of a paragraph joined."""
    paragraphs = inspect.cleandoc(text).replace("\b\n", "").split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def _is_argument(param: Any) -> bool:
    return bool(param.param_type_name == "argument")


def _default(param: Any) -> str:
    if param.required:
        return "required"
    if not _is_argument(param) and (param.is_flag or param.secondary_opts):  # --x, or --x/--no-x
        return "on" if param.default else "off"
    default = param.default
    if default is None or callable(default) or (isinstance(default, list | tuple) and not default):
        return "—"
    if isinstance(default, enum.Enum):
        default = default.value
    if isinstance(default, list | tuple):
        return ", ".join(f"`{v}`" for v in default)
    return f"`{default}`"


def _names(param: Any) -> str:
    if _is_argument(param):
        return f"`{param.display_name_raw}{'...' if param.nargs != 1 else ''}`"
    names = ", ".join(f"`{n}`" for n in [*param.opts, *param.secondary_opts])
    if param.is_flag or param.count:
        return names
    return f"{names} `{param.metavar or _type_metavar(param)}`"


def _help(param: Any) -> str:
    return _cell(getattr(param, "help", None) or "")


def _command(ctx: typer.Context) -> list[str]:
    command: Any = ctx.command
    path = ctx.command_path
    lines = [f"## `{path}`", ""]
    if command.help:
        lines += [_paragraphs(command.help), ""]
    pieces = " ".join(command.collect_usage_pieces(ctx))
    lines += ["```console", f"$ {path} {pieces}".rstrip(), "```", ""]
    params = [
        p
        for p in command.get_params(ctx)
        if not getattr(p, "hidden", False) and not set(getattr(p, "opts", ())) & set(HELP_OPTION_NAMES)
    ]
    arguments = [p for p in params if _is_argument(p)]
    options = [p for p in params if not _is_argument(p)]
    if arguments:
        lines += ["| argument | default | meaning |", "|---|---|---|"]
        lines += [f"| {_names(p)} | {_default(p)} | {_help(p)} |" for p in arguments]
        lines.append("")
    if options:
        lines += ["| option | default | meaning |", "|---|---|---|"]
        lines += [f"| {_names(p)} | {_default(p)} | {_help(p)} |" for p in options]
        lines.append("")
    subcommands = list(_subcommands(ctx))
    if subcommands:
        lines += ["| command | what it does |", "|---|---|"]
        lines += [
            f"| [`{path} {name}`](#{_anchor(f'{path} {name}')}) | {_cell(sub.get_short_help_str(limit=200))} |"
            for name, sub in subcommands
        ]
        lines.append("")
    return lines


def _anchor(path: str) -> str:
    """The heading anchor GitHub makes for ``## `path` ``."""
    return path.lower().replace(" ", "-")


def render(app: typer.Typer | None = None) -> str:
    """The Markdown reference of ``app`` (default: ``modelward.cli.app``)."""
    if app is None:
        from modelward.cli import app as modelward_app

        app = modelward_app
    root = typer.main.get_command(app)
    lines = [_HEADER]
    for ctx in _walk(typer.Context(root, info_name="modelward")):
        lines += _command(ctx)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m modelward.cli._docs [--check] [FILE]``: write (or check) the reference."""
    parser = argparse.ArgumentParser(
        prog="python -m modelward.cli._docs", description=__doc__.splitlines()[0]
    )
    parser.add_argument("file", nargs="?", type=Path, help="where to write it (default: print to stdout)")
    parser.add_argument("--check", action="store_true", help="exit 1 when FILE differs; write nothing")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if args.file is None:
            parser.error("--check needs the FILE to compare")
        current = args.file.read_text(encoding="utf-8") if args.file.exists() else ""
        if current != text:
            sys.stderr.write(f"{args.file} is out of date with the CLI; regenerate it with `{REGENERATE}`.\n")
            return 1
        return 0
    if args.file is None:
        sys.stdout.write(text)
    else:
        args.file.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
