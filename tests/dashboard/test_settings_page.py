"""The settings page in a real browser: the real hub on a real Mosquitto, headless Debian
Chromium at phone size, signed in through /login. The guidance, °C/°F, the caregivers in
paging order, and a parent's own push channel tested against a local receiver; °F on the
episode log too. Every wait is on a condition, never a fixed sleep."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from hub.api.pages import channel_page, episodes_page, render, render_page
from hub.preferences import Preferences
from mqttlink.rules_settings import RulesSettings
from tests.support import (
    TEST_CAREGIVER,
    TEST_PASSWORD,
    Mosquitto,
    RunningHub,
    StartHub,
    api_token,
    hub_settings,
    wait_until,
)
from tests.support.browser import STATIC, Phone, assert_only_the_hub
from tests.support.push import Receiver
from tests.support.rooms import Monitor

TEMPLATES = STATIC.parent / "templates"


@pytest.fixture
def hub(tmp_path: Path, broker: Mosquitto, base_topic: str, start_hub: StartHub) -> RunningHub:
    return start_hub(hub_settings(tmp_path, broker.port, base_topic))


def open_settings(tab: Phone, hub: RunningHub) -> Page:
    """Sign in, then follow the header's Settings link, as a parent would."""
    page = tab.open(hub)
    page.get_by_role("link", name="Settings").click()
    expect(page).to_have_url(hub.url + "/settings")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    return page


class Threshold(NamedTuple):
    form: Locator
    input: Locator
    source: Locator


def threshold(page: Page, key: str) -> Threshold:
    form = page.locator(f'form.st-threshold[data-key="{key}"]')
    return Threshold(form, form.locator("input"), form.locator(".st-th-source"))


def api_threshold(hub: RunningHub, key: str) -> dict[str, object]:
    value: dict[str, object] = hub.get("/api/settings").json()["thresholds"][key]
    return value


def test_the_guidance_thresholds_and_unit_change_from_the_phone(
    hub: RunningHub,
    phone: Callable[..., Phone],
) -> None:
    api_token(hub.settings.hub.db, "Alex")  # a second caregiver, paged on escalation
    tab = phone()
    page = open_settings(tab, hub)

    expect(page.locator('input[name="preset"][value="uk"]')).to_be_checked()
    expect(page.locator('[data-range="uk"]')).to_have_text("16–20 °C")
    expect(page.locator('[data-range="who"]')).to_have_text("At least 18 °C")
    expect(page.locator('[data-range="us"]')).to_have_text("20–22 °C")
    expect(page.locator(".st-preset", has_text="UK")).to_contain_text("Lullaby Trust and the NHS")
    cold_form, cold_input, cold_source = threshold(page, "cold_below_c")
    expect(cold_input).to_have_value("16")
    expect(cold_source).to_have_text("From the UK preset")
    expect(threshold(page, "hot_above_c").source).to_have_text("From the UK preset")
    expect(page.locator(".st-caregiver")).to_have_text(
        [re.compile(r"^1tester \(you\)Paged first$"), re.compile(r"^2AlexPaged when an alert")]
    )

    # A threshold of their own, then a refused one: the reason under its field, the
    # typed value kept, nothing changed on the hub.
    page.fill("#t-cold_below_c", "17")
    page.locator('form[data-key="cold_below_c"]').get_by_role("button", name="Save").click()
    expect(page.locator("#status")).to_have_text("Saved: cold alert below 17 °C.")
    expect(cold_source).to_have_text("Set here")
    assert api_threshold(hub, "cold_below_c") == {"value_c": 17.0, "source": "dashboard"}

    before = hub.get("/api/settings").json()
    page.fill("#t-warm_above_c", "30")
    page.press("#t-warm_above_c", "Enter")
    warm_error = page.locator('form[data-key="warm_above_c"] .st-field-error')
    expect(warm_error).to_have_text(
        "The warm note threshold (30 °C) cannot be above the hot alert threshold (24 °C). "
        "From low to high: cold, cool, warm, hot."
    )
    expect(warm_error).to_have_attribute("data-for", "warm_above_c")
    expect(page.locator("#t-warm_above_c")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#t-warm_above_c")).to_have_value("30")
    assert hub.get("/api/settings").json() == before

    page.fill("#t-cold_below_c", "45")
    page.press("#t-cold_below_c", "Enter")
    expect(cold_form.locator(".st-field-error")).to_have_text(
        "Enter a temperature between -10 and 40 °C."
    )
    expect(warm_error).to_have_count(0)  # one change at a time: the old error is gone

    # Back to the preset, then another preset.
    cold_form.get_by_role("button", name="Back to the preset").click()
    expect(cold_source).to_have_text("From the UK preset")
    expect(cold_input).to_have_value("16")
    assert api_threshold(hub, "cold_below_c") == {"value_c": 16.0, "source": "preset"}
    page.locator(".st-preset", has_text="WHO").click()
    expect(page.locator("#status")).to_have_text("Thresholds now follow the WHO preset.")
    expect(cold_input).to_have_value("18")
    expect(cold_source).to_have_text("From the WHO preset")
    assert hub.get("/api/settings").json()["preset"] == "who"

    # °F: every number on the page in °F, and what is typed goes to the hub in °C.
    page.locator(".st-seg-item", has_text="°F").click()
    expect(page.locator("#status")).to_have_text("Temperatures now show in °F.")
    expect(cold_input).to_have_value("64.4")
    expect(cold_form.locator(".st-th-unit")).to_have_text("°F")
    expect(page.locator('[data-range="uk"]')).to_have_text("60.8–68 °F")
    expect(page.locator('[data-values="who"]')).to_contain_text("Cold alert below 64.4 °F")
    page.fill("#t-cold_below_c", "62.6")
    page.press("#t-cold_below_c", "Enter")
    expect(cold_source).to_have_text("Set here")
    settings = hub.get("/api/settings").json()
    assert settings["unit"] == "F"
    assert settings["thresholds"]["cold_below_c"] == {"value_c": 17.0, "source": "dashboard"}

    page.reload()
    expect(page.locator('input[name="unit"][value="F"]')).to_be_checked()
    expect(page.locator("#t-cold_below_c")).to_have_value("62.6")
    assert tab.horizontal_overflow() <= 0
    assert_only_the_hub(tab, hub)
    assert tab.errors == []


def test_a_channel_is_added_tested_and_removed_with_errors_by_the_url(
    hub: RunningHub,
    receivers: Callable[..., Receiver],
    phone: Callable[..., Phone],
) -> None:
    receiver = receivers()
    tab = phone("dark")
    page = open_settings(tab, hub)
    add = page.locator("#add")
    url_field = add.locator('[data-field="url"]')
    expect(page.locator("#channels-empty")).to_be_visible()
    add.get_by_text("URL formats").click()
    for service in ("ntfy", "Pushover", "Telegram", "Gotify", "Email"):
        expect(add.locator(".st-formats dt", has_text=service)).to_be_visible()

    # A URL Apprise does not know: the reason next to the URL field, the URL kept.
    page.fill("#c-url", "nonsense://x")
    page.fill("#c-label", "Typo")
    add.get_by_role("button", name="Add channel").click()
    expect(url_field.locator(".st-field-error")).to_contain_text(
        "not a notification URL Apprise knows"
    )
    expect(page.locator("#c-url")).to_have_value("nonsense://x")
    expect(page.locator("#c-url")).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".st-channel")).to_have_count(0)
    assert hub.get("/api/caregivers").json()[0]["channels"] == []

    # The receiver's URL, then "Send test": it says sent, and the receiver has it.
    page.fill("#c-url", receiver.url())
    page.fill("#c-label", "My phone")
    add.get_by_role("button", name="Add channel").click()
    channel = page.locator(".st-channel", has_text="My phone")
    expect(channel).to_be_visible()
    expect(url_field.locator(".st-field-error")).to_have_count(0)
    expect(page.locator("#c-url")).to_have_value("")
    expect(channel.locator(".st-channel-shown")).not_to_contain_text(receiver.url())
    channel.get_by_role("button", name="Send test").click()
    result = channel.locator(".st-test-result")
    expect(result).to_have_attribute("data-result", "sent")
    expect(result).to_have_text("Test sent: check that it arrived.")
    assert receiver.titles() == ["Nursery monitor: test notification"]

    # A channel nobody answers on: the test says why it was not sent.
    page.fill("#c-url", "json://127.0.0.1:9/closed")
    page.fill("#c-label", "Old tablet")
    add.get_by_role("button", name="Add channel").click()
    dead = page.locator(".st-channel", has_text="Old tablet")
    dead.get_by_role("button", name="Send test").click()
    expect(dead.locator(".st-test-result")).to_have_attribute("data-result", "failed")
    expect(dead.locator(".st-test-result")).to_have_text(re.compile(r"^Not sent: .+"))

    # Remove takes a second tap, so a stray thumb does not lose a channel.
    remove = channel.get_by_role("button", name="Remove")
    remove.click()
    expect(channel.get_by_role("button", name="Tap again to remove")).to_be_visible()
    assert len(hub.get("/api/caregivers").json()[0]["channels"]) == 2
    channel.get_by_role("button", name="Tap again to remove").click()
    expect(page.locator(".st-channel")).to_have_count(1)
    expect(page.locator("#status")).to_have_text("Removed My phone.")
    labels = [c["label"] for c in hub.get("/api/caregivers").json()[0]["channels"]]
    assert labels == ["Old tablet"]
    assert tab.horizontal_overflow() <= 0
    assert_only_the_hub(tab, hub)
    assert tab.errors == []


def test_the_episode_log_shows_and_takes_fahrenheit(
    hub: RunningHub,
    monitor: Callable[[str], Monitor],
    phone: Callable[..., Phone],
) -> None:
    nursery = monitor("nursery")
    nursery.reading(19.4, 50.0, ts=datetime.now(UTC) - timedelta(seconds=60))
    wait_until(lambda: hub.get("/api/rooms").json(), what="the reading stored")
    assert hub.request("PATCH", "/api/settings", json={"unit": "F"}).status_code == 200
    started = datetime.now(UTC) - timedelta(seconds=30)
    made = hub.post(
        "/api/episodes",
        json={
            "room": "nursery",
            "started_at": started.isoformat(),
            "timed": True,
            "duration_s": 20,
            "limbs": ["left_leg"],
            "fever": True,
            "fever_c": 38.6,
        },
    )
    assert made.status_code == 201, made.text
    tab = phone()
    page = tab.open(hub)
    page.get_by_role("link", name="Episodes").click()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    item = page.locator(f'.ep-item[data-id="{made.json()["id"]}"]')
    expect(item).to_contain_text("fever 101.5 °F")
    expect(item.locator(".ep-snap")).to_contain_text("Room 66.9 °F at onset")

    item.get_by_role("button", name="Edit").click()
    expect(page.locator("#fever-unit")).to_have_text("°F")
    expect(page.locator("#f-fever-c")).to_have_value("101.5")
    page.fill("#f-fever-c", "102.2")
    page.get_by_role("button", name="Save").click()
    expect(item).to_contain_text("fever 102.2 °F")
    assert hub.get(f"/api/episodes/{made.json()['id']}").json()["fever_c"] == 39.0
    expect(page.get_by_role("link", name="Settings")).to_be_visible()
    assert tab.errors == []


# --- without a browser ------------------------------------------------------------------


def test_settings_need_a_caregiver(
    hub: RunningHub,
    phone: Callable[..., Phone],
) -> None:
    """The page is a shell; its data needs a session or a token, and a visitor without
    one is sent to sign in and brought back."""
    for path in ("/api/settings", "/api/caregivers"):
        assert httpx.get(hub.url + path, timeout=10).status_code == 401
    assert "{{" not in httpx.get(hub.url + "/settings", timeout=10).text
    page = phone().page
    page.goto(hub.url + "/settings")
    expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)settings$"))
    page.fill("#name", TEST_CAREGIVER)
    page.fill("#password", TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(hub.url + "/settings")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


class InlineCode(HTMLParser):
    """What a Content-Security-Policy without 'unsafe-inline' would block."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style>")
        self.found += [
            f"{tag} {name}=" for name in names if name == "style" or name.startswith("on")
        ]
        self.found += [
            f"{tag} {name}=javascript:"
            for name, value in attrs
            if (value or "").startswith("javascript:")
        ]


SERVED: dict[str, Callable[[], str]] = {
    "settings": lambda: channel_page("settings.html"),
    "first run": lambda: channel_page("welcome.html"),
    "dashboard": lambda: render("index.html"),
    "episodes": lambda: episodes_page("112"),
    "sign in": lambda: render_page("Sign in", "<p>x</p>"),
}


@pytest.mark.parametrize("name", SERVED)
def test_pages_hold_no_inline_script_or_style(name: str) -> None:
    """The pages as the hub serves them, their layout and shared parts included."""
    parser = InlineCode()
    parser.feed(SERVED[name]())
    assert parser.found == []


def test_settings_script_never_writes_html() -> None:
    script = (STATIC / "settings.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, f"settings.js uses {sink}"


def test_a_threshold_with_a_fixed_default_comes_from_the_preset_until_the_file_sets_it(
    tmp_path: Path,
) -> None:
    """hot_above_c always has a value (24 °C): the page says "from the preset" for it
    unless the configuration really set it."""
    default = Preferences(tmp_path / "a.db", RulesSettings(), lambda: [])
    configured = Preferences(tmp_path / "b.db", RulesSettings(hot_above_c=25.0), lambda: [])
    try:
        assert default.household().source("hot_above_c", default.base) == "preset"
        assert configured.household().source("hot_above_c", configured.base) == "config"
        assert configured.household().source("cold_below_c", configured.base) == "preset"
    finally:
        default.close()
        configured.close()
