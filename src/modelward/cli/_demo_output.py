"""What `modelward demo` shows and leaves behind: each timeline entry printed as it happens, the recap at the
end (accuracy of the served answers by rule period and version, the decisions counted), and timeline.json /
timeline.html in the demo's directory."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text

from modelward.cli._common import console
from modelward.cli._demo_html import render_timeline
from modelward.cli._demo_replay import Batch
from modelward.cli._demo_timeline import Entry

if TYPE_CHECKING:
    from modelward.cli._demo import Demo

__all__ = ["recap", "say", "summary", "write"]

_STYLE = {
    "promoted": "green",
    "champion": "green",
    "served": "green",
    "rejected": "yellow",
    "trigger": "cyan",
}


def say(entry: Entry) -> None:
    """Print one timeline entry: UTC time, seconds since the start, what happened; its evidence below."""
    if entry.kind == "demo_act":
        console.rule(entry.title)
        return
    stamp = dt.datetime.fromisoformat(entry.ts).strftime("%H:%M:%S")
    line = Text(f"{stamp} +{entry.t:5.1f}s  ", style="dim")
    line.append(entry.title, style=_STYLE.get(entry.mark or "", "magenta" if entry.mark == "drift" else ""))
    console.print(line, soft_wrap=True)
    if entry.kind == "loop_trigger_suppressed":
        return  # the reason is in the title; the evidence repeats the trigger already shown
    for evidence in entry.evidence:
        console.print(Text(f"{'':17}{evidence}", style="dim"), soft_wrap=True)


def summary(demo: Demo) -> dict[str, Any]:
    """Accuracy of the served answers by rule period and version, and the decisions counted."""
    batches = demo.replay.batches
    starts = [row for row, _function in demo.rules.changes[1:]]
    drift = starts[0]
    temporary = starts[1] if len(starts) > 1 else None  # act 3's temporary rule
    back = starts[2] if len(starts) > 2 else None  # ... and the old rule again

    def accuracy(chosen: list[Batch]) -> dict[str, Any]:
        rows = sum(b.rows for b in chosen)
        return {"rows": rows, "accuracy": None if not rows else sum(b.correct for b in chosen) / rows}

    def by_version(first: int, end: int | None) -> dict[str, Any]:
        chosen = [b for b in batches if b.first_row >= first and (end is None or b.first_row < end)]
        return {
            f"v{v}": accuracy([b for b in chosen if b.version == v])
            for v in sorted({b.version for b in chosen})
        }

    return {
        "before_drift": accuracy([b for b in batches if b.first_row < drift]),
        "after_drift": by_version(drift, temporary),
        "rule_back": {} if back is None else by_version(back, None),
        "promotions": sum(
            e.payload.get("alias") == "champion" and e.payload.get("from") is not None
            for e in demo.timeline.of_kind("alias_set")
        ),
        "rollbacks": len(demo.timeline.of_kind("rollout_rolled_back")),
        "rejections": len(demo.timeline.of_kind("loop_rejected")),
    }


def write(demo: Demo, root: Path, seconds: float, model: str) -> tuple[Path, Path]:
    runs = demo.ws.monitoring_results.runs(model)
    windows = []
    for run in reversed(runs):
        realized = demo.ws.monitoring_results.report(run.id).realized.get("accuracy")
        windows.append(
            {
                "version": run.version,
                "start": (run.start_ts - demo.timeline.t0).total_seconds(),
                "end": (run.end_ts - demo.timeline.t0).total_seconds(),
                "rows": run.n_rows,
                "labeled": run.n_labeled,
                "accuracy": None if realized is None else realized.value,
                "lower": None if realized is None else realized.lower,
                "upper": None if realized is None else realized.upper,
            }
        )
    began = demo.replay.began
    offset = 0.0 if began is None else (began - demo.timeline.t0).total_seconds()
    doc = {
        "model": model,
        "started": demo.timeline.t0.isoformat(),
        "seconds": round(seconds, 1),
        "scenario": demo.scenario.__dict__,
        "summary": summary(demo),
        "events": demo.timeline.to_list(),
        "traffic": [{**b.__dict__, "t": b.t + offset} for b in demo.replay.batches],
        "windows": windows,
    }
    json_path, html_path = root / "timeline.json", root / "timeline.html"
    json_path.write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    html_path.write_text(render_timeline(doc), encoding="utf-8")
    return json_path, html_path


def recap(demo: Demo, seconds: float, directory: Path, json_path: Path, html_path: Path, model: str) -> None:
    counted = summary(demo)
    console.rule("what happened")
    before = counted["before_drift"]
    console.print(
        f"accuracy of the served answers before the drift: {before['accuracy']:.3f} ({before['rows']} rows)"
    )
    for version, figures in counted["after_drift"].items():
        if figures["rows"]:
            console.print(
                f"after the drift, answered by {version}: {figures['accuracy']:.3f} ({figures['rows']} rows)"
            )
    for version, figures in counted["rule_back"].items():
        if figures["rows"]:
            console.print(
                f"once the temporary rule ended, answered by {version}: {figures['accuracy']:.3f} "
                f"({figures['rows']} rows)"
            )
    console.print(
        f"promotions: {counted['promotions']}, challengers rejected at the gate: {counted['rejections']}, "
        f"canaries rolled back: {counted['rollbacks']}"
    )
    console.print(f"timeline: {html_path}")
    console.print(f"          {json_path}")
    console.print(f"explore:  modelward models history {model} -w {directory}")
    console.print(f"demo finished in {seconds:.1f} s")
