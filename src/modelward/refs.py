"""Parsing of ``NAME``, ``NAME@3`` and ``NAME@champion`` references."""

from __future__ import annotations

import re

from modelward.errors import ModelwardError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,99}$")


def check_name(name: str, what: str = "name") -> str:
    if not _NAME.match(name):
        raise ModelwardError(
            f"Invalid {what} {name!r}: use letters, digits, '_', '-' or '.', starting with a letter or digit "
            "(at most 200 characters)."
        )
    return name


def check_alias(alias: str) -> str:
    if not _ALIAS.match(alias) or alias.isdigit():
        raise ModelwardError(
            f"Invalid alias {alias!r}: an alias starts with a letter and holds letters, digits, '_' or '-'."
        )
    return alias


def parse_ref(ref: str, what: str = "name") -> tuple[str, int | str | None]:
    """Split ``NAME[@VERSION|@ALIAS]`` into the name and an int version, an alias, or None."""
    name, sep, tail = ref.partition("@")
    check_name(name, what)
    if not sep:
        return name, None
    if tail.isdigit():
        return name, int(tail)
    if tail.startswith("v") and tail[1:].isdigit():
        return name, int(tail[1:])
    return name, check_alias(tail)
