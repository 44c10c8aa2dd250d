"""Attribution drift in the monitor: each window's rows and the version's holdout explained by the version's
own model (exact linear SHAP for the credit model here); a shift in a column the model uses is flagged,
stored with the window and becomes the loop's ``attribution_drift`` trigger; ``attribution_rows: 0`` turns
it off."""

from __future__ import annotations

import datetime as dt

from modelward import Workspace
from modelward.loop_settings import AttributionTrigger, LoopPolicy
from modelward.maintenance import Monitor
from modelward.maintenance.policies import WindowEvidence, evaluate
from modelward.predlog import parse_window

from .conftest import T0, Logger, data

HOUR = dt.timedelta(hours=1)


def test_a_shift_in_a_used_column_is_attribution_drift_and_a_trigger(
    workspace: Workspace, logger: Logger
) -> None:
    logger.log("credit", data(600, 31), T0, spacing_s=5)
    shifted = data(600, 32)
    shifted["salary"] = shifted["salary"] * 2.5  # moves far, but the model hardly uses it (0.6 % of |SHAP|)
    shifted["age"] = shifted["age"] + 25  # the input it leans on most (35 %) moves
    logger.log("credit", shifted, T0 + HOUR, spacing_s=5)
    done = Monitor(workspace, "credit", window=parse_window("1h")).run_once(now=T0 + 3 * HOUR)
    first, second = (w.report for w in done.windows)
    assert first.attribution_drift is not None and second.attribution_drift is not None
    assert first.attribution_drift.method == "linear_shap" and first.attribution_drift.current_rows == 300
    assert first.attribution_drift.drifted_columns == []
    columns = {c.column: c for c in second.attribution_drift.columns}
    age, salary = columns["age"], columns["salary"]
    assert age.drifted and age.change > 0.05 and age.current > age.reference, age
    # significant, yet too small a change of what moves the model's answers: reported, not alarmed on
    assert salary.adjusted_p < 0.05 and 0 < salary.change < 0.05 and not salary.drifted, salary
    assert "attribution" in second.timings
    runs = workspace.monitoring_results.runs("credit")  # newest first
    stored = [workspace.monitoring_results.report(r.id) for r in runs]
    assert stored[0].attribution_drift == second.attribution_drift

    evidence = [WindowEvidence.of(r, rep) for r, rep in zip(runs, stored, strict=True)]
    assert evidence[0].attribution_drifted is not None and "age" in evidence[0].attribution_drifted
    policy = LoopPolicy(attribution_drift=AttributionTrigger(windows=1))
    signals = {s.trigger: s for s in evaluate(policy, "classification", {}, evidence, now=T0 + 3 * HOUR)}
    assert "leans differently on age" in signals["attribution_drift"].reason
    assert signals["attribution_drift"].evidence["required"] == 1
    # the default asks for 3 consecutive windows: one is not enough
    assert "attribution_drift" not in {
        s.trigger for s in evaluate(LoopPolicy(), "classification", {}, evidence, now=T0)
    }
    off = policy.model_copy(update={"attribution_drift": AttributionTrigger(enabled=False, windows=1)})
    assert "attribution_drift" not in {
        s.trigger for s in evaluate(off, "classification", {}, evidence, now=T0)
    }


def test_attribution_rows_zero_turns_it_off(workspace: Workspace, logger: Logger, database_url: str) -> None:
    config = workspace.root / "modelward.yaml"
    config.write_text(
        config.read_text().replace(
            "    params: {max_iter: 300}\n",
            "    params: {max_iter: 300}\n    monitor: {attribution_rows: 0}\n",
            1,
        )
    )
    logger.log("credit", data(300, 33), T0, spacing_s=5)
    with Workspace.open(workspace.root, database_url=database_url) as ws:
        (window,) = Monitor(ws, "credit", window=parse_window("1h")).run_once(now=T0 + 2 * HOUR).windows
    assert window.report.attribution_drift is None
    assert not any("attribution" in n for n in window.report.notes)


def test_the_report_and_the_gauges_show_it(workspace: Workspace, logger: Logger) -> None:
    from prometheus_client import generate_latest

    from modelward.maintenance._exporter import MonitorGauges, WindowGauges
    from modelward.monitoring import render_html

    shifted = data(600, 34)
    shifted["age"] = shifted["age"] + 25
    logger.log("credit", shifted, T0, spacing_s=5)
    (window,) = Monitor(workspace, "credit", window=parse_window("1h")).run_once(now=T0 + 2 * HOUR).windows
    found = window.report.attribution_drift
    assert found is not None and "age" in found.drifted_columns
    page = render_html(window.report.monitoring_report())  # type: ignore[arg-type]
    assert "<h2>Attribution drift</h2>" in page and "linear_shap" in page
    age_row = page[page.index("<td>age</td>") : page.index("</tr>", page.index("<td>age</td>"))]
    assert "attribution drift</span>" in age_row
    assert window.report.monitoring_report().to_dict()["attribution_drift"] == found.to_dict()  # type: ignore[union-attr]
    gauges = MonitorGauges()
    gauges.update(WindowGauges.from_report("credit", 1, T0 + HOUR, T0 + 2 * HOUR, window.report))
    text = generate_latest(gauges.registry).decode()
    age = next(c for c in found.columns if c.column == "age")
    assert f'modelward_monitor_attribution_change{{column="age",model="credit"}} {age.change!r}' in text
    assert 'modelward_monitor_attribution_drifted{column="age",model="credit"} 1.0' in text
