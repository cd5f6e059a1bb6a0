"""Security headers on everything the hub serves, and the pages still work under them: a
real browser shows no Content-Security-Policy violation on the dashboard, the episode
log, the doctor's report or /docs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Browser, Page

from contract.messages import ReadingMessage, new_boot_id
from contract.topics import reading_topic
from hub.web.security_headers import content_security_policy, inline_script_hashes, security_headers
from nursery.config import Settings
from tests.support import Mosquitto, RunningHub, hub_settings, login, wait_until

ROOM = "nursery"

# Records every violation the page itself sees, before any of its scripts run.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(
    `${event.violatedDirective} ${event.blockedURI} at ${event.sourceFile}:${event.lineNumber}`
    + ` ${event.sample}`);
});
"""


def test_every_page_gets_the_headers_and_hsts_only_over_https() -> None:
    plain = security_headers(https=False)
    assert "Strict-Transport-Security" not in plain
    assert plain["X-Frame-Options"] == "DENY"
    assert plain["X-Content-Type-Options"] == "nosniff"
    assert plain["Referrer-Policy"] == "same-origin"
    assert "camera=()" in plain["Permissions-Policy"]
    policy = plain["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert security_headers(https=True)["Strict-Transport-Security"].startswith("max-age=")


def test_an_inline_script_is_allowed_only_by_its_exact_hash() -> None:
    page = "<html><script src='/a.js'></script><script>start()</script></html>"
    (digest,) = inline_script_hashes(page)
    assert (
        digest == "sha256-DIm7WJS6ZKDYe5qFLPy+h4JFI9Bol5QmYC57mt3Fb00="
    )  # as `openssl dgst -sha256 -binary | base64` says
    assert f"script-src 'self' '{digest}';" in content_security_policy([digest])
    assert inline_script_hashes(page.replace("start()", "start(1)")) != [digest]


@pytest.fixture
def hub(
    tmp_path: Path, broker: Mosquitto, base_topic: str, start_hub: Callable[[Settings], RunningHub]
) -> Iterator[RunningHub]:
    """A hub with one room that has a reading and an episode, so every page has content."""
    running = start_hub(hub_settings(tmp_path, broker.port, base_topic))
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        now = datetime.now(UTC)
        message = ReadingMessage(ROOM, new_boot_id(), 0, now, 18.4, 51.0)
        client.publish(reading_topic(base_topic, ROOM), message.encode(), qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()
    wait_until(lambda: running.get("/api/rooms").json(), what="the room's first reading")
    started = (now - timedelta(minutes=20)).isoformat()
    episode = running.post(
        "/api/episodes",
        json={"room": ROOM, "started_at": started, "duration_s": 40, "notes": "a note"},
    )
    assert episode.status_code == 201, episode.text
    yield running


@pytest.mark.parametrize(
    "path", ["/", "/login", "/docs", "/openapi.json", "/api/rooms", "/static/app.js", "/healthz"]
)
def test_the_hub_sends_them_on_every_kind_of_response(hub: RunningHub, path: str) -> None:
    # /login as a stranger would see it (with the token it redirects home).
    response = httpx.get(hub.url + path, headers={} if path == "/login" else hub.headers)
    assert response.status_code == 200
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "strict-transport-security" not in response.headers
    # Only /docs runs an inline script, and only its own.
    inline = "'sha256-" in response.headers["content-security-policy"]
    assert inline == (path == "/docs")


def test_hsts_behind_a_tls_proxy_and_on_errors(hub: RunningHub) -> None:
    """A TLS-terminating proxy on the hub's own machine says https: then HSTS is sent."""
    via_proxy = httpx.get(hub.url + "/healthz", headers={"X-Forwarded-Proto": "https"})
    assert via_proxy.headers["strict-transport-security"].startswith("max-age=")
    missing = httpx.get(hub.url + "/no-such-page")
    assert missing.status_code == 404
    assert missing.headers["x-content-type-options"] == "nosniff"


class Tab:
    """A browser tab that records CSP violations, as events and as console messages."""

    def __init__(self, browser: Browser) -> None:
        self.context = browser.new_context()
        self.context.add_init_script(RECORD_VIOLATIONS)
        self.page: Page = self.context.new_page()
        self.console: list[str] = []
        self.errors: list[str] = []
        self.page.on("console", lambda message: self.console.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def violations(self) -> list[str]:
        seen = list(self.page.evaluate("window.__violations"))
        seen += [text for text in self.console if "Content Security Policy" in text]
        return seen


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    opened = Tab(browser)
    yield opened
    opened.context.close()


@pytest.mark.slow
def test_the_pages_run_under_the_policy_without_a_single_violation(
    hub: RunningHub, tab: Tab
) -> None:
    page = tab.page
    login(page, hub.url)
    page.locator(f'.room[data-room="{ROOM}"]').first.wait_for(timeout=15_000)
    page.wait_for_load_state("networkidle")
    assert tab.violations() == []

    page.goto(hub.url + "/episodes")
    page.wait_for_load_state("networkidle")
    page.get_by_text("a note").first.wait_for(timeout=15_000)
    assert tab.violations() == []

    page.goto(hub.url + "/api/episodes/report")
    page.wait_for_load_state("networkidle")
    assert tab.violations() == []
    # Its bars get their lengths and its Print button prints, with no inline code.
    widths = page.eval_on_selector_all(
        ".bar", "bars => bars.map(b => b.offsetWidth + b.offsetHeight)"
    )
    assert widths and max(widths) > 0
    page.evaluate("window.print = () => { window.__printed = true; }")
    page.get_by_role("button", name="Print").click()
    assert page.evaluate("window.__printed") is True

    page.goto(hub.url + "/docs")
    page.locator(".opblock").first.wait_for(timeout=15_000)  # Swagger UI drew the API
    page.locator(".opblock-summary").first.click()  # and opening an operation renders more
    page.wait_for_load_state("networkidle")
    assert tab.violations() == []
    assert tab.errors == []

    # The recorder itself works: an injected inline script is blocked and reported.
    page.goto(hub.url + "/")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__ran = true'; document.body.append(s); }"
    )
    wait_until(tab.violations, timeout=5, what="the injected script's violation")
    assert page.evaluate("window.__ran") is None
