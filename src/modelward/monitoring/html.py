"""A self-contained HTML report: one file, inline CSS and inline SVG charts, no script, no network.

It renders the summaries a :class:`~modelward.monitoring.drift_report.DriftReport` already carries (shared-edge
histograms, top categories, quantiles), never raw rows, so its size depends on the number of columns,
not of rows. Every string that comes from the data (column names, categories, messages) is escaped.

>>> import numpy as np, pandas as pd
>>> from modelward.monitoring import Profile
>>> rng = np.random.default_rng(0)
>>> ref = pd.DataFrame({"<b>age</b>": rng.normal(40, 10, 1000)})
>>> page = render_html(Profile.fit(ref).compare(ref + 5), title="Weekly check")
>>> page.startswith("<!DOCTYPE html>"), "<b>age</b>" in page, "&lt;b&gt;age&lt;/b&gt;" in page
(True, False, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from modelward.monitoring._html_model import attribution_section, fairness_section, importance_section
from modelward.monitoring._html_parts import CUR_COLOR, REF_COLOR, bars_svg, esc, fmt, pct, short
from modelward.monitoring.drift_report import DriftReport, FeatureResult
from modelward.monitoring.multivariate import MultivariateResult
from modelward.monitoring.outputs import OutputDriftResult
from modelward.monitoring.window_report import MonitoringReport

_CSS = """
:root{--ref:@REF@;--cur:@CUR@;--bad:#c0392b;--ok:#2e7d32;--warn:#b7791f;--muted:#666;--line:#ddd}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#222;
 background:#f6f7f9;line-height:1.45;font-size:14px}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid var(--line);
 padding-bottom:4px} h3{font-size:15px;margin:0}
.meta{color:var(--muted);font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 16px;min-width:170px}
.card .big{font-size:22px;font-weight:600} .card .lbl{color:var(--muted);font-size:12px;text-transform:uppercase}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}
.b-drift{background:var(--bad)} .b-ok{background:var(--ok)} .b-skip{background:#888} .b-warn{background:var(--warn)}
.b-err{background:var(--bad)}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line)}
th,td{padding:5px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#fafafa;font-weight:600;font-size:12px;color:#444}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.drifted td:first-child{border-left:3px solid var(--bad)}
details.feature{background:#fff;border:1px solid var(--line);border-radius:8px;margin:10px 0;padding:0}
details.feature>summary{cursor:pointer;padding:10px 14px;list-style:none;display:flex;gap:10px;align-items:center}
details.feature>summary::-webkit-details-marker{display:none}
details.feature[open]>summary{border-bottom:1px solid #eee}
.fbody{display:flex;flex-wrap:wrap;gap:18px;padding:12px 14px}
.fbody .facts{flex:1 1 320px;min-width:280px} .fbody .plot{flex:0 0 auto}
.facts table{border:none} .facts td{border-bottom:1px solid #f0f0f0;padding:3px 6px}
.facts td:first-child{color:var(--muted);white-space:nowrap;width:1%}
.why{color:#444;font-size:13px;margin:6px 0 0}
.legend{font-size:12px;color:var(--muted)} .legend i{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.note{color:var(--muted);font-size:12.5px}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
""".replace("@REF@", REF_COLOR).replace("@CUR@", CUR_COLOR)


def _badge(drifted: bool | None, skipped: bool = False) -> str:
    if skipped:
        return '<span class="badge b-skip">skipped</span>'
    if drifted is None:
        return '<span class="badge b-skip">n/a</span>'
    return (
        '<span class="badge b-drift">drift</span>' if drifted else '<span class="badge b-ok">no drift</span>'
    )


def _legend() -> str:
    return (
        f'<div class="legend"><i style="background:{REF_COLOR}"></i>reference'
        f'<i style="background:{CUR_COLOR}"></i>current</div>'
    )


# -- charts ---------------------------------------------------------------------------------------------


def _shares(counts: Sequence[int | float]) -> list[float]:
    total = float(sum(counts))
    return [float(c) / total if total > 0 else 0.0 for c in counts]


def histogram_svg(dist: dict[str, Any], width: int = 520, height: int = 200) -> str:
    """Reference and current histograms side by side in each shared bin, as shares of each side."""
    edges = [float(e) for e in dist.get("edges", [])]
    ref, cur = _shares(dist.get("reference_counts", [])), _shares(dist.get("current_counts", []))
    if len(edges) < 2 or len(ref) != len(edges) - 1 or len(cur) != len(ref):
        return '<p class="note">no histogram</p>'
    left, right, top, bottom = 46, 10, 10, 34
    pw, ph = width - left - right, height - top - bottom
    ymax = max(max(ref), max(cur), 1e-12)
    bins = len(ref)
    bw = pw / bins
    parts = [
        f'<svg width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="histogram">'
    ]
    for frac in (0.0, 0.5, 1.0):
        y = top + ph - frac * ph
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" fill="#666">'
            f"{esc(pct(frac * ymax))}</text>"
        )
    for i in range(bins):
        x = left + i * bw
        for j, (share, color) in enumerate(((ref[i], REF_COLOR), (cur[i], CUR_COLOR))):
            h = share / ymax * ph
            parts.append(
                f'<rect x="{x + 0.5 + j * (bw - 1) / 2:.2f}" y="{top + ph - h:.2f}" '
                f'width="{max((bw - 1) / 2, 0.5):.2f}" height="{h:.2f}" fill="{color}"/>'
            )
    parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="#999"/>')
    for k in range(5):
        i = round(k * bins / 4)
        x = left + i * bw
        anchor = "start" if k == 0 else "end" if k == 4 else "middle"
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + ph}" y2="{top + ph + 4}" stroke="#999"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{top + ph + 16}" font-size="10" text-anchor="{anchor}" '
            f'fill="#444">{esc(f"{edges[i]:.4g}")}</text>'
        )
    parts.append(
        f'<text x="{left + pw / 2:.1f}" y="{height - 3}" font-size="10" text-anchor="middle" '
        'fill="#888">share of rows per bin (outer bins include the tails)</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def categories_svg(dist: dict[str, Any], width: int = 520) -> str:
    """Horizontal bars: each top category's share in reference and current (plus all others)."""
    labels = [str(c) for c in dist.get("categories", [])]
    ref_counts = list(dist.get("reference_counts", []))
    cur_counts = list(dist.get("current_counts", []))
    if dist.get("other_reference_count", 0) or dist.get("other_current_count", 0):
        labels.append("(all other categories)")
        ref_counts.append(dist.get("other_reference_count", 0))
        cur_counts.append(dist.get("other_current_count", 0))
    if not labels:
        return '<p class="note">no categories</p>'
    ref, cur = _shares(ref_counts), _shares(cur_counts)
    label_w, value_w, row_h = 170, 52, 24
    pw = width - label_w - value_w - 8
    height = row_h * len(labels) + 8
    xmax = max(max(ref), max(cur), 1e-12)
    parts = [
        f'<svg width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="category shares">'
    ]
    for i, label in enumerate(labels):
        y = 4 + i * row_h
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" font-size="11" text-anchor="end" fill="#333">'
            f"<title>{esc(label)}</title>{esc(short(label, 26))}</text>"
        )
        for j, (share, color) in enumerate(((ref[i], REF_COLOR), (cur[i], CUR_COLOR))):
            w = share / xmax * pw
            yy = y + 2 + j * 10
            parts.append(
                f'<rect x="{label_w}" y="{yy}" width="{max(w, 0.5):.2f}" height="9" fill="{color}"/>'
            )
            parts.append(
                f'<text x="{label_w + w + 4:.1f}" y="{yy + 8}" font-size="9" fill="#555">'
                f"{esc(pct(share))}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


# -- sections -------------------------------------------------------------------------------------------


def _order(features: Iterable[FeatureResult]) -> list[FeatureResult]:
    """Drifted first (largest effect first), then tested, then skipped."""

    def key(f: FeatureResult) -> tuple[int, float, float]:
        rank = 0 if f.drifted else (2 if f.status == "skipped" else 1)
        p = f.p_value_adjusted if f.p_value_adjusted is not None else 1.0
        return rank, -(f.effect_size or 0.0), p

    return sorted(features, key=key)


def _overview_table(features: list[FeatureResult], anchor: str) -> str:
    rows = []
    for i, f in enumerate(features):
        cls = ' class="drifted"' if f.drifted else ""
        rows.append(
            f'<tr{cls}><td><a href="#{anchor}-{i}">{esc(f.column)}</a></td><td>{esc(f.kind)}</td>'
            f'<td>{esc(f.method or "—")}</td><td class="num">{fmt(f.statistic)}</td>'
            f'<td class="num">{fmt(f.p_value)}</td><td class="num">{fmt(f.p_value_adjusted)}</td>'
            f'<td class="num">{fmt(f.effect_size)}</td><td>{esc(f.effect_measure or "—")}</td>'
            f"<td>{_badge(f.drifted, f.status == 'skipped')}</td></tr>"
        )
    return (
        "<table><thead><tr><th>column</th><th>kind</th><th>method</th><th>statistic</th><th>p-value</th>"
        "<th>adjusted p</th><th>effect size</th><th>effect measure</th><th>verdict</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _feature_facts(f: FeatureResult) -> str:
    rows: list[tuple[str, str]] = [
        ("method", esc(f.method or "—") + (" (auto)" if f.auto and f.method else ""))
    ]
    if f.status == "ok":
        rows += [
            ("statistic", fmt(f.statistic)),
            ("p-value", fmt(f.p_value)),
            ("adjusted p-value", fmt(f.p_value_adjusted)),
            ("effect size", f"{fmt(f.effect_size)} <span class='note'>{esc(f.effect_measure or '')}</span>"),
        ]
        if f.p_value is not None:
            rows.append(("rule", f"adjusted p &lt; {fmt(f.threshold)} and effect ≥ {fmt(f.min_effect)}"))
        else:
            rows.append(("rule", f"statistic ≥ {fmt(f.threshold)}"))
    rows.append(("values", f"{fmt(f.n_reference)} reference, {fmt(f.n_current)} current"))
    dist = f.distribution
    if dist:
        r, c = dist.get("reference", {}), dist.get("current", {})
        rows.append(("missing", f"{pct(r.get('missing_rate', 0.0))} → {pct(c.get('missing_rate', 0.0))}"))
        if "mean" in r and "mean" in c:
            rows.append(("mean", f"{fmt(r['mean'])} → {fmt(c['mean'])}"))
            rows.append(("std", f"{fmt(r['std'])} → {fmt(c['std'])}"))
            rq, cq = r.get("quantiles", {}), c.get("quantiles", {})
            if "0.5" in rq and "0.5" in cq:
                rows.append(("median", f"{fmt(rq['0.5'])} → {fmt(cq['0.5'])}"))
            rows.append(
                (
                    "range",
                    f"[{fmt(r.get('min'))}, {fmt(r.get('max'))}] → "
                    f"[{fmt(c.get('min'))}, {fmt(c.get('max'))}]",
                )
            )
    details = f.details or {}
    if details.get("new_categories"):
        shown = ", ".join(esc(short(c, 20)) for c in details["new_categories"])
        rows.append(
            ("new categories", f"{shown} ({pct(float(details.get('new_category_share', 0.0)))} of rows)")
        )
    body = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows)
    return f'<table>{body}</table><p class="why"><b>Why this method:</b> {esc(f.reason)}</p>'


def _feature_cards(features: list[FeatureResult], anchor: str) -> str:
    out = []
    for i, f in enumerate(features):
        dist = f.distribution
        if not dist:
            plot = '<p class="note">no distribution summary</p>'
        elif "edges" in dist:
            plot = histogram_svg(dist) + _legend()
        else:
            plot = categories_svg(dist) + _legend()
        opened = " open" if f.drifted else ""
        effect = "" if f.effect_size is None else f'<span class="note">effect {fmt(f.effect_size)}</span>'
        out.append(
            f'<details class="feature" id="{anchor}-{i}"{opened}><summary>{_badge(f.drifted, f.status == "skipped")}'
            f'<h3>{esc(f.column)}</h3><span class="note">{esc(f.kind)} · {esc(f.method or "—")}</span>'
            f'{effect}</summary><div class="fbody"><div class="plot">{plot}</div>'
            f'<div class="facts">{_feature_facts(f)}</div></div></details>'
        )
    return "".join(out)


def _features_section(title: str, features: Sequence[FeatureResult], anchor: str, intro: str = "") -> str:
    ordered = _order(features)
    return f"<h2>{esc(title)}</h2>{intro}{_overview_table(ordered, anchor)}{_feature_cards(ordered, anchor)}"


def _quality_section(report: DriftReport) -> str:
    if not report.quality:
        return '<h2>Data quality</h2><p class="note">No data-quality findings.</p>'
    rows = []
    for q in report.quality:
        badge = (
            '<span class="badge b-err">error</span>'
            if q.severity == "error"
            else '<span class="badge b-warn">warning</span>'
        )
        rows.append(
            f"<tr><td>{badge}</td><td><code>{esc(q.check)}</code></td><td>{esc(q.column or '—')}</td>"
            f"<td>{esc(q.message)}</td></tr>"
        )
    return (
        "<h2>Data quality</h2><table><thead><tr><th>severity</th><th>check</th><th>column</th>"
        f"<th>finding</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _multivariate_section(mv: MultivariateResult) -> str:
    facts = [
        ("verdict", _badge(mv.drifted)),
        ("ROC AUC (out of fold)", fmt(mv.auc)),
        ("fold AUCs", ", ".join(fmt(a, 3) for a in mv.fold_aucs)),
        ("p-value (AUC > 0.5)", fmt(mv.p_value)),
        ("rule", f"p &lt; {fmt(mv.alpha)} and AUC ≥ {fmt(mv.min_auc)}"),
        (
            "rows used",
            f"{fmt(mv.n_reference)} of {fmt(mv.n_reference_total)} reference, "
            f"{fmt(mv.n_current)} of {fmt(mv.n_current_total)} current",
        ),
        ("method", esc(mv.method)),
    ]
    table = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in facts)
    top = [(a.feature, a.share) for a in mv.attributions if a.share >= 0.001][:15]
    chart = (
        (
            f"<h3>Which columns separate the samples</h3><p class='note'>share of the held-out AUC drop when "
            f"the column is shuffled</p>{bars_svg(top)}"
        )
        if top
        else ""
    )
    return (
        f'<h2>Multivariate drift</h2><div class="fbody" style="background:#fff;border:1px solid #ddd;'
        f'border-radius:8px"><div class="facts"><table>{table}</table><p class="why">{esc(mv.reason)}</p>'
        f'</div><div class="plot">{chart}</div></div>'
    )


def _output_section(result: OutputDriftResult) -> str:
    title = "Prediction drift" if result.target == "prediction" else "Label drift"
    intro = (
        f'<p>{_badge(result.drifted)} <span class="note">task: {esc(result.task)} — '
        f"{esc(result.reason)}</span></p>"
    )
    return _features_section(title, result.features, result.target, intro)


def _performance_section(performance: dict[str, Any]) -> str:
    rows = []
    for metric, entry in performance.items():
        interval = (
            "—"
            if entry.get("lower") is None or entry.get("upper") is None
            else f"[{fmt(entry['lower'])}, {fmt(entry['upper'])}]"
        )
        rows.append(
            f"<tr><td>{esc(metric)}</td><td class='num'>{fmt(entry.get('value'))}</td>"
            f"<td class='num'>{interval}</td><td>{esc(entry.get('method') or '—')}</td></tr>"
        )
    return (
        "<h2>Performance</h2><table><thead><tr><th>metric</th><th>value</th><th>interval</th>"
        f"<th>method</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _header(report: MonitoringReport, title: str) -> str:
    drift = report.drift
    tested = [f for f in drift.features if f.status == "ok"]
    meta = "".join(f"<div>{esc(k)}: {esc(v)}</div>" for k, v in report.metadata.items())
    verdict = _badge(report.drift_detected)
    mv = report.multivariate
    by = f"feature rule: {'drift' if drift.dataset_drift else 'no drift'} · domain classifier: " + (
        "not run" if mv is None else "drift" if mv.drifted else "no drift"
    )
    cards = [
        ("drift detected", verdict, by),
        ("drifted features", f"{len(drift.drifted_features)} / {len(tested)}", esc(drift.dataset_reason)),
        ("rows", f"{fmt(drift.n_reference)} → {fmt(drift.n_current)}", "reference → current"),
    ]
    if report.multivariate is not None:
        cards.append(
            ("multivariate AUC", fmt(report.multivariate.auc, 3), _badge(report.multivariate.drifted))
        )
    errors = sum(q.severity == "error" for q in drift.quality)
    warnings = len(drift.quality) - errors
    cards.append(("data quality", f"{errors} errors", f"{warnings} warnings"))
    html_cards = "".join(
        f'<div class="card"><div class="lbl">{k}</div><div class="big">{v}</div>'
        f'<div class="note">{sub}</div></div>'
        for k, v, sub in cards
    )
    s = drift.settings
    rule = (
        f"Decision rule: a p-value test flags a column when its {esc(s.get('correction', 'bh'))}-adjusted "
        f"p-value is below alpha = {fmt(s.get('alpha'))} <i>and</i> its effect size reaches the minimum "
        f"effect ({esc(_effects(s.get('min_effect')))}); distance tests compare their statistic with their "
        "threshold. " + esc(drift.dataset_reason) + "."
    )
    return (
        f"<h1>{esc(title)}</h1><div class='meta'>{meta}</div><div class='cards'>{html_cards}</div>"
        f"<p class='note'>{rule}</p>"
    )


def _effects(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {fmt(v)}" for k, v in value.items())
    return fmt(value)


def render_html(report: MonitoringReport | DriftReport, *, title: str = "modelward drift report") -> str:
    """The report as one self-contained HTML page (inline CSS and SVG; no script, no external resource)."""
    bundle = report if isinstance(report, MonitoringReport) else MonitoringReport(drift=report)
    sections = [_header(bundle, title)]
    if bundle.performance:
        sections.append(_performance_section(dict(bundle.performance)))
    if bundle.drift_by_importance:
        sections.append(importance_section(bundle.drift_by_importance, dict(bundle.drift.settings)))
    if bundle.attribution_drift is not None:
        sections.append(attribution_section(bundle.attribution_drift))
    if bundle.prediction_drift is not None:
        sections.append(_output_section(bundle.prediction_drift))
    if bundle.label_drift is not None:
        sections.append(_output_section(bundle.label_drift))
    if bundle.multivariate is not None:
        sections.append(_multivariate_section(bundle.multivariate))
    if bundle.fairness:
        sections.append(fairness_section(bundle.fairness))
    sections.append(_quality_section(bundle.drift))
    sections.append(_features_section("Features (drifted first)", bundle.drift.features, "f"))
    sections.append(
        '<p class="note" style="margin-top:30px">Generated by modelward. Charts show summaries '
        "(shared-edge histograms, top categories), not raw rows.</p>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body><main>"
        + "".join(sections)
        + "</main></body></html>\n"
    )
