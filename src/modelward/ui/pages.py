"""The console's routes under ``/ui``: pages (GET, read-only for everyone) and actions (POST, for a signed-in
admin only, each form with its CSRF token).

:func:`console_router` builds them over one workspace. ``actions=False`` (``modelward ui``) mounts no sign-in
and no action at all: the console is then read-only whatever is sent to it. Actions call the same functions
as the admin API (:meth:`~modelward.registry.Registry.promote` and ``rollback``,
:func:`~modelward.server.admin.retrain_of`, :func:`~modelward.server.admin_rollouts.start_rollout_of` and
``abort_rollout_of``), so they are recorded as events exactly like theirs, with the actor ``ui:admin``.
Every page answers with a ``Server-Timing: render;dur=MS`` header: its server time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from modelward.errors import ModelwardError, NotFoundError
from modelward.registry import Registry
from modelward.server.admin import client_address
from modelward.server.bodies import ClientGoneError, read_body, request_headers
from modelward.server.throttle import FailedAttempts
from modelward.ui import data, views
from modelward.ui.session import LOGIN_COOKIE, MAX_AGE, SESSION_COOKIE, SessionKeys
from modelward.workspace import Workspace

__all__ = ["ACTOR", "console_router"]

log = logging.getLogger(__name__)

ACTOR = "ui:admin"
_FORM_LIMIT = 16_384  # bytes: a console form is a few fields
_NOTICE_COOKIE = "modelward_notice"
#: The window report is one self-contained file with its CSS inline and no script.
_REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


class RefusedError(ModelwardError):
    code = "forbidden"
    status_code = 403


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("modelward.ui", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = views.num
    env.globals["quote"] = lambda s: quote(str(s), safe="")
    return env


_ENV = _environment()
_CSS = resources.files("modelward.ui").joinpath("static/console.css").read_bytes()


def _html(body: str, status: int = 200, started: float | None = None, csp: str = _CSP) -> HTMLResponse:
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    if started is not None:
        headers["Server-Timing"] = f"render;dur={(time.perf_counter() - started) * 1000:.1f}"
    return HTMLResponse(body, status_code=status, headers=headers)


async def _form(request: Request) -> dict[str, str]:
    """The urlencoded form of ``request`` (at most :data:`_FORM_LIMIT` bytes), first value per field."""
    try:
        raw = await read_body(request.receive, _FORM_LIMIT, request_headers(request.scope).content_length)
    except ClientGoneError as exc:
        raise RefusedError("The browser went away before sending the form.") from exc
    fields = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


def console_router(
    workspace: Workspace,
    *,
    actions: bool,
    on_change: Callable[[], Awaitable[object]] | None = None,
    attempts: FailedAttempts | None = None,
) -> APIRouter:
    """The console over ``workspace``; ``actions`` mounts sign-in and the actions (``modelward serve``);
    ``on_change`` runs after an action changed what is served (the server reloads at once); ``attempts``:
    the wrong admin tokens counted (shared with the admin API; :mod:`modelward.server.throttle`)."""
    keys = SessionKeys(workspace.settings.admin_token if actions else None)
    router = APIRouter(prefix="/ui", include_in_schema=False)

    def session_of(request: Request) -> str | None:
        return keys.session(request.cookies.get(SESSION_COOKIE), now=time.time()) if actions else None

    def context(request: Request, **values: Any) -> dict[str, Any]:
        nonce = session_of(request)
        return {
            "actions": actions,
            "login_enabled": keys.enabled,
            "signed_in": nonce is not None,
            "csrf": keys.csrf(nonce) if nonce is not None else "",
            "notice": unquote(request.cookies.get(_NOTICE_COOKIE) or ""),
            "path": request.url.path,
            **values,
        }

    def render(request: Request, template: str, started: float, status: int = 200, **values: Any) -> Response:
        response = _html(_ENV.get_template(template).render(context(request, **values)), status, started)
        if request.cookies.get(_NOTICE_COOKIE):
            response.delete_cookie(_NOTICE_COOKIE, path="/ui", httponly=True, samesite="strict")
        return response

    def failure(request: Request, exc: ModelwardError, started: float) -> Response:
        return render(request, "error.html", started, status=exc.status_code, error=exc)

    async def page(request: Request, template: str, build: Callable[[], dict[str, Any]]) -> Response:
        started = time.perf_counter()
        try:
            values = await asyncio.to_thread(build)
        except ModelwardError as exc:
            return failure(request, exc, started)
        return render(request, template, started, **values)

    @router.get("", response_class=HTMLResponse)
    async def models(request: Request, page_: int = Query(1, alias="page")) -> Response:
        now = dt.datetime.now(dt.UTC)
        return await page(request, "models.html", lambda: data.models_page(workspace, page_, now=now))

    @router.get("/models/{name}", response_class=HTMLResponse)
    async def model(
        request: Request, name: str, versions: int = 1, windows: int = 1, before: int | None = None
    ) -> Response:
        return await page(
            request,
            "model.html",
            lambda: data.model_page(
                workspace, name, versions_page=versions, windows_page=windows, before=before
            ),
        )

    @router.get("/models/{name}/windows/{run_id}", response_class=HTMLResponse)
    async def window_report(request: Request, name: str, run_id: int) -> Response:
        started = time.perf_counter()

        def build() -> str:
            from modelward.maintenance.monitor import WindowResult

            run = workspace.monitoring_results.run(run_id)
            if run.model != name:
                raise NotFoundError(f"Window {run_id} belongs to {run.model!r}, not {name!r}.")
            result = WindowResult(name, run.window, run.id, workspace.monitoring_results.report(run.id), {})
            page_html = result.html()
            if page_html is None:
                raise NotFoundError(f"Window {run_id} of {name!r} had no rows, so it has no report.")
            return page_html

        try:
            body = await asyncio.to_thread(build)
        except ModelwardError as exc:
            return failure(request, exc, started)
        return _html(body, 200, started, csp=_REPORT_CSP)

    @router.get("/datasets", response_class=HTMLResponse)
    async def datasets(request: Request, page_: int = Query(1, alias="page")) -> Response:
        return await page(request, "datasets.html", lambda: data.datasets_page(workspace, page_))

    @router.get("/datasets/{name}", response_class=HTMLResponse)
    async def dataset(
        request: Request,
        name: str,
        page_: int = Query(1, alias="page"),
        a: int | None = None,
        b: int | None = None,
    ) -> Response:
        return await page(
            request, "dataset.html", lambda: data.dataset_page(workspace, name, number=page_, a=a, b=b)
        )

    @router.get("/static/console.css")
    async def css() -> Response:
        return Response(_CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    if actions:
        _add_actions(
            router, workspace, keys, session_of, render, failure, on_change, attempts or FailedAttempts()
        )
    return router


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _add_actions(
    router: APIRouter,
    workspace: Workspace,
    keys: SessionKeys,
    session_of: Callable[[Request], str | None],
    render: Callable[..., Response],
    failure: Callable[[Request, ModelwardError, float], Response],
    on_change: Callable[[], Awaitable[object]] | None,
    attempts: FailedAttempts,
) -> None:
    """Sign-in, sign-out and the five actions."""
    import secrets

    @router.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request) -> Response:
        started = time.perf_counter()
        if not keys.enabled:
            return render(request, "login.html", started, status=403, login_nonce="", login_csrf="")
        nonce = secrets.token_hex(16)
        response = render(
            request,
            "login.html",
            started,
            login_nonce=nonce,
            login_csrf=keys.csrf("login:" + nonce),
            request_next=_safe_next(request.query_params.get("next")),
        )
        _cookie(response, request, LOGIN_COOKIE, nonce, 600)
        return response

    @router.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        started = time.perf_counter()
        form = await _form(request)
        nonce = request.cookies.get(LOGIN_COOKIE)
        if not keys.enabled:
            return failure(request, RefusedError(_DISABLED), started)
        if nonce is None or not keys.csrf_ok("login:" + nonce, form.get("csrf")):
            return failure(
                request,
                RefusedError("The sign-in form expired or did not come from this console: open it again."),
                started,
            )

        def again(status: int, error: str) -> Response:  # the form once more, with what went wrong
            return render(
                request,
                "login.html",
                started,
                status=status,
                login_nonce=nonce,
                login_csrf=keys.csrf("login:" + nonce),
                request_next=_safe_next(form.get("next")),
                error=error,
            )

        client = client_address(request)
        wait = attempts.wait(client)
        if wait is not None:
            retry = max(1, int(wait + 0.999))
            refused = again(429, f"Too many wrong tokens from this address: try again in {retry} s.")
            refused.headers["Retry-After"] = str(retry)
            return refused
        if not keys.token_matches(form.get("token", "")):
            attempts.failed(client)
            log.warning("console sign-in refused: wrong admin token from %s", client)
            return again(403, "The admin token is wrong.")
        response = RedirectResponse(_safe_next(form.get("next")), status_code=303)
        _cookie(response, request, SESSION_COOKIE, keys.issue(now=time.time()), MAX_AGE)
        response.delete_cookie(LOGIN_COOKIE, path="/ui", httponly=True, samesite="strict")
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        started = time.perf_counter()
        form = await _form(request)
        if not keys.csrf_ok(session_of(request), form.get("csrf")):
            return failure(request, RefusedError(_CSRF), started)
        response = RedirectResponse("/ui", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/ui", httponly=True, samesite="strict")
        return response

    def registry() -> Registry:
        return Registry(workspace.store, ACTOR)

    def do_promote(name: str, form: dict[str, str]) -> str:
        version = _int(form.get("version"), "version")
        alias = form.get("alias") or "champion"
        change = registry().promote(name, version, alias=alias, reason=form.get("reason") or None)
        return f"{name}@{change.alias}: v{change.from_version} -> v{change.to_version}"

    def do_rollback(name: str, form: dict[str, str]) -> str:
        alias = form.get("alias") or "champion"
        change = registry().rollback(name, alias=alias, reason=form.get("reason") or None)
        return f"{name}@{change.alias} rolled back: v{change.from_version} -> v{change.to_version}"

    def do_rollout(name: str, form: dict[str, str]) -> str:
        from modelward.server.admin_rollouts import start_rollout_of
        from modelward.server.schemas import RolloutStartRequest

        body = RolloutStartRequest(
            version=_int(form.get("version"), "version"),
            mode=_mode(form.get("mode")),
            reason=form.get("reason") or None,
        )
        answer = start_rollout_of(workspace, name, body, ACTOR)
        if answer.rollout is None:
            return f"{name}: v{body.version} promoted at once (mode immediate)"
        r = answer.rollout
        return f"{name}: rollout {r.id} started ({r.mode}, v{r.challenger_version} vs v{r.champion_version})"

    def do_abort(name: str, form: dict[str, str]) -> str:
        from modelward.server.admin_rollouts import abort_rollout_of
        from modelward.server.schemas import RolloutAbortRequest

        answer = abort_rollout_of(
            workspace, name, RolloutAbortRequest(reason=form.get("reason") or None), ACTOR
        )
        rid = answer.rollout.id if answer.rollout is not None else "?"
        return f"{name}: rollout {rid} aborted; the champion v{answer.champion} keeps all traffic"

    def do_retrain(name: str, form: dict[str, str]) -> str:
        from modelward.server.admin import retrain_of
        from modelward.server.schemas import RetrainRequest

        body = RetrainRequest(reason=form.get("reason") or None, force=form.get("force") == "on")
        answer = retrain_of(workspace, name, body, ACTOR)
        if answer.started and answer.job is not None:
            return f"{name}: retrain job {answer.job.id} opened; the loop picks it up"
        return f"{name}: no job opened: {answer.reason}"

    handlers: dict[str, Callable[[str, dict[str, str]], str]] = {
        "promote": do_promote,
        "rollback": do_rollback,
        "rollout": do_rollout,
        "rollout/abort": do_abort,
        "retrain": do_retrain,
    }

    def add(path: str, handler: Callable[[str, dict[str, str]], str]) -> None:
        async def act(request: Request, name: str) -> Response:
            started = time.perf_counter()
            form = await _form(request)
            nonce = session_of(request)
            try:
                if nonce is None:
                    raise RefusedError(
                        "Actions need a signed-in admin: sign in with the admin token at /ui/login."
                        if keys.enabled
                        else _DISABLED
                    )
                if not keys.csrf_ok(nonce, form.get("csrf")):
                    raise RefusedError(_CSRF)
                message = await asyncio.to_thread(handler, name, form)
            except ModelwardError as exc:
                return failure(request, exc, started)
            except ValueError as exc:  # a form field pydantic refused
                return failure(request, RefusedError(f"Invalid form: {exc}"), started)
            if on_change is not None:
                await on_change()
            response = RedirectResponse(f"/ui/models/{quote(name, safe='')}", status_code=303)
            _cookie(response, request, _NOTICE_COOKIE, quote(message, safe=""), 60)
            return response

        router.add_api_route(f"/models/{{name}}/{path}", act, methods=["POST"], name=f"console_{path}")

    for path, handler in handlers.items():
        add(path, handler)


_DISABLED = (
    "Actions are disabled: no admin_token is configured (set MODELWARD_ADMIN_TOKEN or admin_token in "
    "modelward.yaml)."
)
_CSRF = "The form's CSRF token is missing or wrong: reload the page and submit the form again."


def _int(value: str | None, field: str) -> int:
    try:
        return int(value or "")
    except ValueError as exc:
        raise RefusedError(f"Invalid form: {field} must be a whole number, got {value!r}.") from exc


def _mode(value: str | None) -> Any:
    return value or None


def _safe_next(value: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if value and value.startswith("/ui") and not value.startswith("//"):
        return value
    return "/ui"
