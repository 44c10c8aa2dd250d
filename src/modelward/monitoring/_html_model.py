"""The report's sections about the model itself rather than its data: drift ranked by the model's use of
each column, attribution drift (how much each column moves its answers, holdout vs window) and fairness
between the groups of its sensitive columns. Split from :mod:`modelward.monitoring.html`, which lays them out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelward.monitoring._html_parts import bars_svg, esc, fmt, pct, share_bar, short
from modelward.monitoring.attribution_drift import AttributionDrift
from modelward.monitoring.fairness import FairnessResult
from modelward.monitoring.importance_drift import IGNORED_BELOW, RankedDrift

__all__ = ["attribution_section", "fairness_section", "importance_section"]


def importance_section(ranking: Sequence[RankedDrift], settings: dict[str, Any]) -> str:
    """The tested columns ranked by the model's use of them: drifted first, most important first."""
    rows = []
    for r in ranking:
        if r.ignored:
            verdict = (
                '<span class="badge b-skip">ignored by the model</span> '
                '<span class="note">drifted: reported, not alarmed on</span>'
            )
        elif r.drifted:
            verdict = (
                '<span class="badge b-drift">drift</span> <span class="note">counts towards the alarm</span>'
            )
        else:
            verdict = '<span class="badge b-ok">no drift</span>'
        share = "—" if r.importance is None else pct(r.importance)
        bar = "" if r.importance is None else share_bar(r.importance)
        cls = ' class="drifted"' if r.drifted and not r.ignored else ""
        rows.append(
            f"<tr{cls}><td>{esc(r.column)}</td><td class='num'>{share}</td><td>{bar}</td>"
            f"<td>{fmt(r.drifted)}</td><td class='num'>{fmt(r.effect_size)}</td><td>{verdict}</td></tr>"
        )
    below = settings.get("ignored_below", IGNORED_BELOW)
    ignored = sum(r.ignored for r in ranking)
    return (
        "<h2>Drift ranked by the model's use</h2>"
        "<p class='note'>Each tested column with its share of the model's mean |SHAP| on its holdout: "
        "drifted columns first, the most used first. A drifted column whose share is under "
        f"{fmt(float(below))} times an equal share (1 / the model's columns) is ignored by the model: "
        f"reported here, not counted towards the dataset's drift alarm ({ignored} in this window).</p>"
        "<table><thead><tr><th>column</th><th>importance share</th><th></th><th>drifted</th>"
        f"<th>effect size</th><th>verdict</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def attribution_section(result: AttributionDrift) -> str:
    """Each input column's mean |SHAP| on the holdout and in the window: the model leaning differently."""
    rows = []
    for c in sorted(result.columns, key=lambda c: (not c.drifted, -abs(c.change))):
        if c.drifted:
            verdict = '<span class="badge b-drift">attribution drift</span>'
        elif c.adjusted_p < result.alpha:
            verdict = (
                '<span class="badge b-ok">small</span> <span class="note">significant, under the '
                "minimum change: reported, not alarmed on</span>"
            )
        else:
            verdict = '<span class="badge b-ok">no change</span>'
        cls = ' class="drifted"' if c.drifted else ""
        rows.append(
            f"<tr{cls}><td>{esc(c.column)}</td><td class='num'>{fmt(c.reference)}</td>"
            f"<td class='num'>{fmt(c.current)}</td><td class='num'>{pct(c.reference_share)}</td>"
            f"<td>{share_bar(c.reference_share)}</td><td class='num'>{pct(c.current_share)}</td>"
            f"<td>{share_bar(c.current_share)}</td><td class='num'>{c.change:+.3f}</td>"
            f"<td class='num'>{fmt(c.adjusted_p)}</td><td>{verdict}</td></tr>"
        )
    return (
        "<h2>Attribution drift</h2>"
        f"<p class='note'>Each input column's mean |SHAP| ({esc(result.method)}, {esc(result.output)} space) on "
        f"{result.reference_rows} holdout rows and on {result.current_rows} rows of this window, explained by "
        "the same model: how much the column moves the model's answers. Change: the difference as a share of "
        f"the holdout's total mean |SHAP|; drifted when at least {fmt(result.min_change)} and significant "
        f"(Welch's t-test, {esc(result.correction)}-corrected, alpha {fmt(result.alpha)}).</p>"
        "<table><thead><tr><th>column</th><th>holdout</th><th>window</th><th>holdout share</th><th></th>"
        "<th>window share</th><th></th><th>change</th><th>adjusted p</th><th>verdict</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def fairness_section(results: Sequence[FairnessResult]) -> str:
    parts = ["<h2>Fairness between groups</h2>"]
    for r in results:
        gaps = []
        for gap in (r.demographic_parity, r.equalized_odds):
            interval = "—" if gap.lower is None else f"[{fmt(gap.lower)}, {fmt(gap.upper)}]"
            between = "—" if gap.between is None else " vs ".join(map(esc, gap.between))
            verdict = (
                esc(gap.reason)
                if gap.value is None
                else '<span class="badge b-drift">flagged</span>'
                if gap.flagged
                else '<span class="badge b-ok">within tolerance</span>'
            )
            gaps.append(
                f"<tr><td>{esc(gap.name)}</td><td class='num'>{fmt(gap.value)}</td><td class='num'>{interval}</td>"
                f"<td class='num'>{fmt(gap.tolerance)}</td><td>{verdict}</td><td>{between}</td></tr>"
            )
        groups = "".join(
            f"<tr><td>{esc(short(g.group))}</td><td class='num'>{g.rows}</td><td class='num'>{g.labeled}</td>"
            + "".join(f"<td class='num'>{fmt(v)}</td>" for v in (g.selection_rate, g.tpr, g.fpr, g.accuracy))
            + f"<td>{'too small' if g.too_small else ''}</td></tr>"
            for g in r.groups
        )
        rates = [(g.group, g.selection_rate) for g in r.groups if g.selection_rate is not None]
        parts.append(
            f"<h3>{esc(r.column)}</h3><p class='note'>Positive class {esc(r.positive_label)}; intervals at "
            f"{pct(r.demographic_parity.confidence)} (both gaps of every column tested together), "
            f"{r.resamples} bootstrap resamples within groups.</p>"
            "<table><thead><tr><th>gap</th><th>value</th><th>interval</th><th>tolerance</th><th>verdict</th>"
            f"<th>widest between</th></tr></thead><tbody>{''.join(gaps)}</tbody></table>"
            "<table><thead><tr><th>group</th><th>rows</th><th>labeled</th><th>selection rate</th><th>TPR</th>"
            f"<th>FPR</th><th>accuracy</th><th></th></tr></thead><tbody>{groups}</tbody></table>"
            + (f"<div class='note'>Selection rate by group</div>{bars_svg(rates)}" if rates else "")
        )
    return "".join(parts)
