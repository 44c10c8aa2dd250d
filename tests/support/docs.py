"""The shell commands a doc shows, as a reader would copy them: every ``$ …`` line of its ```console
blocks, with the lines that continue it (after a trailing backslash, or while a single quote is open)."""

from __future__ import annotations

import re
from pathlib import Path


def console_commands(doc: Path) -> list[str]:
    found: list[str] = []
    for block in re.findall(r"```console\n(.*?)```", doc.read_text(), flags=re.S):
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            if not lines[i].startswith("$ "):
                i += 1
                continue
            parts = [lines[i][2:]]
            i += 1
            while i < len(lines) and (parts[-1].endswith("\\") or "\n".join(parts).count("'") % 2):
                parts.append(lines[i])
                i += 1
            found.append("\n".join(parts))
    return found
