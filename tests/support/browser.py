"""Debian's headless Chromium through Playwright, and a phone-sized tab on the dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect

from tests.support.hub import RunningHub, login
from tests.support.paths import ROOT

PHONE: ViewportSize = {"width": 390, "height": 844}
STATIC = ROOT / "dashboard" / "static"

# The page polls every 3 s; leave room for a slow CI machine.
expect.set_options(timeout=15_000)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


class Phone:
    """One browser tab at phone size that records every request and script error."""

    def __init__(self, browser: Browser, color_scheme: Literal["light", "dark"]) -> None:
        self.context = browser.new_context(viewport=PHONE, color_scheme=color_scheme)
        self.page: Page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, hub: RunningHub) -> Page:
        login(self.page, hub.url)
        # A marker that a reload would wipe: proves later updates happen in place.
        self.page.evaluate("window.__sameDocument = true")
        return self.page

    def card(self, room: str) -> Locator:
        return self.page.locator(f'.room[data-room="{room}"]')

    def still_same_document(self) -> bool:
        return bool(self.page.evaluate("window.__sameDocument === true"))

    def horizontal_overflow(self) -> int:
        width = int(self.page.evaluate("document.documentElement.scrollWidth"))
        return width - PHONE["width"]


def rooms_json(hub: RunningHub) -> list[dict[str, Any]]:
    rooms: list[dict[str, Any]] = hub.get("/api/rooms").json()
    return rooms


def assert_only_the_hub(tab: Phone, hub: RunningHub) -> None:
    hub_origin = f"127.0.0.1:{hub.port}"
    elsewhere = [url for url in tab.requests if urlsplit(url).netloc != hub_origin]
    assert elsewhere == [], f"requests to hosts other than the hub: {elsewhere}"
