"""The pieces every section of the HTML report shares: escaping, number formats, the colours and small
inline-SVG bars (split from :mod:`modelward.monitoring.html` so the model-aware sections can use them too)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["CUR_COLOR", "REF_COLOR", "bars_svg", "esc", "fmt", "pct", "share_bar", "short"]

REF_COLOR = "#4c78a8"
CUR_COLOR = "#f58518"
_MAX_LABEL = 28


def esc(value: object) -> str:
    """``value`` as text safe inside HTML elements and attribute values."""
    return html.escape(str(value), quote=True)


def short(text: object, limit: int = _MAX_LABEL) -> str:
    s = str(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def fmt(value: Any, digits: int = 4) -> str:
    """A number for display: ``—`` for missing, ``3 sig. digits`` for p-values and small values."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        if value == 0:
            return "0"
        if abs(value) < 10 ** -(digits - 1) or abs(value) >= 10**6:
            return f"{value:.3g}"
        return f"{value:.{digits}g}"
    return esc(value)


def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def bars_svg(items: Sequence[tuple[str, float]], width: int = 560, fmt_value: str = "pct") -> str:
    """One horizontal bar per ``(label, value in [0, 1])``."""
    if not items:
        return ""
    label_w, row_h = 180, 20
    pw = width - label_w - 60
    height = row_h * len(items) + 6
    vmax = max(max(v for _, v in items), 1e-12)
    parts = [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="bars">'
    ]
    for i, (label, value) in enumerate(items):
        y = 3 + i * row_h
        w = max(value, 0.0) / vmax * pw
        text = pct(value) if fmt_value == "pct" else f"{value:.3g}"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" font-size="11" text-anchor="end" fill="#333">'
            f"<title>{esc(label)}</title>{esc(short(label, 28))}</text>"
        )
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{max(w, 0.5):.2f}" height="12" fill="{REF_COLOR}"/>'
        )
        parts.append(
            f'<text x="{label_w + w + 4:.1f}" y="{y + 13}" font-size="10" fill="#555">{esc(text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def share_bar(share: float, width: int = 120) -> str:
    """A small inline bar for a share in [0, 1]."""
    w = max(min(share, 1.0), 0.0) * width
    return (
        f'<svg width="{width}" height="10" role="img" aria-label="{esc(pct(share))}">'
        f'<rect x="0" y="0" width="{width}" height="10" fill="#eee"/>'
        f'<rect x="0" y="0" width="{w:.1f}" height="10" fill="{REF_COLOR}"/></svg>'
    )
