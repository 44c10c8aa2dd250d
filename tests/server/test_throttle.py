"""Wrong admin tokens are throttled per client address: after 10 in a minute, that address gets 429 with
Retry-After (even with the right token) on the admin API and the console's sign-in alike, which share the
count; another address is not affected; the count forgets old failures and a bounded number of addresses."""

from __future__ import annotations

import re
from typing import Any

import httpx

from modelward import Workspace
from modelward.server import create_app
from modelward.server.throttle import MAX_FAILURES, FailedAttempts

from .conftest import TOKEN, AppClient

_URL = "/v1/admin/models/credit/rollback"


def _from(
    client: AppClient, address: str, method: str, url: str, cookies: Any = None, **kw: Any
) -> httpx.Response:
    """A request from a given client address (with ``cookies``), to the same app."""

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=client.app, client=(address, 4000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", cookies=cookies
        ) as other:
            return await other.request(method, url, **kw)

    return client.run(send())  # type: ignore[no-any-return]


def test_wrong_bearer_tokens_are_throttled_per_address(workspace: Workspace) -> None:
    with AppClient(create_app(workspace)) as client:
        body = {"reason": "test"}
        for _ in range(MAX_FAILURES):
            wrong = client.post(_URL, json=body, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 403, wrong.text
        blocked = client.post(_URL, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
        assert blocked.status_code == 429, blocked.text
        error = blocked.json()["error"]
        assert error["code"] == "too_many_attempts" and "Try again in" in error["message"]
        assert 1 <= int(blocked.headers["Retry-After"]) <= 60
        assert error["details"]["retry_after"] == int(blocked.headers["Retry-After"])
        # another address still gets through with the right token (a 4xx of the rollback itself, not 429/403)
        other = _from(
            client, "10.0.0.9", "POST", _URL, json=body, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert other.status_code not in (401, 403, 429), other.text
        # and the console's sign-in counts the same failures
        page = _from(client, "127.0.0.1", "GET", "/ui/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        form = {"csrf": csrf.group(1), "token": TOKEN, "next": "/ui"}
        signed = _from(client, "127.0.0.1", "POST", "/ui/login", data=form, cookies=dict(page.cookies))
        assert signed.status_code == 429 and "Too many wrong tokens" in signed.text
        assert int(signed.headers["Retry-After"]) >= 1


def test_console_sign_in_failures_are_counted_and_throttled(workspace: Workspace) -> None:
    with AppClient(create_app(workspace)) as client:
        address = "10.0.0.7"
        page = _from(client, address, "GET", "/ui/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        form = {"csrf": csrf.group(1), "token": "nope", "next": "/ui"}
        for _ in range(MAX_FAILURES):
            wrong = _from(client, address, "POST", "/ui/login", data=form, cookies=dict(page.cookies))
            assert wrong.status_code == 403 and "The admin token is wrong." in wrong.text
        right = {**form, "token": TOKEN}
        blocked = _from(client, address, "POST", "/ui/login", data=right, cookies=dict(page.cookies))
        assert blocked.status_code == 429 and "try again in" in blocked.text
        api = _from(
            client, address, "POST", _URL, json={"reason": "x"}, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert api.status_code == 429
        fresh = _from(client, "127.0.0.1", "GET", "/ui/login")
        again = re.search(r'name="csrf" value="([^"]+)"', fresh.text)
        assert again is not None
        mine = {**right, "csrf": again.group(1)}
        elsewhere = _from(client, "127.0.0.1", "POST", "/ui/login", data=mine, cookies=dict(fresh.cookies))
        assert elsewhere.status_code == 303  # 127.0.0.1 signs in


def test_old_failures_are_forgotten_and_addresses_are_bounded() -> None:
    now = [0.0]
    attempts = FailedAttempts(max_failures=3, window_s=10, max_clients=2, clock=lambda: now[0])
    for t in (0.0, 4.0, 8.0):
        now[0] = t
        attempts.failed("a")
    assert attempts.wait("a") == 2.0  # the oldest failure (t=0) leaves the window at t=10
    now[0] = 10.0
    assert attempts.wait("a") is None  # two failures left in the window: under the limit
    attempts.failed("b")
    attempts.failed("c")  # a third address: the one seen longest ago ("a") is forgotten
    assert attempts.wait("a") is None and set(attempts._failures) == {"b", "c"}
