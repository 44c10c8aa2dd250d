"""Help that reads like a good Unix tool's: ``-h`` everywhere, ``MODEL``/``FILE``/``N`` placeholders.

Typer shows every parameter's Python type (``<bool>`` next to a flag, ``<str>`` next to an
argument) and writes a required argument as ``{model}`` in the usage line. Commands and groups
made by :class:`App` show instead what a Unix manual would: an argument's metavar (``MODEL``,
``[DIR]``, ``KEY=VALUE...``), an option's metavar (its own, or one for its type: ``N``,
``NUMBER``, ``TEXT``, ``FILE``), and nothing after a flag.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, get_args

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

__all__ = ["HELP_OPTION_NAMES", "App", "Command", "Group"]

HELP_OPTION_NAMES = ["-h", "--help"]

_TYPE_METAVARS: dict[Any, str] = {int: "N", float: "NUMBER", str: "TEXT", Path: "FILE", bool: "BOOLEAN"}


def _type_metavar(param: TyperArgument | TyperOption) -> str:
    annotation = param.type_descriptor.annotation
    if param.type_descriptor.is_list and get_args(annotation):
        annotation = get_args(annotation)[0]
    if param.type_descriptor.is_path:
        annotation = Path
    return _TYPE_METAVARS.get(annotation, (param.name or "value").upper())


class _Argument(TyperArgument):
    """An argument shown by its metavar (default: its name in capitals), without a type."""

    @property
    def display_name_raw(self) -> str:
        return self.metavar or (self.name or "value").upper()

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        name = self.display_name_raw + ("..." if self.nargs != 1 else "")
        return name if self.required else f"[{name}]"


class _Option(TyperOption):
    """An option followed by its metavar (default: one for its type); a flag by nothing."""

    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        return self.metavar or _type_metavar(self)


def _adopt(params: Sequence[Any]) -> None:
    for param in params:
        if type(param) is TyperArgument:
            param.__class__ = _Argument
        elif type(param) is TyperOption:
            param.__class__ = _Option


class Command(TyperCommand):
    """A command whose help shows metavars, not Python types."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _adopt(params)  # the same objects, shown differently: parsing is unchanged
        return params


class Group(TyperGroup):
    """A command group whose help shows metavars, not Python types."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _adopt(params)
        return params


class App(typer.Typer):
    """A Typer app whose commands and groups are :class:`Command` and :class:`Group`, and that
    accepts ``-h`` as well as ``--help``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", Group)
        kwargs.setdefault("context_settings", {"help_option_names": HELP_OPTION_NAMES})
        kwargs.setdefault("no_args_is_help", True)
        super().__init__(**kwargs)

    def command(  # type: ignore[override]
        self, name: str | None = None, *, cls: type[TyperCommand] | None = None, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return super().command(name, cls=cls or Command, **kwargs)
