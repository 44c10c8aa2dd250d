"""The demo's timeline as one self-contained HTML page: inline CSS and an inline SVG chart, no script,
nothing fetched from the network.

The chart draws, against seconds since the demo began: the accuracy of the answers the server gave (per
block of rows, coloured by the version that answered, from the demo's own traffic and its known labels),
the monitor's stored windows (realized accuracy with its interval), and a vertical mark for the drift and
each decision (trigger, rejection, promotion, first answer of a new version). Below it, every timeline entry
with its evidence. Every string is escaped.

>>> page = render_timeline({"model": "m", "seconds": 1.0, "summary": {}, "events": [], "traffic": [],
...                         "windows": []})
>>> page.startswith("<!DOCTYPE html>") and "<svg" in page and "<script" not in page
True
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

__all__ = ["render_timeline"]

W, H = 960, 360
LEFT, RIGHT, TOP, BOTTOM = 56, 20, 20, 44
PALETTE = ("#4c78a8", "#2e7d32", "#e45756", "#b279a2", "#f58518", "#54a24b")
MARK_STYLE = {
    "drift": ("#9c27b0", "6 4", "concept drift"),
    "trigger": ("#0097a7", "", "trigger fired"),
    "rejected": ("#e67e22", "", "rejected at the gate"),
    "canary": ("#00897b", "4 3", "canary starts"),
    "promoted": ("#2e7d32", "", "promoted"),
    "rolled_back": ("#c0392b", "", "rolled back"),
    "served": ("#2e7d32", "2 3", "new version answers"),
    "failed": ("#c0392b", "", "job failed"),
}
BLOCK_ROWS = 100

_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#222;
 background:#f6f7f9;line-height:1.45;font-size:14px}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid #ddd}
.meta{color:#666;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:12px 16px;min-width:170px}
.card .big{font-size:22px;font-weight:600} .card .lbl{color:#666;font-size:12px;text-transform:uppercase}
figure{background:#fff;border:1px solid #ddd;border-radius:8px;margin:0;padding:12px}
figcaption{color:#555;font-size:13px;margin-top:6px}
.legend{display:flex;flex-wrap:wrap;gap:14px;font-size:12px;color:#444;margin-top:6px}
.legend span::before{content:"";display:inline-block;width:14px;height:3px;margin-right:5px;vertical-align:middle;
 background:var(--c)}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #ddd}
th,td{padding:5px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#fafafa;font-size:12px;color:#444}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap;color:#555}
tr.m-promoted td,tr.m-champion td{background:#eef7ee} tr.m-rejected td{background:#fdf3e7}
tr.m-drift td{background:#f6edf8} tr.m-trigger td{background:#e9f6f7}
tr.act td{background:#eef1f6;font-weight:600;padding-top:10px}
ul.ev{margin:4px 0 0;padding-left:18px;color:#555;font-size:12.5px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


class _Axes:
    """Seconds -> x pixels, accuracy -> y pixels."""

    def __init__(self, seconds: float, low: float = 0.3) -> None:
        self.seconds, self.low = max(seconds, 1.0), low

    def x(self, t: float) -> float:
        return LEFT + (W - LEFT - RIGHT) * min(max(t, 0.0), self.seconds) / self.seconds

    def y(self, accuracy: float) -> float:
        share = (min(max(accuracy, self.low), 1.0) - self.low) / (1.0 - self.low)
        return H - BOTTOM - (H - TOP - BOTTOM) * share


def _grid(ax: _Axes) -> list[str]:
    out = []
    for i in range(8):
        value = ax.low + i * 0.1
        if value > 1.0001:
            break
        y = ax.y(value)
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#666">{value:.1f}</text>'
        )
    step = max(5, int(ax.seconds / 10 / 5 + 1) * 5)
    for t in range(0, int(ax.seconds) + 1, step):
        x = ax.x(t)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{H - BOTTOM}" stroke="#f3f3f3"/>')
        out.append(
            f'<text x="{x:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle" font-size="11" fill="#666">{t}s</text>'
        )
    out.append(
        f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 6}" text-anchor="middle" font-size="12" fill="#444">'
        "seconds since the demo began</text>"
    )
    out.append(
        f'<text x="14" y="{(TOP + H - BOTTOM) / 2}" text-anchor="middle" font-size="12" fill="#444" '
        f'transform="rotate(-90 14 {(TOP + H - BOTTOM) / 2})">accuracy</text>'
    )
    return out


def _blocks(traffic: Sequence[dict[str, Any]]) -> list[tuple[float, int, float]]:
    """(time, version, accuracy) per block of BLOCK_ROWS rows answered by one version (a last, partial block
    of a version is drawn when it holds at least half as many: fewer rows make a noisy point)."""
    out: list[tuple[float, int, float]] = []
    rows = correct = 0
    version: int | None = None
    for b in traffic:
        if version is not None and b["version"] != version:
            if rows >= BLOCK_ROWS // 2:
                out.append((b["t"], version, correct / rows))
            rows = correct = 0
        version = b["version"]
        rows, correct = rows + b["rows"], correct + b["correct"]
        if rows >= BLOCK_ROWS:
            out.append((b["t"], version, correct / rows))
            rows = correct = 0
    if rows >= BLOCK_ROWS // 2 and version is not None:
        out.append((traffic[-1]["t"], version, correct / rows))
    return out


def _colour(version: int) -> str:
    return PALETTE[(version - 1) % len(PALETTE)]


def _traffic_lines(ax: _Axes, traffic: Sequence[dict[str, Any]]) -> list[str]:
    out = []
    blocks = _blocks(traffic)
    for version in sorted({v for _, v, _ in blocks}):
        points = " ".join(f"{ax.x(t):.1f},{ax.y(a):.1f}" for t, v, a in blocks if v == version)
        out.append(
            f'<polyline points="{points}" fill="none" stroke="{_colour(version)}" stroke-width="2.2"/>'
        )
        for t, v, a in blocks:
            if v == version:
                out.append(
                    f'<circle cx="{ax.x(t):.1f}" cy="{ax.y(a):.1f}" r="2.6" fill="{_colour(version)}">'
                    f"<title>v{v}: accuracy {a:.3f} at {t:.1f} s</title></circle>"
                )
    return out


def _windows(ax: _Axes, windows: Sequence[dict[str, Any]]) -> list[str]:
    out = []
    for w in windows:
        if w.get("accuracy") is None:
            continue
        x1, x2 = ax.x(w["start"]), ax.x(w["end"])
        lower, upper = w.get("lower"), w.get("upper")
        if lower is not None and upper is not None:
            out.append(
                f'<rect x="{x1:.1f}" y="{ax.y(upper):.1f}" width="{max(x2 - x1, 1):.1f}" '
                f'height="{max(ax.y(lower) - ax.y(upper), 1):.1f}" fill="{_colour(w["version"])}" opacity="0.13"/>'
            )
        out.append(
            f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{ax.y(w["accuracy"]):.1f}" y2="{ax.y(w["accuracy"]):.1f}" '
            f'stroke="{_colour(w["version"])}" stroke-width="1" stroke-dasharray="3 2">'
            f"<title>monitor window of v{_e(w['version'])}: realized accuracy {w['accuracy']:.3f} on "
            f"{_e(w['labeled'])} labeled rows</title></line>"
        )
    return out


def _marks(ax: _Axes, events: Sequence[dict[str, Any]]) -> list[str]:
    out = []
    for e in events:
        style = MARK_STYLE.get(e.get("mark") or "")
        if style is None:
            continue
        colour, dash, label = style
        x = ax.x(e["t"])
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{H - BOTTOM}" stroke="{colour}" stroke-width="1.6"'
            f"{dashed}><title>{_e(e['title'])}</title></line>"
        )
        out.append(  # a label along the line, reading upwards from its foot
            f'<text x="{x - 3:.1f}" y="{H - BOTTOM - 4}" font-size="10" fill="{colour}" '
            f'transform="rotate(-90 {x - 3:.1f} {H - BOTTOM - 4})">{_e(label)}</text>'
        )
    return out


def chart(doc: dict[str, Any]) -> str:
    """The inline SVG chart of ``doc`` (the demo's timeline JSON)."""
    ax = _Axes(float(doc.get("seconds") or 1.0))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" role="img" '
        'aria-label="accuracy of the served answers over time, with the loop\'s decisions">',
        *_grid(ax),
        *_windows(ax, doc.get("windows", [])),
        *_traffic_lines(ax, doc.get("traffic", [])),
        *_marks(ax, doc.get("events", [])),
        "</svg>",
    ]
    return "\n".join(parts)


def _legend(doc: dict[str, Any]) -> str:
    versions = sorted({b["version"] for b in doc.get("traffic", [])})
    items = [
        f'<span style="--c:{_colour(v)}">answers of v{v} (per {BLOCK_ROWS} rows)</span>' for v in versions
    ]
    used = {e.get("mark") for e in doc.get("events", [])}
    items += [
        f'<span style="--c:{c}">{_e(label)}</span>'
        for key, (c, _d, label) in MARK_STYLE.items()
        if key in used
    ]
    items.append('<span style="--c:#bbb">monitor window: realized accuracy and interval (shaded)</span>')
    return f'<div class="legend">{"".join(items)}</div>'


def _cards(doc: dict[str, Any]) -> str:
    summary = doc.get("summary", {})
    cards = [(f"{doc.get('seconds', 0):.0f} s", "demo run time")]
    before = summary.get("before_drift", {})
    if before.get("accuracy") is not None:
        cards.append((f"{before['accuracy']:.3f}", "accuracy before the drift"))
    for version, figures in summary.get("after_drift", {}).items():
        if figures.get("accuracy") is not None:
            cards.append((f"{figures['accuracy']:.3f}", f"after the drift, {version}"))
    for version, figures in summary.get("rule_back", {}).items():
        if figures.get("accuracy") is not None:
            cards.append((f"{figures['accuracy']:.3f}", f"temporary rule over, {version}"))
    cards.append((str(summary.get("promotions", 0)), "promotions by the loop"))
    if summary.get("rollbacks"):
        cards.append((str(summary["rollbacks"]), "canaries rolled back"))
    cards.append((str(summary.get("rejections", 0)), "rejected at the gate"))
    body = "".join(
        f'<div class="card"><div class="big">{_e(v)}</div><div class="lbl">{_e(k)}</div></div>'
        for v, k in cards
    )
    return f'<div class="cards">{body}</div>'


def _table(events: Sequence[dict[str, Any]]) -> str:
    rows = []
    for e in events:
        if e["kind"] == "demo_act":
            rows.append(f'<tr class="act"><td colspan="3">{_e(e["title"])}</td></tr>')
            continue
        evidence = "".join(f"<li>{_e(line)}</li>" for line in e.get("evidence", []))
        klass = f' class="m-{_e(e["mark"])}"' if e.get("mark") else ""
        rows.append(
            f'<tr{klass}><td class="num">{_e(e["ts"][11:19])}</td><td class="num">+{e["t"]:.1f} s</td>'
            f"<td>{_e(e['title'])}{f'<ul class=ev>{evidence}</ul>' if evidence else ''}</td></tr>"
        )
    return (
        "<table><thead><tr><th>UTC</th><th>since start</th><th>what happened, and the evidence</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def render_timeline(doc: dict[str, Any]) -> str:
    """The whole page for ``doc`` (the demo's timeline JSON)."""
    title = f"modelward demo: {doc.get('model', '')}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{_e(title)}</title><style>{_CSS}</style></head>
<body><main>
<h1>{_e(title)}</h1>
<div class="meta">started {_e(doc.get("started", ""))} · every decision below is an event modelward stored, with
its evidence (also in timeline.json and <code>modelward models history</code>)</div>
{_cards(doc)}
<h2>Accuracy of the served answers, and the loop's decisions</h2>
<figure>{chart(doc)}{_legend(doc)}
<figcaption>Each point: the share of right answers in a block of rows, by the version that answered (the
demo knows every true label). Dashed segments: the monitor's windows as stored, realized accuracy on the labels
that had arrived, with its interval.</figcaption></figure>
<h2>Timeline</h2>
{_table(doc.get("events", []))}
</main></body></html>
"""
