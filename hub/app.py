"""create_app(settings): the hub as one object, built from its settings and nothing else."""

from __future__ import annotations

import logging
import secrets
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp

from hub.accounts import Accounts
from hub.api import (
    alerts,
    auth,
    episodes,
    errors,
    health,
    metrics,
    pages,
    phone_setup,
    room_names,
    rooms,
)
from hub.api import settings as settings_api
from hub.api.deps import HubContext
from hub.api.phone_setup import watch_channels
from hub.config import HubConfig
from hub.discovery import Discovery
from hub.heartbeat import Heartbeat, judge, read_parts
from hub.ingest.listener import Clock, Ingest, utc_now
from hub.monitor.nightly_push import NightlyPushes, paged_names
from hub.monitor.save_alarm import SaveAlarm
from hub.monitor.watch import Monitor
from hub.notify.apprise_sender import ApprisePushSender
from hub.notify.channel_health import ChannelHealth
from hub.notify.channel_watch import ChannelWatch
from hub.notify.dispatcher import Dispatcher
from hub.notify.outbox import PushOutbox
from hub.notify.used_links import UsedLinks
from hub.preferences import Preferences
from hub.private_logs import keep_secrets_out_of_logs
from hub.sources.settings import stale_after_s as source_stale_after_s
from hub.store.database import Store, StoreError
from hub.store.disk_health import SaveHealth, probe
from hub.web.body_limit import BodyLimit
from hub.web.host_check import HostCheck, own_names
from hub.web.save_guard import SaveGuard
from hub.web.security_headers import SecurityHeaders, content_security_policy, inline_script_hashes
from mqttlink.systemd import Watchdog
from mqttlink.systemd import notify as notify_systemd

log = logging.getLogger("nursery.hub")


def open_accounts(settings: HubConfig, clock: Clock = utc_now) -> Accounts:
    """The caregivers' accounts in the hub's database, with the configured lock-out."""
    try:
        return Accounts(
            settings.hub.db,
            clock,
            session_ttl_s=settings.hub.session_ttl_s,
            max_failures=settings.hub.login_attempts,
            lockout_s=settings.hub.lockout_s,
        )
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open accounts in {settings.hub.db}: {exc}") from exc


class HubApp(FastAPI):
    """FastAPI with the body cap and the security headers outside its whole stack.

    Added as ordinary middleware they would sit inside Starlette's error handler: its 500
    page would go out without the headers, and the cap would come after nothing but still
    inside it. Outermost, every answer (404, 405, 413, 422, 500…) carries the headers and
    no part of the app reads a body over the cap.
    """

    def __init__(self, *, max_body_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_body_bytes = max_body_bytes

    def build_middleware_stack(self) -> ASGIApp:
        # CSP, no framing, HSTS over https (docs/security.md); then the cap
        # The sign-in forms are open to anyone and never need more than auth's own cap.
        forms = dict.fromkeys(auth.FORM_PATHS, auth.MAX_FORM_BYTES)
        stack = BodyLimit(super().build_middleware_stack(), self.max_body_bytes, forms)
        return SecurityHeaders(stack)


def create_app(
    settings: HubConfig,
    *,
    clock: Clock = utc_now,
    ingest: bool = True,
) -> FastAPI:
    """The hub's web app; with ingest=False it only serves what the database holds."""
    keep_secrets_out_of_logs()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store(settings.hub.db)
        accounts = open_accounts(settings, clock)
        preferences = Preferences(
            settings.hub.db, settings.rules, lambda: [c.id for c in accounts.caregivers()]
        )
        context = HubContext(
            settings=settings,
            store=store,
            accounts=accounts,
            ingest=None,
            clock=clock,
            preferences=preferences,
            used_links=UsedLinks(settings.hub.db),
            save_health=SaveHealth(clock, settings.hub.db),
        )
        app.state.hub = context
        if settings.hub.demo_login:
            auth.demo_caregiver(accounts)
            log.warning("demo: every visitor is signed in as %r without a password", "demo")
        elif accounts.count() == 0:
            context.setup_code = secrets.token_hex(4)
            log.warning(
                "no caregiver has an account yet: open /setup from this machine, or from a "
                "phone with the one-time code %s, or run `nursery adduser NAME`",
                context.setup_code,
            )
        context.channel_health = ChannelHealth(settings.hub.db)
        outbox = PushOutbox(settings.hub.db) if ingest else None
        channel_watch: ChannelWatch | None = None
        watchdog: Watchdog | None = None
        nightly: NightlyPushes | None = None
        save_alarm: SaveAlarm | None = None
        if outbox is not None:
            dispatcher = Dispatcher(
                outbox,
                ApprisePushSender(timeout_s=settings.notify.timeout_s),
                clock=clock,
                max_per_hour=settings.alerts.max_per_hour,
                channel_health=context.channel_health,
            )
            runner = Ingest(settings, store, clock)
            # Always built: the room state topic serves every automation; with discovery
            # off it announces nothing to Home Assistant.
            discovery = Discovery(settings, runner.publish)
            runner.discovery = discovery
            monitor = Monitor(
                settings,
                store,
                outbox,
                clock,
                publish=runner.publish,
                wake_dispatcher=dispatcher.wake,
                discovery=discovery,
            )
            runner.listener = monitor
            runner.watch_saving(context.save_health)
            monitor.unsaved.save_health = context.save_health
            # Straight to the push services from memory: the outbox is on the failing disk.
            save_alarm = SaveAlarm(
                settings,
                context.save_health,
                ApprisePushSender(timeout_s=settings.notify.timeout_s),
                lambda: probe(store.probe_write, settings.hub.db),
                clock,
                publish=runner.publish,
            )
            save_alarm.use_household(preferences.household())
            preferences.on_change(save_alarm.use_household)
            save_alarm.start()
            monitor.use_household(preferences.household())
            preferences.on_change(monitor.use_household)
            context.ingest, context.monitor, context.dispatcher = runner, monitor, dispatcher
            monitor.start()
            dispatcher.start()
            runner.start()

            def paged() -> list[str]:
                """Caregivers with a push channel, in paging order, for the check-in."""
                return paged_names(accounts.caregivers(), lambda c: bool(preferences.channels(c)))

            nightly = NightlyPushes(
                settings, store, outbox, clock, preferences.household, paged, dispatcher.wake
            )
            nightly.start()
            channel_watch = context.channel_watch = watch_channels(context, dispatcher)
            channel_watch.start()
            watchdog = Watchdog(lambda: runner.writing and monitor.watching())
            watchdog.start()
            if settings.notify.heartbeat_urls:
                sources, default_s = settings.hub.sources, settings.rules.stale_after_s

                def stale_after_s(room: str) -> float:  # a sleepy source's own limit
                    return source_stale_after_s(sources, room, default_s)

                context.heartbeat = Heartbeat(
                    settings.notify.heartbeat_urls,
                    settings.notify.heartbeat_every_s,
                    lambda: judge(
                        read_parts(runner, monitor, store, dispatcher, stale_after_s, clock())
                    ),
                    clock=clock,
                )
                context.heartbeat.start()
        notify_systemd("READY=1")
        try:
            yield
        finally:
            notify_systemd("STOPPING=1")
            if watchdog is not None:
                watchdog.stop()
            if context.heartbeat is not None:
                context.heartbeat.stop()
            if nightly is not None:
                nightly.stop()
            if save_alarm is not None:
                save_alarm.stop()
            if channel_watch is not None:
                channel_watch.stop()
            if context.ingest:
                context.ingest.stop()
            if context.monitor:
                context.monitor.stop()
            if context.dispatcher:
                context.dispatcher.stop()
            if outbox is not None:
                outbox.close()
            preferences.close()
            context.channel_health.close()
            if context.used_links:
                context.used_links.close()
            accounts.close()
            store.close()

    app = HubApp(
        max_body_bytes=settings.hub.max_body_bytes,
        title="nursery-monitor hub",
        version="0.1.0",
        summary="Nursery temperature and humidity: rooms, readings and the hub's health.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's default pulls Swagger UI from a CDN; a nursery Pi is offline
        redoc_url=None,
    )
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(auth.router)
    app.include_router(rooms.router)
    app.include_router(alerts.router)
    app.include_router(settings_api.router)
    app.include_router(phone_setup.router)
    app.include_router(room_names.router)
    app.include_router(episodes.router)
    pages.install(app)
    # Inside the security headers and the body cap, which wrap the whole app (_Hub).
    app.add_middleware(SaveGuard)  # changes get 503 while the disk takes no writes
    app.add_middleware(HostCheck, names=own_names(settings))  # DNS rebinding: docs/security.md

    docs_page = bytes(
        get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="nursery-monitor API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/icon.svg",
        ).body
    ).decode()
    # Swagger UI starts from one inline script: the page's policy allows exactly that one.
    docs_csp = content_security_policy(inline_script_hashes(docs_page))

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return HTMLResponse(docs_page, headers={"Content-Security-Policy": docs_csp})

    errors.install(app)
    return app
