"""The console in-process (fast): pages of an empty and of a small workspace, clear 404 pages, names escaped,
the read-only app without any action or schema, the session cookie's signature and expiry, and a model's
importance, drift ranked by it and fairness over windows from windows analysed for real."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from pydantic import SecretStr

from modelward import Workspace
from modelward.explain.importance import FeatureImportance, GlobalImportance
from modelward.monitoring import AnalysisSettings, Current, Holdout, LoggedOutputs, Reference, analyse
from modelward.predlog import Window, parse_window
from modelward.results import ReferenceSource
from modelward.ui import create_console_app
from modelward.ui.session import MAX_AGE, SessionKeys
from modelward.ui.views import num
from support.registry import register_stub_versions

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    with Workspace.init(tmp_path / "ws") as workspace:
        yield workspace


def get(ws: Workspace, path: str, method: str = "GET") -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_console_app(ws))
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            return await client.request(method, path)

    return asyncio.run(go())


def test_an_empty_workspace_says_what_to_do(ws: Workspace) -> None:
    models = get(ws, "/ui")
    assert models.status_code == 200 and "No model is registered yet" in models.text
    assert float(models.headers["server-timing"].split("dur=")[1]) >= 0
    assert "default-src 'none'" in models.headers["content-security-policy"]
    assert "No dataset yet" in get(ws, "/ui/datasets").text
    missing = get(ws, "/ui/models/credit")
    assert missing.status_code == 404 and "No model named &#39;credit&#39;" in missing.text
    assert get(ws, "/ui/datasets/nope").status_code == 404
    assert get(ws, "/ui/models/credit/windows/3").status_code == 404
    assert get(ws, "/ui/static/console.css").headers["content-type"].startswith("text/css")


def test_the_datasets_list_is_paginated(ws: Workspace) -> None:
    import pandas as pd

    for i in range(23):
        ws.datasets.add_frame(pd.DataFrame({"x": [i, i + 1]}), f"data-{i:02d}")
    first, second = get(ws, "/ui/datasets").text, get(ws, "/ui/datasets?page=2").text
    assert "data-00" in first and "data-19" in first and "data-20" not in first
    assert "page 1 of 2 (23)" in first and 'href="/ui/datasets?page=2" rel="next">next →' in first
    assert "data-20" in second and "data-22" in second and "data-19" not in second
    assert 'href="/ui/datasets?page=1" rel="prev">← previous' in second


def test_a_registered_model_and_its_names_are_escaped(ws: Workspace) -> None:
    register_stub_versions(
        ws,
        "m-1",
        3,
        params={"depth": "<b>4</b>"},
        metrics={"accuracy": 0.91234},
        lineage={"entrypoint": "train:<script>alert(1)</script>"},
    )
    ws.registry.promote("m-1", 2, reason="<i>why</i>")
    page = get(ws, "/ui/models/m-1")
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "&lt;i&gt;why&lt;/i&gt;" in page.text and "<b>4</b>" not in page.text
    assert "accuracy 0.9123" in page.text and "champion: v2" in page.text
    assert "Not monitored yet" in page.text and page.text.count("No data yet") == 5
    listing = get(ws, "/ui")
    assert 'href="/ui/models/m-1"' in listing.text and "3 versions" in listing.text


def test_the_read_only_app_has_no_action_no_sign_in_and_no_schema(ws: Workspace) -> None:
    assert get(ws, "/ui/login").status_code == 404
    assert get(ws, "/ui/models/m/promote", method="POST").status_code in (404, 405)
    assert get(ws, "/openapi.json").status_code == 404 and get(ws, "/docs").status_code == 404


def test_a_session_cookie_is_signed_expires_and_never_holds_the_token() -> None:
    keys = SessionKeys(SecretStr("the-admin-token"))
    cookie = keys.issue(now=1_000)
    nonce = keys.session(cookie, now=1_000 + MAX_AGE)
    assert nonce is not None and "the-admin-token" not in cookie
    assert keys.session(cookie, now=1_001 + MAX_AGE) is None  # expired
    issued, n, signature = cookie.split(".")
    assert keys.session(f"{int(issued) + 1}.{n}.{signature}", now=1_001) is None  # edited
    assert SessionKeys(SecretStr("another-token")).session(cookie, now=1_001) is None  # token changed
    assert keys.csrf_ok(nonce, keys.csrf(nonce)) and not keys.csrf_ok(nonce, keys.csrf("other"))
    assert not keys.csrf_ok(nonce, None) and not keys.csrf_ok(None, keys.csrf(nonce))
    disabled = SessionKeys(None)
    assert not disabled.enabled and disabled.session(cookie, now=1_001) is None
    assert not disabled.token_matches("") and keys.token_matches(" the-admin-token ")


FAIRNESS_CONFIG = """\
models:
  m:
    task: classification
    target: y
    entrypoint: train:train
    monitor: {sensitive_columns: [group]}
"""


def _logged(rng: np.random.Generator, n: int, *, shift: float, gap: float) -> Current:
    """``n`` labeled rows: ``x`` and ``u`` shifted by ``shift``; group a selected at 0.5, b at 0.5 - gap."""
    group = np.where(np.arange(n) % 2 == 0, "a", "b")
    features = pd.DataFrame({"x": rng.normal(shift, 1, n), "u": rng.normal(2 * shift, 1, n), "group": group})
    selected = rng.random(n) < np.where(group == "a", 0.5, 0.5 - gap)
    pred = selected.astype(int)
    proba = np.column_stack([1 - 0.8 * pred - 0.1, 0.8 * pred + 0.1])
    label = rng.integers(0, 2, n).astype(object)
    return Current(features, logged=LoggedOutputs(pred, proba, label, np.ones(n, dtype=bool)))


def test_a_model_page_shows_the_champions_importance_drift_ranked_by_it_and_fairness_over_windows(
    tmp_path: Path,
) -> None:
    importance = GlobalImportance(
        features=[
            FeatureImportance("x", 0.6, 0.2, 0.03),
            FeatureImportance("group", 0.3, 0.05, 0.01),
            FeatureImportance("u", 0.005, -0.001, 0.002),
        ],
        method="tree_shap",
        output="probability",
        rows=300,
        permutation_rows=300,
        scoring="accuracy",
        repeats=3,
        seconds=0.1,
    )
    rng = np.random.default_rng(7)
    training = _logged(rng, 600, shift=0.0, gap=0.0)
    logged = training.logged
    assert logged is not None and logged.probabilities is not None
    holdout = Holdout(
        "classification",
        [0, 1],
        training.features.head(300),
        logged.label[:300].astype(int),
        logged.prediction[:300],
        logged.probabilities[:300],
    )
    settings = AnalysisSettings(feature_importance=importance.shap_shares(), sensitive_columns=("group",))
    spec = parse_window("1h")
    with Workspace.init(tmp_path / "ws", config=FAIRNESS_CONFIG) as ws:
        register_stub_versions(ws, "m", 1, importance=importance.to_dict())
        ws.registry.promote("m", 1, reason="test")
        ref = ws.monitoring_results.add_reference(
            "m", 1, Reference.of_model(training.features, holdout), ReferenceSource("y", "data@1", 600)
        )
        reports, ids = [], []

        def monitor(shift: float, gap: float) -> None:
            report = analyse(ref.reference, _logged(rng, 800, shift=shift, gap=gap), settings)
            h = len(reports)
            window = Window(spec, 1, T0 + dt.timedelta(hours=h), T0 + dt.timedelta(hours=h + 1))
            ids.append(ws.monitoring_results.save_run("m", window, ref.id, report, T0))
            reports.append(report)

        monitor(0.0, 0.0)
        monitor(0.0, 0.02)
        assert not any(f.flagged for r in reports for f in r.fairness)
        listing = get(ws, "/ui").text
        assert 'title="fairness: ok"' in listing and "fairness gap flagged" not in listing
        monitor(0.8, 0.3)  # x and u drift; group b is selected 30 points less often
        latest = reports[-1]
        page = get(ws, "/ui/models/m")
        listing = get(ws, "/ui").text
        report_page = get(ws, f"/ui/models/m/windows/{ids[-1]}")
    assert page.status_code == 200 and report_page.status_code == 200

    # (i) the champion's importance: mean |SHAP| shares and permutation importance with its spread
    importance_section = section(page.text, "importance-h")
    shap, permutation = re.findall(r"<svg class=\"chart bars\".*?</svg>", importance_section, flags=re.S)
    shares = importance.shap_shares()
    assert re.findall(r"<title>([^:<]+): ", shap) == ["x", "group", "u"]
    for column in ("x", "group", "u"):
        assert f"<title>{column}: {100 * shares[column]:.1f}%</title>" in shap, column
    assert "66.3%" in shap and 'data-bars="3"' in shap
    assert "<title>x: 0.2 ± 0.03</title>" in permutation and "<title>u: -0.001 ± 0.002</title>" in permutation
    assert permutation.count('class="whisker"') == 3 and "drop of accuracy ± sd over 3 shuffles" in page.text

    # (ii) the latest window's drift ranked by importance: x drifted and used, u drifted and ignored
    ranked = section(page.text, "ranked-h")
    ranking = latest.drift_by_importance
    assert [r.column for r in ranking] == ["x", "u", "group"]
    assert [(r.drifted, r.ignored) for r in ranking] == [(True, False), (True, True), (False, False)]
    assert re.findall(r'<tr data-column="([^"]+)">', ranked) == ["x", "u", "group"]
    rows = dict(zip(["x", "u", "group"], re.split(r'<tr data-column="[^"]+">', ranked)[1:], strict=True))
    assert f"{100 * shares['x']:.1f}%" in rows["x"] and '<span class="badge bad">drift</span>' in rows["x"]
    assert "ignored by the model" in rows["u"] and "reported, not alarmed on" in rows["u"]
    assert f"{100 * shares['u']:.1f}%" in rows["u"] and "no drift" in rows["group"]

    # (iii) fairness over the three windows: both gaps with their bands, the latest window's figures
    fairness = section(page.text, "fairness-h")
    assert 'data-column="group"' in fairness
    assert fairness.count('data-points="3"') == 2 and fairness.count('class="band"') == 2
    assert "tolerance 0.05" in fairness
    dp = latest.fairness[0].demographic_parity
    assert dp.flagged and dp.value is not None and dp.lower is not None and dp.upper is not None
    assert f'<td class="num">{num(dp.value, 3)}</td>' in fairness
    assert f"[{num(dp.lower, 3)}, {num(dp.upper, 3)}]" in fairness
    assert '<span class="badge bad">flagged</span>' in fairness and "a vs b" in fairness

    # the models list: the fairness badge now says so, with the flagged gap
    assert 'title="fairness: needs attention"' in listing
    assert f"group: demographic parity difference {dp.value:.3g} [{dp.lower:.3g}, {dp.upper:.3g}]" in listing

    # the window's full report ranks its drift by importance too
    assert "<h2>Drift ranked by the model's use</h2>" in report_page.text
    assert "drifted: reported, not alarmed on" in report_page.text


def section(page: str, heading: str) -> str:
    """The text of the page's section whose heading has id ``heading``."""
    start = page.index(f'id="{heading}"')
    return page[start : page.index("</section>", start)]
