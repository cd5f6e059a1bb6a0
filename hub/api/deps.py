"""Dependencies the routes declare: the running hub's parts, reached through the app, and
the caregiver a request acts for."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from contract.errors import NurseryError
from hub.accounts import Accounts, Caregiver, Throttle
from hub.config import HubConfig
from hub.heartbeat import Heartbeat
from hub.ingest.listener import Clock, Ingest
from hub.messages import Unit
from hub.monitor.watch import Monitor
from hub.notify.channel_health import ChannelHealth
from hub.notify.channel_watch import ChannelWatch
from hub.notify.dispatcher import Dispatcher
from hub.notify.used_links import UsedLinks
from hub.preferences import Preferences
from hub.store.database import Store
from hub.store.disk_health import SaveHealth


@dataclass
class HubContext:
    """Everything a request may need, built once by create_app's lifespan."""

    settings: HubConfig
    store: Store
    accounts: Accounts
    ingest: Ingest | None
    clock: Clock
    monitor: Monitor | None = None
    dispatcher: Dispatcher | None = None
    preferences: Preferences | None = None
    heartbeat: Heartbeat | None = None  # with notify.heartbeat_urls
    # While no caregiver exists: the code that lets a phone create the first account.
    setup_code: str | None = None
    login_throttle: Throttle = field(default_factory=lambda: Throttle(limit=20, window_s=60))
    # The push links that already acted (a second tap says "already done").
    used_links: UsedLinks | None = None
    # Can the hub save? Failing on a full or read-only disk: writes answer 503, a banner shows.
    save_health: SaveHealth = field(default_factory=lambda: SaveHealth(lambda: datetime.now(UTC)))
    # Each channel's last delivery and test (the banner, the red channels).
    channel_health: ChannelHealth | None = None
    channel_watch: ChannelWatch | None = None  # with ingest

    def unit(self) -> Unit:
        """°C or °F, as the caregivers chose on the settings page."""
        return self.preferences.household().unit if self.preferences is not None else "C"


def get_context(request: Request) -> HubContext:
    context: HubContext = request.app.state.hub
    return context


ContextDep = Annotated[HubContext, Depends(get_context)]


def get_monitor(request: Request) -> Monitor:
    monitor = get_context(request).monitor
    if monitor is None:
        raise HTTPException(503, detail="the hub is not watching rooms (started without ingest)")
    return monitor


MonitorDep = Annotated[Monitor, Depends(get_monitor)]


SESSION_COOKIE = "nursery_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def optional_caregiver(request: Request) -> Caregiver | None:
    """The caregiver a request carries credentials for; None when it carries none.

    An API token (`Authorization: Bearer nm_…`) or the dashboard's session cookie. A
    state-changing request on a cookie must also send the session's CSRF token in the
    `X-CSRF-Token` header, which another site's page cannot read. Bad credentials are a
    401, never silently anonymous.
    """
    accounts = get_context(request).accounts
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("the Authorization header must be 'Bearer <API token>'")
        caregiver = accounts.token_caregiver(token.strip())
        if caregiver is None:
            raise _unauthorized(
                "this API token is not valid (unknown, expired or revoked); make a new one with "
                "`nursery token NAME`"
            )
        request.state.via = "api"
        return caregiver
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is None:
        return None
    session = accounts.session(cookie)
    if session is None:
        raise _unauthorized("your session has ended; sign in again")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise HTTPException(403, detail="missing or wrong CSRF token; reload the page")
    request.state.via = "dashboard"
    request.state.csrf = session.csrf  # for GET /api/auth/me, without a second lookup
    return session.caregiver


def session_caregiver(request: Request) -> Caregiver | None:
    """The caregiver of the browser's dashboard session, if it holds a live one; never
    raises, and wants no CSRF token.

    Only for naming who tapped a push link: the link's signature alone allows the
    change, so a signed-in phone must not fail where a signed-out one works.
    """
    cookie = request.cookies.get(SESSION_COOKIE)
    session = get_context(request).accounts.session(cookie) if cookie else None
    return session.caregiver if session else None


def require_caregiver(request: Request) -> Caregiver:
    """A signed-in caregiver or an API token, else 401."""
    caregiver = optional_caregiver(request)
    if caregiver is None:
        raise _unauthorized("sign in first, or send 'Authorization: Bearer <API token>'")
    return caregiver


CaregiverDep = Annotated[Caregiver, Depends(require_caregiver)]
MaybeCaregiverDep = Annotated[Caregiver | None, Depends(optional_caregiver)]


class SignInRequired(NurseryError):
    """A dashboard page asked for without a session: the app answers with a redirect to
    /login that comes back to `next_path` afterwards."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def require_page_caregiver(request: Request) -> Caregiver:
    """For HTML pages: the signed-in caregiver, else a redirect to the sign-in page."""
    try:
        caregiver = optional_caregiver(request)
    except HTTPException as exc:
        if exc.status_code != 401:
            raise
        caregiver = None
    if caregiver is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return caregiver


PageCaregiverDep = Annotated[Caregiver, Depends(require_page_caregiver)]


def field_problem(
    where: str, field: str, message: str, code: str = "value_error"
) -> list[dict[str, Any]]:
    """An error's detail shaped like FastAPI's own validation errors: one error naming its
    field (`where` is `query`, `path` or `body`), so a form can show the message there."""
    return [{"loc": [where, field], "msg": message, "type": code}]


def unprocessable(where: str, field: str, message: str, code: str = "value_error") -> HTTPException:
    """A 422 naming its field (see field_problem)."""
    return HTTPException(422, detail=field_problem(where, field, message, code))
