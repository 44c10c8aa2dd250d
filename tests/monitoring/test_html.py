"""The HTML report: self-contained, escaped, drifted features first, every section when present (drift ranked by
the model's use when its importance is known), and a size that depends on the columns, not the rows."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

from modelward.monitoring import MonitoringReport, Profile, WindowReport, rank_by_importance
from modelward.monitoring.html import render_html
from modelward.monitoring.multivariate import multivariate_drift
from modelward.monitoring.outputs import label_drift, prediction_drift
from support.browser import open_page


class Elements(HTMLParser):
    """Collects tag names, attributes and text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str]] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs.extend((k, v or "") for k, v in attrs)

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


EVIL = '<img src=x onerror="alert(1)">&'


def frames(rng: np.random.Generator, n: int, columns: int = 20, shift: bool = False) -> pd.DataFrame:
    data: dict[str, object] = {}
    for i in range(columns - 2):
        data[f"x{i}"] = rng.normal(0.5 if shift and i == 3 else 0.0, 1.0, n)
    data["city"] = rng.choice(np.array(["paris", "lyon", EVIL], dtype=object), n)
    data[EVIL + "col"] = rng.normal(size=n)
    return pd.DataFrame(data)


def test_page_is_self_contained_and_escapes_every_user_string() -> None:
    rng = np.random.default_rng(0)
    ref, cur = frames(rng, 2000), frames(rng, 2000, shift=True)
    cur[EVIL + "new"] = 1.0  # extra column -> a quality finding whose message names it
    page = render_html(Profile.fit(ref).compare(cur), title=EVIL)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert EVIL not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;" in page
    parsed = Elements()
    parsed.feed(page)
    # the hostile strings come back as text, never as elements or attributes
    assert "img" not in parsed.tags and "script" not in parsed.tags and "link" not in parsed.tags
    assert any(EVIL in text for text in parsed.texts)
    assert all(
        name
        in (
            "href",
            "id",
            "class",
            "style",
            "lang",
            "charset",
            "name",
            "content",
            "open",
            "role",
            "aria-label",
            "x",
            "y",
            "x1",
            "x2",
            "y1",
            "y2",
            "width",
            "height",
            "viewbox",
            "fill",
            "stroke",
            "font-size",
            "text-anchor",
        )
        for name, _ in parsed.attrs
    ), parsed.attrs
    assert all(value.startswith("#") for name, value in parsed.attrs if name == "href")
    assert not re.search(r"https?://", page) and "@import" not in page and "url(" not in page


def test_drifted_features_come_first_with_plots_and_numbers() -> None:
    rng = np.random.default_rng(1)
    report = Profile.fit(frames(rng, 3000)).compare(frames(rng, 3000, shift=True))
    assert report.drifted_features == ["x3"]
    page = render_html(report)
    features = page[page.index("<h2>Features") :]
    first_row = re.search(r'<tr class="drifted"><td><a href="#f-0">([^<]+)</a>', features)
    assert first_row is not None and first_row.group(1) == "x3"
    x3 = report["x3"]
    card = features[features.index('id="f-0"') : features.index('id="f-1"')]
    assert " open>" in card and "<svg" in card and "<rect" in card  # drifted card opens with its histogram
    for needle in (
        "ks (auto)",
        "Why this method:",
        "wasserstein_normalised",
        f"{x3.statistic:.4g}",
        "adjusted p-value",
    ):
        assert needle in card, needle
    city = features[features.index(">city</h3>") - 400 :]
    assert "paris" in city and "category shares" in city  # categorical plot: top categories


def test_all_sections_render_when_present() -> None:
    rng = np.random.default_rng(2)
    ref, cur = frames(rng, 1500, columns=6), frames(rng, 1500, columns=6, shift=True)
    bundle = MonitoringReport(
        drift=Profile.fit(ref).compare(cur),
        multivariate=multivariate_drift(ref, cur, max_iter=30, seed=0),
        prediction_drift=prediction_drift(rng.random(1500), rng.random(1500) ** 2, task="regression"),
        label_drift=label_drift(rng.integers(0, 2, 1500), rng.integers(0, 2, 1500), task="classification"),
        performance={
            "accuracy": {"value": 0.9123, "lower": 0.9, "upper": 0.925, "method": "bootstrap"},
            EVIL: 0.5,
        },
        metadata={"reference": "ref.csv"},
    )
    page = render_html(bundle, title="t")
    for heading in (
        "Performance",
        "Prediction drift",
        "Label drift",
        "Multivariate drift",
        "Data quality",
        "Features (drifted first)",
    ):
        assert f"<h2>{heading}" in page, heading
    assert "0.9123" in page and "[0.9, 0.925]" in page and "bootstrap" in page
    assert "Which columns separate the samples" in page and "x3" in page
    assert page.index("<h2>Prediction drift") < page.index("<h2>Features")
    assert EVIL not in page


def test_size_is_bounded_by_columns_not_rows() -> None:
    # 20 columns at 1,000 and at 1,000,000 rows a side: the page holds summaries only.
    rng = np.random.default_rng(3)
    small = render_html(Profile.fit(frames(rng, 1_000)).compare(frames(rng, 1_000, shift=True)))
    big_ref, big_cur = frames(rng, 1_000_000), frames(rng, 1_000_000, shift=True)
    big = render_html(Profile.fit(big_ref).compare(big_cur))
    size = len(big.encode("utf-8"))
    assert size < 1_000_000, size
    assert size < 1.5 * len(small.encode("utf-8"))  # measured: 143.8 kB at 1k rows, 144.3 kB at 1M rows
    assert not re.search(r"https?://", big)


def test_chromium_renders_the_page(tmp_path: Path) -> None:
    # A real browser opens the report: .ci/run installs Debian's chromium.
    rng = np.random.default_rng(4)
    page = render_html(
        Profile.fit(frames(rng, 500, columns=5)).compare(frames(rng, 500, columns=5, shift=True))
    )
    file = tmp_path / "report.html"
    file.write_text(page, encoding="utf-8")
    opened = open_page(file)
    assert "Features (drifted first)" in opened.dom and opened.dom.count("<svg") >= 5
    assert opened.console == []


def test_skipped_features_and_quality_errors_are_shown_last_and_explained() -> None:
    rng = np.random.default_rng(5)
    ref = frames(rng, 800, columns=5)
    cur = frames(rng, 800, columns=5).drop(columns=["x1"])
    cur["x2"] = "text"  # type change: cannot be compared
    report = Profile.fit(ref).compare(cur)
    page = render_html(report)
    features = page[page.index("<h2>Features") :]
    rows = re.findall(r'<a href="#f-\d+">([^<]+)</a>', features)
    assert set(rows[-2:]) == {"x1", "x2"}  # skipped come last
    assert features.count("badge b-skip") >= 4  # table row and card for each
    assert "column missing from the current data" in features and "type changed" in features
    quality = page[page.index("<h2>Data quality") : page.index("<h2>Features")]
    assert quality.count("badge b-err") >= 2 and "missing_column" in quality and "type_changed" in quality


def test_drift_is_ranked_by_the_models_use_when_its_importance_is_known() -> None:
    rng = np.random.default_rng(6)
    ref, cur = frames(rng, 2000, columns=6), frames(rng, 2000, columns=6, shift=True)
    cur[EVIL + "col"] += 1.0  # drifts too, but the model hardly uses it
    drift = Profile.fit(ref).compare(cur)
    assert sorted(drift.drifted_features) == sorted(["x3", EVIL + "col"])
    importance = {"x3": 0.5, "x0": 0.3, "x1": 0.1, "x2": 0.09, "city": 0.0094, EVIL + "col": 0.0006}
    decided, ranking = rank_by_importance(drift, importance)
    window = WindowReport(n_rows=2000, n_labeled=0, drift=decided, drift_by_importance=ranking)
    bundle = window.monitoring_report()
    assert bundle is not None and bundle.to_dict()["drift_by_importance"] == [r.to_dict() for r in ranking]
    page = render_html(bundle)
    assert EVIL not in page
    start = page.index("<h2>Drift ranked by the model's use</h2>")
    section = page[start : page.index("<h2>", start + 1)]
    rows = re.findall(r"<tr( class=\"drifted\")?><td>([^<]+)</td><td class='num'>([^<]+)</td>", section)
    escaped = EVIL.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    assert [column for _, column, _ in rows] == ["x3", escaped + "col", "x0", "x1", "x2", "city"]
    assert [share for _, _, share in rows] == ["50.0%", "0.1%", "30.0%", "10.0%", "9.0%", "0.9%"]
    assert [bool(cls) for cls, _, _ in rows] == [True, False, False, False, False, False]  # alarmed: x3 only
    cells = section.split("<tr")[2:]
    assert "counts towards the alarm" in cells[0]
    assert "ignored by the model" in cells[1] and "drifted: reported, not alarmed on" in cells[1]
    assert all("no drift" in cell for cell in cells[2:])
    assert "(1 in this window)" in section and "under 0.2 times an equal share" in section
    # without the model's importance there is no ranking to show
    plain = render_html(MonitoringReport(drift=drift))
    assert (
        "Drift ranked" not in plain and "drift_by_importance" not in MonitoringReport(drift=drift).to_dict()
    )
