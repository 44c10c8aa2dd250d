"""The backtest as one self-contained HTML page: the three policies' curves in an inline SVG (no script, no
CDN), every trigger, gate, promotion, rejection and rollback marked on its policy's curve, and the event table."""

from __future__ import annotations

import html
from typing import Any

__all__ = ["render_backtest_html"]

_COLOURS = {"never": "#7f7f7f", "scheduled": "#1f77b4", "loop": "#d62728"}
_MARKS = {"trigger": "▲", "gate": "◆", "promotion": "●", "rejection": "✕", "failure": "!", "rollback": "↺"}
_W, _H, _PAD = 900, 360, 50


def _scale(values: list[float]) -> tuple[float, float]:
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.05, hi + 0.05
    return lo, hi


def render_backtest_html(doc: dict[str, Any], *, title: str, metric: str, rows: int) -> str:
    """``doc``: :meth:`BacktestResult.to_dict`."""
    curves = {name: p["curve"] for name, p in doc["policies"].items()}
    lo, hi = _scale([v for c in curves.values() for _, v in c])

    def x(row: float) -> float:
        return _PAD + (_W - 2 * _PAD) * row / max(rows, 1)

    def y(value: float) -> float:
        return _H - _PAD - (_H - 2 * _PAD) * (value - lo) / (hi - lo)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" role="img" '
        f'aria-label="{html.escape(metric)} per block of 1,000 rows">',
        f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#333"/>',
        f'<line x1="{_PAD}" y1="{_PAD}" x2="{_PAD}" y2="{_H - _PAD}" stroke="#333"/>',
    ]
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        parts.append(
            f'<text x="{_PAD - 6}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end">{v:.3f}</text>'
        )
    parts.append(f'<text x="{_W / 2}" y="{_H - 12}" font-size="12" text-anchor="middle">rows</text>')
    parts.append(f'<text x="{_W - _PAD}" y="{_H - _PAD + 16}" font-size="11" text-anchor="end">{rows}</text>')
    for i, (name, curve) in enumerate(curves.items()):
        colour = _COLOURS.get(name, "#000")
        points = " ".join(f"{x(r):.1f},{y(v):.1f}" for r, v in curve)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        parts.append(
            f'<text x="{_W - _PAD + 4}" y="{_PAD + 14 * i}" font-size="12" fill="{colour}">{name}</text>'
        )
        for event in (e for e in doc["events"] if e["policy"] == name):
            at = next((v for r, v in curve if r >= event["row"]), curve[-1][1] if curve else lo)
            parts.append(
                f'<text x="{x(event["row"]):.1f}" y="{y(at) - 6:.1f}" font-size="12" fill="{colour}" '
                f'text-anchor="middle"><title>{html.escape(_describe(event))}</title>'
                f"{_MARKS.get(event['kind'], '?')}</text>"
            )
    parts.append("</svg>")
    legend = " &nbsp; ".join(f"{mark} {kind}" for kind, mark in _MARKS.items())
    return _PAGE.format(
        title=html.escape(title),
        svg="\n".join(parts),
        legend=legend,
        summary=_summary(doc, metric),
        events=_events(doc["events"]),
    )


def _describe(event: dict[str, Any]) -> str:
    version = "" if event["version"] is None else f" v{event['version']}"
    return (
        f"row {event['row']} ({event['time']}) {event['policy']}: {event['kind']}{version}: {event['detail']}"
    )


def _summary(doc: dict[str, Any], metric: str) -> str:
    head = "".join(
        f"<th>{h}</th>" for h in ("policy", metric, "retrains", "promotions", "rollbacks", "worse promotions")
    )
    body = []
    for name, p in doc["policies"].items():
        value = p.get("prequential_accuracy", p.get("prequential_mae"))
        cells = [name, f"{value:.4f}", p["retrains"], p["promotions"], p["rollbacks"], p["worse_promotions"]]
        body.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _events(events: list[dict[str, Any]]) -> str:
    if not events:
        return "<p>No events: no policy retrained.</p>"
    head = "".join(f"<th>{h}</th>" for h in ("row", "time", "policy", "kind", "version", "detail"))
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape('' if e[k] is None else str(e[k]))}</td>"
            for k in ("row", "time", "policy", "kind", "version", "detail")
        )
        + "</tr>"
        for e in events
    )
    return f"<table><tr>{head}</tr>{body}</table>"


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}}</style></head>
<body><h1>{title}</h1>
{svg}
<p>{legend}</p>
<h2>Policies</h2>
{summary}
<h2>Events</h2>
{events}
</body></html>
"""
