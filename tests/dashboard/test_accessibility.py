"""Every page through axe-core in a real browser, light and dark: the real hub on a real
Mosquitto, Debian's headless Chromium at phone size, signed in as a parent. A serious or
critical WCAG 2.1 A/AA finding fails the test, naming the rule and the elements.

axe-core is vendored under tests/vendor/axe-core (a test asset; the hub never serves it)
and injected before the page's own scripts through the DevTools protocol, which the
page's Content-Security-Policy does not apply to: the page is tested as a parent gets it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import paho.mqtt.client as mqtt
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.support import Mosquitto, RunningHub, StartHub, hub_settings, login
from tests.support.episodes import hour_of_readings, publish_until_stored
from tests.support.paths import ROOT

AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
PHONE: ViewportSize = {"width": 390, "height": 844}
ROOM = "nursery"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING = ("serious", "critical")
Scheme = Literal["light", "dark"]
SCHEMES: tuple[Scheme, ...] = ("light", "dark")

expect.set_options(timeout=15_000)


def findings(page: Page) -> list[str]:
    """axe's serious and critical WCAG 2.1 AA violations on the page as it is now, one line
    per rule with the elements it names."""
    # Colours mid-transition (a summary turning green) are not what the parent reads.
    page.evaluate(
        """() => Promise.all(document.getAnimations()
            .filter((a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
            .map((a) => a.finished.catch(() => null)))"""
    )
    result: dict[str, Any] = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {
                runOnly: { type: "tag", values: tags },
                resultTypes: ["violations"],
            });
            return { violations: result.violations };
        }""",
        WCAG_21_AA,
    )
    lines = []
    for rule in result["violations"]:
        if rule["impact"] not in FAILING:
            continue
        nodes = "; ".join(
            f"{' '.join(node['target'])}: {node['failureSummary'].splitlines()[-1].strip()}"
            for node in rule["nodes"][:6]
        )
        lines.append(f"{page.url} [{rule['impact']}] {rule['id']} ({rule['help']}): {nodes}")
    return lines


class Phone:
    """A browser context at phone size in one colour scheme, with axe-core in every page."""

    def __init__(self, browser: Browser, scheme: Scheme) -> None:
        self.context: BrowserContext = browser.new_context(
            viewport=PHONE, color_scheme=scheme, has_touch=True
        )
        self.context.add_init_script(path=AXE)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))


@pytest.fixture
def phone(browser: Browser) -> Iterator[Callable[[Scheme], Phone]]:
    opened: list[Phone] = []

    def open_phone(scheme: Scheme) -> Phone:
        opened.append(Phone(browser, scheme))
        return opened[-1]

    yield open_phone
    for item in opened:
        item.context.close()


@pytest.fixture
def busy_hub(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    mqtt_client: mqtt.Client,
    start_hub: StartHub,
) -> RunningHub:
    """A hub with as much on its pages as a hard night gives: a nursery that cooled from
    18 °C to 15 °C over the last hour (a cold alert), and episodes with warning signs (the
    doctor card at its most urgent, the report's tables full)."""
    running = start_hub(hub_settings(tmp_path, broker.port, base_topic))
    now = datetime.now(UTC)
    publish_until_stored(
        mqtt_client, base_topic, running, hour_of_readings(now, lambda i: 18.0 - i / 20)
    )
    for minutes, details in (
        (50, {"limbs": ["left_leg"], "alert": True, "state": "asleep"}),
        (20, {"limbs": ["whole_body"], "alert": False, "fever": True, "fever_c": 38.4}),
        (5, {"limbs": ["right_leg", "arms"], "cluster": True, "jerks": 4, "notes": "twice"}),
    ):
        started = now - timedelta(minutes=minutes)
        body = {"room": ROOM, "started_at": started.isoformat(), "duration_s": 25, **details}
        answer = running.post("/api/episodes", json=body)
        assert answer.status_code == 201, answer.text
    assert running.get("/api/episodes/card").json()["urgency"] == "emergency"
    return running


def report_url(hub: RunningHub) -> str:
    today = datetime.now(UTC).date()
    since = today - timedelta(days=13)
    return f"{hub.url}/api/episodes/report?since={since}&until={today}&tz=UTC"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_page_of_a_signed_in_parent_passes_axe(
    busy_hub: RunningHub, phone: Callable[[Scheme], Phone], scheme: Scheme
) -> None:
    tab = phone(scheme)
    page = tab.page
    login(page, busy_hub.url)
    found: list[str] = []

    page.goto(busy_hub.url + "/")
    expect(page.locator(f'.room[data-room="{ROOM}"]')).to_be_visible()
    expect(page.locator(".foot")).to_be_visible()
    found += findings(page)

    page.goto(busy_hub.url + "/episodes")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#card")).to_be_visible()
    expect(page.locator(".ep-item")).to_have_count(3)
    found += findings(page)
    page.get_by_role("button", name="Log an earlier episode").tap()
    expect(page.locator("#form")).to_be_visible()
    found += findings(page)  # the form, too

    page.goto(busy_hub.url + "/settings")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    found += findings(page)

    page.goto(busy_hub.url + "/welcome")  # first run: add this phone
    expect(page.locator("#add-ntfy")).to_be_visible()
    found += findings(page)

    page.goto(report_url(busy_hub))
    expect(page.locator(".episodes-table tbody tr")).to_have_count(3)
    found += findings(page)

    assert found == [], "axe-core, " + scheme + ":\n" + "\n".join(found)
    assert tab.errors == []


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_sign_in_and_first_run_pages_pass_axe(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    start_hub: StartHub,
    phone: Callable[[Scheme], Phone],
    scheme: Scheme,
) -> None:
    found: list[str] = []
    hub = start_hub(hub_settings(tmp_path, broker.port, base_topic))
    page = phone(scheme).page
    page.goto(hub.url + "/login")
    expect(page.locator("#password")).to_be_visible()
    page.fill("#name", "nobody")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")  # the page with its error message
    expect(page.locator("#password")).to_be_visible()
    found += findings(page)

    # First run: a hub without a caregiver shows /setup.
    (tmp_path / "fresh").mkdir()
    fresh = RunningHub(
        hub_settings(tmp_path / "fresh", broker.port, base_topic, hub={"client_id": "hub-fresh"}),
        with_caregiver=False,
    )
    try:
        page = phone(scheme).page
        page.goto(fresh.url + "/setup")
        expect(page).to_have_url(fresh.url + "/setup")
        expect(page.locator("form")).to_be_visible()
        found += findings(page)
    finally:
        fresh.stop()

    assert found == [], "axe-core, " + scheme + ":\n" + "\n".join(found)


def test_axe_finds_a_contrast_failure_when_there_is_one(
    phone: Callable[[Scheme], Phone],
) -> None:
    """The check itself works: grey on white below 4.5:1 is a serious finding."""
    page = phone("light").page
    page.goto("about:blank")
    page.set_content(
        "<html lang='en'><head><title>t</title></head><body><main>"
        "<p style='color:#999;background:#fff'>Call 112 now</p></main></body></html>"
    )
    page.add_script_tag(path=AXE)  # about:blank has no init script run after set_content
    assert any("color-contrast" in line for line in findings(page))
