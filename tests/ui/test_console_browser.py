"""The web console in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright) against a real
`modelward serve` on SQLite: every page loads with no console message and no failed request, the charts draw,
the loop's timeline shows its evidence, actions are refused without sign-in and without the CSRF token,
signing in with the admin token allows a promote, and the keyboard (Tab) reaches every action."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import sync_playwright

from modelward import Workspace
from server.process import ServerProcess

from .console_support import TOKEN
from .test_console_docs import check_the_docs_command_serves_the_console_read_only_with_the_loop_timeline

CHROMIUM = "/usr/bin/chromium"
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@dataclass
class Console:
    root: Path
    url: str
    browser: Any
    window_id: int
    problems: list[str] = field(default_factory=list)

    def page(self) -> Any:
        """A new page (own cookies) whose console messages, page errors, failed requests and error responses
        are collected in ``problems``."""
        context = self.browser.new_context(viewport={"width": 1360, "height": 900})
        page = context.new_page()
        page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"{r.status}: {r.url}"))
        return page


@pytest.fixture(scope="module")
def console(console_root: Path) -> Iterator[Console]:
    assert shutil.which(CHROMIUM), "chromium is missing: apt-get install -y chromium (.ci/run does)"
    root = console_root
    with Workspace.open(root) as ws:
        window_id = ws.monitoring_results.runs("credit", limit=1)[0].id
    server = ServerProcess(root, f"sqlite:///{root / 'mw.db'}", "--no-loop")
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        server.wait_ready()
        yield Console(root, server.base_url, browser, window_id)
        browser.close()
    finally:
        pw.stop()
        out = server.stop()
        assert "Traceback" not in out, out[-4000:]


def sign_in(console: Console, page: Any, token: str = TOKEN) -> None:
    page.goto(f"{console.url}/ui/login?next=/ui/models/credit")
    page.fill("#token", token)
    page.click("form[action='/ui/login'] button[type=submit]")
    page.wait_for_load_state()


def main_pages(console: Console) -> dict[str, str]:
    return {
        "models": "/ui",
        "model": "/ui/models/credit",
        "model-older-windows": "/ui/models/credit?windows=2&versions=1",
        "datasets": "/ui/datasets",
        "dataset": "/ui/datasets/agrawal",
        "window-report": f"/ui/models/credit/windows/{console.window_id}",
        "login": "/ui/login",
    }


def check_every_page_loads_with_no_console_message_and_no_failed_request(console: Console) -> None:
    page = console.page()
    for name, path in main_pages(console).items():
        answer = page.goto(console.url + path)
        assert answer is not None and answer.status == 200, (name, answer and answer.status)
        page.wait_for_load_state("networkidle")
        assert page.title(), name
    sign_in(console, page)  # the signed-in model page too, with every action form
    assert page.url.endswith("/ui/models/credit")
    assert page.locator("form[action$='/promote']").count() == 1
    page.context.close()
    assert console.problems == [], "\n".join(console.problems)


def check_the_charts_draw_their_series(console: Console) -> None:
    page = console.page()
    page.goto(f"{console.url}/ui/models/credit")
    charts = page.locator("figure svg.chart")
    assert charts.count() == 8  # five over the windows, two of the champion's importance, one of fairness
    drawn = page.eval_on_selector_all(
        "figure",
        """figs => figs.map(f => ({
            caption: f.querySelector('figcaption').textContent,
            series: [...f.querySelectorAll('path.series')].map(p => Number(p.dataset.points)),
            bars: f.querySelectorAll('svg.chart rect.bar').length,
            bands: f.querySelectorAll('svg.chart polygon.band').length,
            width: f.querySelector('svg').getBoundingClientRect().width,
        }))""",
    )
    by_caption = {d["caption"].split(":")[0]: d for d in drawn}
    # six monitored windows: drift per feature, realized and estimated accuracy, latency from the log
    for caption in (
        "Drift",
        "Performance",
        "Latency per window (sample of the prediction log)",
        "Fairness of elevel",
    ):
        series = [d for d in drawn if d["caption"].startswith(caption)]
        assert series and all(d["series"] and min(d["series"]) >= 2 for d in series), (caption, drawn)
        assert all(d["width"] > 200 for d in series), drawn
    assert len([s for d in drawn if d["caption"].startswith("Drift") for s in d["series"]]) >= 8
    assert by_caption["Performance"]["series"] and len(by_caption["Performance"]["series"]) == 2
    assert page.locator("svg.chart polygon.band").count() >= 1  # the realized metric's interval
    # both fairness gaps of the sensitive column, each with its interval band
    fairness = [d for d in drawn if d["caption"].startswith("Fairness of elevel")]
    assert len(fairness) == 1 and len(fairness[0]["series"]) == 2 and fairness[0]["bands"] == 2, fairness
    # the champion's importance: one bar per input column of Agrawal's nine, mean |SHAP| and permutation
    importance = [d for d in drawn if d["caption"].startswith("Importance of v")]
    assert [d["bars"] for d in importance] == [9, 9], importance
    assert all(d["width"] > 200 for d in [*fairness, *importance]), drawn
    ranked = page.eval_on_selector_all("table.ranked tbody tr", "rows => rows.map(r => r.dataset.column)")
    assert sorted(ranked) == sorted(agrawal_features()), ranked  # the latest window's drift, ranked
    page.context.close()
    assert console.problems == [], "\n".join(console.problems)


def check_the_loop_timeline_shows_its_decisions_with_their_evidence(console: Console) -> None:
    page = console.page()
    page.goto(f"{console.url}/ui/models/credit")
    kinds = page.eval_on_selector_all("ol.timeline > li", "items => items.map(i => i.dataset.kind)")
    for kind in ("loop_trigger_fired", "loop_dataset_built", "loop_gate_decided", "loop_promoted"):
        assert kind in kinds, kinds
    gate = page.locator("li[data-kind=loop_gate_decided]").first
    evidence = gate.locator("ul.evidence li").all_inner_texts()
    assert any(line.startswith(("PASS", "FAIL", "INFO")) for line in evidence), evidence
    trigger = page.locator("li[data-kind=loop_trigger_fired]").first.inner_text()
    assert "trigger fired" in trigger
    # the full report of a window, linked from the windows table
    page.click(f"a[href='/ui/models/credit/windows/{console.window_id}']")
    assert "modelward monitor: credit@" in page.title()
    page.context.close()
    assert console.problems == [], "\n".join(console.problems)


def check_an_action_without_sign_in_or_without_the_csrf_token_is_refused(console: Console) -> None:
    with Workspace.open(console.root) as ws:
        champion = ws.registry.get("credit", "champion").version
    page = console.page()
    page.goto(f"{console.url}/ui/models/credit")
    assert page.locator("form[method=post][action^='/ui/models/']").count() == 0  # no action form
    assert page.get_by_role("link", name="Sign in to act").count() >= 1
    with httpx.Client(base_url=console.url, timeout=10) as http:
        refused = http.post("/ui/models/credit/promote", data={"version": "1", "csrf": "x"})
        assert refused.status_code == 403
        assert "sign in with the admin token" in refused.text
    sign_in(console, page)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    session = cookies["modelward_session"]
    assert TOKEN not in session
    cookie = next(c for c in page.context.cookies() if c["name"] == "modelward_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    with httpx.Client(base_url=console.url, timeout=10, cookies={"modelward_session": session}) as http:
        for form in ({"version": "1"}, {"version": "1", "csrf": "0" * 64}):
            refused = http.post("/ui/models/credit/promote", data=form)
            assert refused.status_code == 403, refused.text
            assert "CSRF token is missing or wrong" in refused.text
    with httpx.Client(base_url=console.url, timeout=10, cookies={"modelward_session": session + "0"}) as http:
        assert http.post("/ui/models/credit/rollback", data={"csrf": "x"}).status_code == 403  # forged
    wrong = console.page()
    sign_in(console, wrong, token="not-the-token")
    assert "The admin token is wrong." in wrong.content()
    assert not [c for c in wrong.context.cookies() if c["name"] == "modelward_session"]
    wrong.context.close()
    page.context.close()
    with Workspace.open(console.root) as ws:
        assert ws.registry.get("credit", "champion").version == champion
    console.problems.clear()  # the 403s above were expected


def check_the_keyboard_reaches_every_action(console: Console) -> None:
    page = console.page()
    sign_in(console, page)
    targets = page.eval_on_selector_all(
        "section.actions form button, section.actions form input:not([type=hidden]), "
        "section.actions form select, header form button",
        "els => els.map(e => e.id || e.closest('form').getAttribute('action') + ':' + e.textContent.trim())",
    )
    assert len(targets) >= 12, targets
    reached: set[str] = set()
    for _ in range(200):
        page.keyboard.press("Tab")
        reached.add(
            page.evaluate(
                """() => { const e = document.activeElement;
                   const f = e && e.closest('form');
                   return e.id || (f ? f.getAttribute('action') + ':' + e.textContent.trim() : e.tagName); }"""
            )
        )
        if reached >= set(targets):
            break
    assert set(targets) <= reached, sorted(set(targets) - reached)
    page.context.close()
    assert console.problems == [], "\n".join(console.problems)


def check_signing_in_with_the_admin_token_allows_a_promote(console: Console) -> None:
    with Workspace.open(console.root) as ws:
        before = ws.registry.get("credit", "champion").version
    target = 1 if before != 1 else 2
    page = console.page()
    sign_in(console, page)
    page.fill("#promote-version", str(target))
    page.fill("#promote-reason", "promoted from the console test")
    page.click("form[action='/ui/models/credit/promote'] button[type=submit]")
    page.wait_for_load_state()
    assert page.url.endswith("/ui/models/credit")
    assert f"v{before} -> v{target}" in page.locator("p.notice").inner_text()
    with Workspace.open(console.root) as ws:
        assert ws.registry.get("credit", "champion").version == target
        last = ws.registry.history("credit")[-1]
        assert (last.actor, last.reason, last.to_version) == (
            "ui:admin",
            "promoted from the console test",
            target,
        )
    with httpx.Client(base_url=console.url, timeout=10) as http:  # the server reloaded at once
        answer = http.post("/v1/models/credit/predict", json={"instances": ws_example(console.root)})
        assert answer.status_code == 200 and answer.json()["version"] == target, answer.text
    # a canary of the other version, started from the console: the models page shows it live
    page.fill("#rollout-version", str(before))
    page.select_option("#rollout-mode", "canary")
    page.fill("#rollout-reason", "canary from the console test")
    page.click("form[action='/ui/models/credit/rollout'] button[type=submit]")
    page.wait_for_load_state()
    assert "rollout" in page.locator("p.notice").inner_text() and "started (canary" in page.content()
    with Workspace.open(console.root) as ws:
        live = ws.rollouts.active("credit")
        assert live is not None and (live.challenger_version, live.created_by) == (before, "ui:admin")
    page.goto(f"{console.url}/ui")
    assert "canary" in page.locator("table.models").inner_text()
    shots = DOCS_IMAGES if os.environ.get("CONSOLE_SCREENSHOTS_TO_DOCS") else console.root / "shots"
    _screenshots(console, page, shots)
    page.goto(f"{console.url}/ui/models/credit")
    page.fill("#abort-reason", "enough")
    page.click("form[action='/ui/models/credit/rollout/abort'] button[type=submit]")
    page.wait_for_load_state()
    assert f"rollout {live.id} aborted" in page.locator("p.notice").inner_text()
    with Workspace.open(console.root) as ws:
        assert ws.rollouts.active("credit") is None
        assert ws.registry.get("credit", "champion").version == target
    page.context.close()
    assert console.problems == [], "\n".join(console.problems)


def test_the_console_in_a_real_chromium(console: Console) -> None:
    """One test, one workspace, one server and one browser (under `pytest -n 2` separate tests would each
    build them on both workers): the checks run in order, the actions last."""
    check_every_page_loads_with_no_console_message_and_no_failed_request(console)
    check_the_charts_draw_their_series(console)
    check_the_loop_timeline_shows_its_decisions_with_their_evidence(console)
    check_the_docs_command_serves_the_console_read_only_with_the_loop_timeline(console.root)
    check_an_action_without_sign_in_or_without_the_csrf_token_is_refused(console)
    check_the_keyboard_reaches_every_action(console)
    check_signing_in_with_the_admin_token_allows_a_promote(console)


def agrawal_features() -> list[str]:
    return ["salary", "commission", "age", "elevel", "car", "zipcode", "hvalue", "hyears", "loan"]


def ws_example(root: Path) -> list[dict[str, Any]]:
    with Workspace.open(root) as ws:
        return ws.registry.get("credit", 1).input_example[:1]


def _screenshots(console: Console, page: Any, directory: Path) -> None:
    """PNGs of the main pages (docs/images/ when CONSOLE_SCREENSHOTS_TO_DOCS is set)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, path in (
        ("console-models", "/ui"),
        ("console-model", "/ui/models/credit"),
        ("console-dataset", "/ui/datasets/agrawal"),
    ):
        page.goto(console.url + path)
        file = directory / f"{name}.png"
        page.screenshot(path=str(file), full_page=name != "console-model")
        assert file.stat().st_size > 10_000
    page.goto(f"{console.url}/ui/models/credit#charts-h")
    page.locator("#charts-h").scroll_into_view_if_needed()
    page.screenshot(path=str(directory / "console-charts.png"))
