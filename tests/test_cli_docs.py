"""docs/cli.md is what the CLI generates: every command and option, as ``-h`` shows them.

When a command or option is added, removed or reworded, this fails until the reference is regenerated
with ``make docs`` (``python -m modelward.cli._docs docs/cli.md``) and committed.
"""

from __future__ import annotations

import difflib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
import typer.main

from modelward.cli import _docs, app
from modelward.cli._help import App

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "cli.md"


def _walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    ctx = typer.Context(command, info_name="modelward")
    for name in getattr(command, "list_commands", lambda _ctx: [])(ctx):
        yield from _walk(command.get_command(ctx, name), (*path, name))


def test_docs_cli_md_is_up_to_date() -> None:
    committed = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    generated = _docs.render()
    if committed != generated:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                generated.splitlines(keepends=True),
                "docs/cli.md (committed)",
                "docs/cli.md (from the CLI)",
                n=1,
            )
        )
        pytest.fail(
            "docs/cli.md is out of date with the CLI: a command or option was added, removed or changed. "
            f"Regenerate it with `{_docs.REGENERATE}` (or `.venv/bin/python -m modelward.cli._docs docs/cli.md`) "
            f"and commit it.\n{diff[:6000]}",
            pytrace=False,
        )


def test_every_command_and_option_is_in_the_reference() -> None:
    text = _docs.render()
    root = typer.main.get_command(app)
    paths = list(_walk(root))
    assert len(paths) > 15
    for path in paths:
        assert f"## `{' '.join(('modelward', *path))}`" in text
    for option in (
        "`--fail-on-drift`",
        "`--param`, `-p` `KEY=VALUE`",
        "`--multivariate`, `--no-multivariate`",
        "`--name`, `-n` `NAME` | required",
    ):
        assert option in text
    assert "$ modelward models promote [OPTIONS] MODEL VERSION" in text  # the usage line -h prints
    assert (
        "`--help`" not in text.split("-->", 1)[1].split("## ", 1)[1]
    )  # -h/--help is said once, not per command


def test_a_new_command_appears_with_its_usage_arguments_options_and_defaults() -> None:
    demo = App(name="tool", help="A tool.")
    sub = App(help="Things.")
    demo.add_typer(sub, name="things")

    @sub.command("make")
    def make(
        name: Annotated[str, typer.Argument(metavar="NAME", help="What to call it.")],
        count: Annotated[int, typer.Option("--count", "-c", help="How many | at most 9.")] = 3,
        loud: Annotated[bool, typer.Option("--loud/--quiet", help="Say it.")] = False,
    ) -> None:
        """Make things.

        Long description,
        over two lines.
        """

    @demo.command("other")
    def other() -> None:
        """Another command."""

    text = _docs.render(demo)
    assert "## `modelward things make`" in text
    assert "Long description, over two lines." in text
    assert "$ modelward things make [OPTIONS] NAME" in text
    assert "| `NAME` | required | What to call it. |" in text
    assert "| `--count`, `-c` `N` | `3` | How many \\| at most 9. |" in text
    assert "| `--loud`, `--quiet` | off | Say it. |" in text
    assert "| [`modelward things make`](#modelward-things-make) | Make things. |" in text


def test_the_generator_writes_and_checks_the_file(tmp_path: Path) -> None:
    target = tmp_path / "cli.md"
    module = [sys.executable, "-m", "modelward.cli._docs"]
    stale = subprocess.run([*module, "--check", str(target)], capture_output=True, text=True, timeout=120)
    assert stale.returncode == 1
    assert f"is out of date with the CLI; regenerate it with `{_docs.REGENERATE}`" in stale.stderr
    assert _docs.main([str(target)]) == 0
    assert target.read_text(encoding="utf-8") == _docs.render()
    assert _docs.main(["--check", str(target)]) == 0
