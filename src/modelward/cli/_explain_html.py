"""The self-contained HTML page of `modelward explain`: inline SVG, no script, no external resource."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from modelward.explain import OUTPUTS, Explanation, GlobalImportance

__all__ = ["render"]

_W, _ROW, _LEFT = 720, 26, 150
_TOP = 10  # features in the beeswarm
_DEPENDENCE = 3  # top features with a dependence plot


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def render(
    ref: str,
    source: str,
    importance: GlobalImportance,
    explanation: Explanation,
    rows: pd.DataFrame,
    k: int,
    label: Any,
) -> str:
    """The page: global bars, permutation importance with its spread, a beeswarm, dependence plots."""
    values = explanation.values[:, :, k]
    order = [f.feature for f in importance.features]
    index = {f: j for j, f in enumerate(explanation.features)}
    shown = "" if label is None else f" of class {_e(label)}"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Explanation of {_e(ref)}</title>",
        "<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:60em;color:#222}"
        "h2{margin-top:2em}svg{display:block;margin:.5em 0}text{font:12px system-ui,sans-serif}"
        "table{border-collapse:collapse}td,th{padding:2px 10px;text-align:right}td:first-child{text-align:left}"
        ".note{color:#555}</style></head><body>",
        f"<h1>Explanation of {_e(ref)}</h1>",
        f"<p class='note'>{_e(explanation.method)} ({'exact' if explanation.exact else 'sampled'}) on "
        f"{explanation.rows} rows of {_e(source)}. Values are in {_e(explanation.output)} space: "
        f"{_e(OUTPUTS[explanation.output])}{shown}; base value {explanation.base_values[k]:.4g} "
        f"(the average over {_e(explanation.background)}). For each row, base value + attributions = "
        "the model's output.</p>",
        "<h2>Global importance: mean |SHAP|</h2>",
        _bars([(f.feature, f.mean_abs_shap, None) for f in importance.features], "mean |SHAP|"),
    ]
    if importance.scoring is not None:
        parts += [
            f"<h2>Permutation importance: drop in {_e(importance.scoring)} when shuffled</h2>",
            f"<p class='note'>Mean ± standard deviation over {importance.repeats} shuffles of "
            f"{importance.permutation_rows} rows.</p>",
            _bars(
                [(f.feature, f.permutation_mean or 0.0, f.permutation_std) for f in importance.features],
                f"Δ {importance.scoring}",
            ),
        ]
    parts += [
        "<h2>Beeswarm: every row's attribution per column</h2>",
        "<p class='note'>One dot per row; colour from blue (low value of the column) to red (high); "
        "grey for categories.</p>",
        _beeswarm([(f, values[:, index[f]], rows[f]) for f in order[:_TOP]]),
        "<h2>Dependence of the top columns</h2>",
    ]
    for f in order[:_DEPENDENCE]:
        parts.append(f"<h3>{_e(f)}</h3>")
        parts.append(_dependence(f, rows[f], values[:, index[f]]))
    parts.append("</body></html>")
    return "\n".join(parts)


def _bars(items: list[tuple[str, float, float | None]], unit: str) -> str:
    width = _W - _LEFT - 160
    top = max([abs(v) + (s or 0) for _, v, s in items] + [1e-12])
    h = _ROW * len(items) + 20
    out = [f"<svg width='{_W}' height='{h}' role='img' aria-label='{_e(unit)} per column'>"]
    for i, (name, value, spread) in enumerate(items):
        y = i * _ROW + 4
        w = max(abs(value), 0) / top * width
        out.append(f"<text x='{_LEFT - 6}' y='{y + 14}' text-anchor='end'>{_e(name)}</text>")
        out.append(f"<rect x='{_LEFT}' y='{y + 3}' width='{w:.1f}' height='{_ROW - 8}' fill='#1f77b4'/>")
        label = f"{value:.4g}" + ("" if spread is None else f" ± {spread:.2g}")
        if spread is not None:
            lo, hi = (abs(value) - spread) / top * width, (abs(value) + spread) / top * width
            out.append(
                f"<line x1='{_LEFT + max(lo, 0):.1f}' x2='{_LEFT + hi:.1f}' y1='{y + 12}' y2='{y + 12}' "
                "stroke='#222' stroke-width='1.5'/>"
            )
        out.append(
            f"<text x='{_LEFT + w + 6 + (0 if spread is None else 20):.1f}' y='{y + 14}'>{_e(label)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _colour(values: pd.Series) -> list[str]:
    """Blue to red by the value's rank in its column; grey for non-numeric columns."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return ["#888"] * len(values)
    ranks = values.rank(pct=True).fillna(0.5).to_numpy()
    return [f"rgb({int(255 * r)},{int(60 + 40 * (1 - abs(2 * r - 1)))},{int(255 * (1 - r))})" for r in ranks]


def _beeswarm(items: list[tuple[str, np.ndarray, pd.Series]]) -> str:
    width = _W - _LEFT - 20
    lim = max([float(np.max(np.abs(v))) for _, v, _ in items] + [1e-12])
    row_h = 34
    h = row_h * len(items) + 30
    zero = _LEFT + width / 2
    out = [f"<svg width='{_W}' height='{h}' role='img' aria-label='beeswarm of SHAP values'>"]
    out.append(f"<line x1='{zero}' x2='{zero}' y1='0' y2='{h - 20}' stroke='#bbb'/>")
    for i, (name, vals, column) in enumerate(items):
        y0 = i * row_h + row_h / 2
        out.append(f"<text x='{_LEFT - 6}' y='{y0 + 4}' text-anchor='end'>{_e(name)}</text>")
        xs = zero + vals / lim * (width / 2)
        # beeswarm-style: dots in the same pixel bin stack up and down from the row's centre
        bins: dict[int, int] = {}
        colours = _colour(column.reset_index(drop=True))
        for x, c in zip(xs, colours, strict=True):
            b = int(x // 3)
            n = bins.get(b, 0)
            bins[b] = n + 1
            dy = ((n + 1) // 2) * 2.2 * (1 if n % 2 else -1)
            if abs(dy) > row_h / 2 - 2:
                continue  # the row is full there; the bars above carry the totals
            out.append(f"<circle cx='{x:.1f}' cy='{y0 + dy:.1f}' r='1.6' fill='{c}'/>")
    out.append(f"<text x='{zero}' y='{h - 6}' text-anchor='middle'>SHAP value (±{lim:.3g})</text>")
    out.append("</svg>")
    return "".join(out)


def _dependence(name: str, column: pd.Series, vals: np.ndarray) -> str:
    w, h, left, bottom = 460, 300, 60, 80
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    if numeric:
        xs = column.to_numpy(dtype=float)
        ticks: list[tuple[float, str]] = []
    else:
        cats = sorted({str(v) for v in column}, key=str)
        pos = {c: i for i, c in enumerate(cats)}
        xs = np.array([pos[str(v)] for v in column], dtype=float)
        ticks = [(float(i), c) for i, c in enumerate(cats)][:20]
    ok = np.isfinite(xs)
    lo, hi = (float(np.min(xs[ok])), float(np.max(xs[ok]))) if ok.any() else (0.0, 1.0)
    hi = hi if hi > lo else lo + 1
    ylim = max(float(np.max(np.abs(vals))), 1e-12)

    def px(x: float) -> float:
        return left + (x - lo) / (hi - lo) * (w - left - 10)

    def py(v: float) -> float:
        return (h - bottom) / 2 - v / ylim * ((h - bottom) / 2 - 5)

    out = [f"<svg width='{w}' height='{h}' role='img' aria-label='dependence of {_e(name)}'>"]
    out.append(f"<line x1='{left}' x2='{w - 10}' y1='{py(0):.1f}' y2='{py(0):.1f}' stroke='#bbb'/>")
    for x, v in zip(xs[ok], vals[ok], strict=True):
        out.append(
            f"<circle cx='{px(float(x)):.1f}' cy='{py(float(v)):.1f}' r='2' fill='#1f77b4' fill-opacity='.5'/>"
        )
    out.append(f"<text x='{left - 4}' y='{py(ylim) + 8:.1f}' text-anchor='end'>{ylim:.3g}</text>")
    out.append(f"<text x='{left - 4}' y='{py(-ylim):.1f}' text-anchor='end'>{-ylim:.3g}</text>")
    base = h - bottom + 14
    if numeric:
        out.append(f"<text x='{left}' y='{base}'>{lo:.4g}</text>")
        out.append(f"<text x='{w - 10}' y='{base}' text-anchor='end'>{hi:.4g}</text>")
    for x, text in ticks:
        out.append(
            f"<text x='{px(x):.1f}' y='{base}' text-anchor='end' "
            f"transform='rotate(-45 {px(x):.1f} {base})'>{_e(text)}</text>"
        )
    out.append(f"<text x='{(w + left) / 2}' y='{h - 4}' text-anchor='middle'>{_e(name)}</text>")
    out.append("</svg>")
    return "".join(out)
