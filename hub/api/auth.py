"""Signing in and out: /login, /logout, first-run /setup, and GET /api/auth/me."""

from __future__ import annotations

import hmac
import html
import ipaddress
import secrets
import time
from datetime import timedelta
from typing import Annotated
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from hub.accounts import AccountError, Accounts, Caregiver, LockedOut, LoginFailed
from hub.api.deps import (
    CSRF_HEADER,
    SESSION_COOKIE,
    ContextDep,
    HubContext,
    get_context,
    optional_caregiver,
)
from hub.api.pages import render_page
from hub.login_lockout import client_key

router = APIRouter(tags=["auth"])

DEMO_ACCOUNT = "demo"
MAX_FORM_BYTES = 4096
# The forms this module reads; hub/app.py caps their bodies at MAX_FORM_BYTES before any
# byte is read, so a stranger's 250 KiB sign-in never reaches the form parser.
FORM_PATHS = ("/login", "/logout", "/setup")
NO_STORE = {"Cache-Control": "no-store"}


class Me(BaseModel):
    name: str
    csrf_token: str | None
    demo: bool
    via: str


def safe_next(target: str | None) -> str:
    """Only a path on this hub: never an open redirect to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def client_address(request: Request) -> str:
    """The key this client's throttle and lock-outs are kept under."""
    return client_key(request.client.host if request.client else "")


def is_local(request: Request) -> bool:
    """A request from the hub's own machine (the first-run page is open only to it)."""
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _same_origin(request: Request) -> bool:
    """A form post from a page of another site is refused (login CSRF)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, detail="form too large")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, detail="not a form") from exc
    return {key: values[0] for key, values in fields.items()}


def _page(title: str, content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(render_page(title, content), status_code=status, headers=NO_STORE)


def _signed_in(ctx: HubContext, request: Request, caregiver: Caregiver, target: str) -> Response:
    session_id, _ = ctx.accounts.new_session(caregiver)
    response = RedirectResponse(target, status_code=303, headers=NO_STORE)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(ctx.settings.hub.session_ttl_s),
        httponly=True,
        # Lax, not Strict: a parent tapping a link in a push lands signed in. Changes
        # still need the CSRF header, which no other site can send.
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


def _login_form(target: str, error: str = "", name: str = "") -> str:
    shown = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return (
        f"{shown}"
        f'<form method="post" action="/login?next={quote(target, safe="/")}">'
        '<label for="name">Name</label>'
        f'<input id="name" name="name" autocomplete="username" required value="{html.escape(name)}"'
        ' autocapitalize="none" autofocus>'
        '<label for="password">Password</label>'
        '<input id="password" name="password" type="password" autocomplete="current-password"'
        " required>"
        '<button type="submit">Sign in</button></form>'
        '<p class="help">Forgot it? On the hub, run <code>nursery adduser NAME</code> with a '
        "new name, or ask another caregiver.</p>"
    )


def _duration(left: timedelta) -> str:
    """`15 minutes`, `1 minute`, or from 90 minutes on `2 hours`: a lock's time left."""
    minutes = max(1, round(left.total_seconds() / 60))
    if minutes < 90:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{round(minutes / 60)} hours"


def demo_caregiver(accounts: Accounts) -> Caregiver:
    """The demo's caregiver, made with a password nobody knows: only demo_login opens it."""
    return accounts.find(DEMO_ACCOUNT) or accounts.add(DEMO_ACCOUNT, secrets.token_urlsafe(24))


@router.get("/login", include_in_schema=False)
def login_page(
    request: Request, ctx: ContextDep, next: Annotated[str | None, Query()] = None
) -> Response:
    target = safe_next(next)
    if ctx.settings.hub.demo_login:
        return _signed_in(ctx, request, demo_caregiver(ctx.accounts), target)
    try:
        if optional_caregiver(request) is not None:
            return RedirectResponse(target, status_code=303)
    except HTTPException:
        pass  # an ended session: sign in again
    if ctx.accounts.count() == 0:
        return RedirectResponse("/setup", status_code=303)
    return _page("Sign in", _login_form(target))


@router.post("/login", include_in_schema=False)
async def login(
    request: Request, ctx: ContextDep, next: Annotated[str | None, Query()] = None
) -> Response:
    target = safe_next(next)
    if not _same_origin(request):
        return _page("Sign in", _login_form(target, "Sign in from the hub's own page."), 403)
    form = await _form(request)
    name, password = form.get("name", ""), form.get("password", "")
    client = client_address(request)
    if not ctx.login_throttle.allow(client, time.monotonic()):
        error = "Too many sign-in attempts from this device. Wait a minute and try again."
        return _page("Sign in", _login_form(target, error, name), 429)
    try:
        caregiver = ctx.accounts.authenticate(name, password, address=client)
    except LockedOut as exc:
        # The same words whether or not the name is a caregiver's: they give no names away.
        error = (
            "Too many wrong passwords: this account is locked for about "
            f"{_duration(exc.until - ctx.clock())} on this device. Another caregiver can still "
            "sign in."
        )
        return _page("Sign in", _login_form(target, error, name), 429)
    except LoginFailed:
        error = "That name and password do not match."
        return _page("Sign in", _login_form(target, error, name), 401)
    return _signed_in(ctx, request, caregiver, target)


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, ctx: ContextDep) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    session = ctx.accounts.session(cookie) if cookie else None
    if session is not None:
        form = await _form(request)
        sent = request.headers.get(CSRF_HEADER) or form.get("csrf", "")
        if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise HTTPException(403, detail="missing or wrong CSRF token; reload the page")
        ctx.accounts.end_session(cookie or "")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _setup_form(local: bool, error: str = "", name: str = "") -> str:
    shown = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    code = (
        ""
        if local
        else '<label for="code">One-time code</label>'
        '<input id="code" name="code" autocomplete="one-time-code" required>'
        '<p class="help">The hub printed this code in its log when it started.</p>'
    )
    return (
        '<p class="note">No caregiver has an account yet. Create the first one; add more '
        "later with <code>nursery adduser NAME</code> on the hub.</p>"
        f"{shown}"
        '<form method="post" action="/setup">'
        '<label for="name">Your name</label>'
        '<input id="name" name="name" autocomplete="username" required'
        f' value="{html.escape(name)}">'
        '<label for="password">Password (at least 8 characters, not a common one)</label>'
        '<input id="password" name="password" type="password" autocomplete="new-password" required>'
        f"{code}"
        '<button type="submit">Create account</button></form>'
    )


@router.get("/setup", include_in_schema=False)
def setup_page(request: Request, ctx: ContextDep) -> Response:
    if ctx.accounts.count() > 0:
        return RedirectResponse("/login", status_code=303)
    return _page("First run", _setup_form(is_local(request)))


@router.post("/setup", include_in_schema=False)
async def setup(request: Request, ctx: ContextDep) -> Response:
    if ctx.accounts.count() > 0:
        return RedirectResponse("/login", status_code=303)
    if not _same_origin(request):
        raise HTTPException(403, detail="create the first account from the hub's own page")
    form = await _form(request)
    local = is_local(request)
    name = form.get("name", "")
    code = form.get("code", "")
    # Every try from a phone counts before its code is looked at: a throttled address
    # must not go on guessing, not even with the right code.
    if not local and not ctx.login_throttle.allow(client_address(request), time.monotonic()):
        error = "Too many attempts from this device. Wait a minute and try again."
        return _page("First run", _setup_form(local, error, name), 429)
    if not local and not (
        ctx.setup_code and hmac.compare_digest(code.strip().encode(), ctx.setup_code.encode())
    ):
        return _page("First run", _setup_form(local, "That one-time code is wrong.", name), 403)
    try:
        caregiver = ctx.accounts.add(name, form.get("password", ""))
    except AccountError as exc:
        return _page("First run", _setup_form(local, str(exc), name), 422)
    ctx.setup_code = None
    return _signed_in(ctx, request, caregiver, "/welcome")  # next: add this phone


@router.get("/api/auth/me", response_model=Me, tags=["auth"])
def me(
    request: Request,
    ctx: Annotated[HubContext, Depends(get_context)],
    caregiver: Annotated[Caregiver | None, Depends(optional_caregiver)],
) -> Me:
    """Who this request acts for, and the CSRF token a signed-in page sends with changes."""
    if caregiver is None:
        raise HTTPException(401, detail="sign in first", headers={"WWW-Authenticate": "Bearer"})
    via = str(getattr(request.state, "via", "api"))
    csrf = getattr(request.state, "csrf", None) if via == "dashboard" else None
    return Me(
        name=caregiver.name,
        csrf_token=csrf,
        demo=ctx.settings.hub.demo_login and caregiver.name == DEMO_ACCOUNT,
        via=via,
    )
