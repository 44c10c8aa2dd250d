"""Prometheus gauges of the latest monitored window of each model, with bounded cardinality.

Series per model: dataset drift (0/1), drifted share, prediction drift, window rows (all and
labeled), last run and window end timestamps, the model version monitored, one gauge per realized
and per estimated metric, the data-quality findings per check, and the drift score (effect size) of at most ``top_k`` features — the
ones with the largest scores in the latest window. Labels are only ``model``, ``feature`` (at most
``top_k`` values), ``metric``, ``kind`` and ``check`` (a fixed list), so the number of series does not grow with time,
versions or feature count.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, start_http_server, write_to_textfile
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from modelward.monitoring import Finding, WindowReport

__all__ = ["MonitorGauges", "WindowGauges"]


@dataclass(frozen=True)
class WindowGauges:
    """What is exported for one model: taken from its latest processed window."""

    model: str
    version: int
    dataset_drift: bool
    drifted_share: float | None
    prediction_drift: float | None
    n_rows: int
    n_labeled: int
    window_end: float
    run_ts: float
    feature_scores: dict[str, float] = field(default_factory=dict)
    realized: dict[str, float | None] = field(default_factory=dict)
    estimated: dict[str, float | None] = field(default_factory=dict)
    quality: dict[str, int] = field(default_factory=dict)
    fairness: dict[tuple[str, str], tuple[float, float, bool]] = field(default_factory=dict)
    attribution: dict[str, tuple[float, bool]] = field(default_factory=dict)  # column -> (change, drifted)

    @classmethod
    def from_report(
        cls, model: str, version: int, window_end: dt.datetime, run_ts: dt.datetime, report: WindowReport
    ) -> WindowGauges:
        """The gauges of one window's report (``run_ts``: when it was processed)."""
        drift = report.drift
        scores = (
            {}
            if drift is None
            else {
                f.column: f.effect_size
                for f in drift.features
                if f.status == "ok" and f.effect_size is not None
            }
        )
        outputs = [] if report.prediction_drift is None else report.prediction_drift.features
        prediction = [
            f.effect_size for f in outputs if f.column == "prediction" and f.effect_size is not None
        ]
        return cls(
            model=model,
            version=version,
            dataset_drift=report.dataset_drift,
            drifted_share=report.drifted_share,
            prediction_drift=prediction[0] if prediction else None,
            n_rows=report.n_rows,
            n_labeled=report.n_labeled,
            window_end=window_end.timestamp(),
            run_ts=run_ts.timestamp(),
            feature_scores=scores,
            realized={k: m.value for k, m in report.realized.items()},
            estimated={k: m.value for k, m in report.estimated.items()},
            quality=_count_checks(() if drift is None else drift.quality),
            fairness={
                (f.column, key): (gap.value, gap.lower, gap.flagged)
                for f in report.fairness
                for key, gap in (
                    ("demographic_parity", f.demographic_parity),
                    ("equalized_odds", f.equalized_odds),
                )
                if gap.value is not None and gap.lower is not None
            },
            attribution={}
            if report.attribution_drift is None
            else {c.column: (c.change, c.drifted) for c in report.attribution_drift.columns},
        )


QUALITY_CHECKS = (
    "missing_column",
    "extra_column",
    "all_missing",
    "type_changed",
    "missing_rate_jump",
    "out_of_range",
    "unit_change",
    "new_categories",
    "constant_column",
)


def _count_checks(findings: Iterable[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.check] = counts.get(f.check, 0) + 1
    return counts


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


class MonitorGauges(Collector):
    """A collector over the latest :class:`WindowGauges` of every monitored model."""

    def __init__(self, top_k: int = 20) -> None:
        self.top_k = top_k
        self._latest: dict[str, WindowGauges] = {}
        self._lock = threading.Lock()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def update(self, gauges: WindowGauges) -> None:
        """Export ``gauges`` unless a later window of the model is already exported (a refresh of an
        older window's realized metrics must not replace the latest window)."""
        with self._lock:
            current = self._latest.get(gauges.model)
            if current is None or gauges.window_end >= current.window_end:
                self._latest[gauges.model] = gauges

    def describe(self) -> list[GaugeMetricFamily]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            latest = list(self._latest.values())

        def family(name: str, doc: str, labels: tuple[str, ...] = ("model",)) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"modelward_monitor_{name}", doc, labels=list(labels))

        drift = family("dataset_drift", "1 when the latest window drifted at dataset level, else 0.")
        share = family("drifted_share", "Share of features drifted in the latest window.")
        pred = family("prediction_drift_score", "Effect size of the drift of the model's predictions.")
        rows = family("window_rows", "Predictions in the latest window.")
        labeled = family("window_labeled_rows", "Predictions with feedback labels in the latest window.")
        end = family("window_end_timestamp_seconds", "End of the latest processed window (Unix time).")
        run = family("last_run_timestamp_seconds", "When the latest window was processed (Unix time).")
        version = family("model_version", "Model version of the latest processed window.")
        score = family(
            "feature_drift_score",
            f"Drift effect size per feature (the top {self.top_k} features).",
            ("model", "feature"),
        )
        metric = family(
            "performance",
            "Performance metric of the latest window, realized (from labels) or estimated (without labels).",
            ("model", "metric", "kind"),
        )
        quality = family(
            "quality_findings",
            "Data-quality findings of the latest window, per check (every check exported, from zero).",
            ("model", "check"),
        )
        gap = family(
            "fairness_gap",
            "Gap between the groups of a sensitive column in the latest window (gap: demographic_parity or "
            "equalized_odds difference): its value (bound=value) and its interval's lower bound (bound=lower).",
            ("model", "column", "gap", "bound"),
        )
        flagged = family(
            "fairness_flagged",
            "1 when the gap's interval lies above the tolerance in the latest window, else 0.",
            ("model", "column", "gap"),
        )
        change = family(
            "attribution_change",
            "Change of each input column's mean |SHAP| from the holdout to the latest window, as a share of "
            "the holdout's total mean |SHAP| (attribution drift).",
            ("model", "column"),
        )
        moved = family(
            "attribution_drifted",
            "1 when the column's attribution drifted in the latest window (significant and at least the "
            "minimum change), else 0.",
            ("model", "column"),
        )
        for g in latest:
            for column, (delta, hit) in sorted(g.attribution.items()):
                if math.isfinite(delta):
                    change.add_metric([g.model, column], delta)
                moved.add_metric([g.model, column], float(hit))
            for (column, name), (value, lower, hit) in sorted(g.fairness.items()):
                gap.add_metric([g.model, column, name, "value"], value)
                gap.add_metric([g.model, column, name, "lower"], lower)
                flagged.add_metric([g.model, column, name], float(hit))
            for check in sorted({*QUALITY_CHECKS, *g.quality}):
                quality.add_metric([g.model, check], float(g.quality.get(check, 0)))
            drift.add_metric([g.model], float(g.dataset_drift))
            if _finite(g.drifted_share):
                share.add_metric([g.model], float(g.drifted_share))  # type: ignore[arg-type]
            if _finite(g.prediction_drift):
                pred.add_metric([g.model], float(g.prediction_drift))  # type: ignore[arg-type]
            rows.add_metric([g.model], float(g.n_rows))
            labeled.add_metric([g.model], float(g.n_labeled))
            end.add_metric([g.model], g.window_end)
            run.add_metric([g.model], g.run_ts)
            version.add_metric([g.model], float(g.version))
            top = sorted(
                ((f, s) for f, s in g.feature_scores.items() if _finite(s)), key=lambda fs: (-fs[1], fs[0])
            )
            for feature, value in top[: self.top_k]:
                score.add_metric([g.model, feature], value)
            for kind, values in (("realized", g.realized), ("estimated", g.estimated)):
                for name, number in sorted(values.items()):
                    if number is not None and math.isfinite(number):
                        metric.add_metric([g.model, name, kind], float(number))
        yield from (
            drift,
            share,
            pred,
            rows,
            labeled,
            end,
            run,
            version,
            score,
            metric,
            quality,
            gap,
            flagged,
            change,
            moved,
        )

    def serve(self, port: int, addr: str = "127.0.0.1") -> int:
        """Serve the gauges over HTTP at ``/metrics`` from a daemon thread; returns the bound port."""
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        return int(server.server_port)

    def write_textfile(self, path: str | Path) -> None:
        """Write the gauges in the text format (atomically), for node-exporter's textfile collector."""
        write_to_textfile(str(path), self.registry)
