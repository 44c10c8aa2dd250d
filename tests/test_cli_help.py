"""Every command's help reads like a good Unix tool's: -h works, every parameter is explained, and
placeholders are metavars (MODEL, FILE, N), never Python types (<bool>) or {name}."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from modelward.cli import app

runner = CliRunner()


def _walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    ctx = typer.Context(command, info_name="modelward")
    for name in getattr(command, "list_commands", lambda _ctx: [])(ctx):
        yield from _walk(command.get_command(ctx, name), (*path, name))


COMMANDS = dict(_walk(typer.main.get_command(app)))


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(path) for path in COMMANDS}
    assert {
        "",
        "init",
        "demo",
        "quickstart",
        "train",
        "serve",
        "monitor",
        "drift",
        "data add",
        "data demo",
        "models promote",
        "models history",
        "rollout start",
        "rollout status",
        "rollout abort",
    } <= names


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(p) or "modelward")
def test_every_parameter_has_help_and_the_help_has_no_type_placeholders(path: tuple[str, ...]) -> None:
    command = COMMANDS[path]
    ctx = typer.Context(command, info_name="modelward")
    undocumented = [p.name for p in command.get_params(ctx) if not (getattr(p, "help", None) or "").strip()]
    assert not undocumented, f"`modelward {' '.join(path)}`: parameters without help: {undocumented}"
    assert (command.help or "").strip(), f"`modelward {' '.join(path)}` has no description"

    short = runner.invoke(app, [*path, "-h"], terminal_width=100)
    long = runner.invoke(app, [*path, "--help"], terminal_width=100)
    assert short.exit_code == 0, short.output
    assert short.output == long.output
    text = short.output
    assert re.search(r"<[a-z][\w\[\]., |]*>", text) is None, f"a type placeholder in:\n{text}"
    assert re.search(r"\{[a-z_]+\}", text) is None, f"a {{name}} placeholder in:\n{text}"
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    for param in command.get_params(ctx):
        if param.param_type_name == "argument":
            shown = param.metavar or param.name.upper()
            assert shown in usage, f"argument {param.name!r} is not shown as {shown} in: {usage}"


def test_usage_names_arguments_by_their_metavars() -> None:
    out = runner.invoke(app, ["models", "promote", "-h"], terminal_width=100).output
    assert "Usage: modelward models promote [OPTIONS] MODEL VERSION" in out
    out = runner.invoke(app, ["init", "-h"], terminal_width=100).output
    assert "Usage: modelward init [OPTIONS] [DIR]" in out
    out = runner.invoke(app, ["train", "-h"], terminal_width=100).output
    assert re.search(r"--param\s+-p\s+KEY=VALUE\s+Override a training parameter", out), out
    assert re.search(r"--force\s+Register a new version", out), out  # a flag: nothing after its name


def test_modelward_dash_h_as_the_quickstart_suggests() -> None:
    script = Path(sys.executable).parent / "modelward"  # the console script, as a user runs it
    for argv in ([str(script), "-h"], [sys.executable, "-m", "modelward", "-h"]):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "Usage: modelward [OPTIONS] COMMAND [ARGS]..." in done.stdout
