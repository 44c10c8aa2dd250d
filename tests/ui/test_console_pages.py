"""The console in-process (fast): pages of an empty and of a small workspace, clear 404 pages, names escaped,
the read-only app without any action or schema, and the session cookie's signature and expiry."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from modelward import Workspace
from modelward.ui import create_console_app
from modelward.ui.session import MAX_AGE, SessionKeys
from support.registry import register_stub_versions


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
