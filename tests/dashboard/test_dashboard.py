"""The dashboard in a real browser: the real hub on a real Mosquitto, readings published
over MQTT as the firmware would, headless Chromium at phone size (390×844).

Every wait is on a condition (playwright's expect, or wait_until), never a fixed sleep.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Literal
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import (
    Route,
    expect,
)

from hub.api.pages import asset_version
from nursery.config import Settings
from tests.support import Mosquitto, RunningHub, StartHub, api_token, hub_settings, wait_until
from tests.support.alerting import open_alert, settings_for
from tests.support.browser import STATIC, Phone, assert_only_the_hub, rooms_json
from tests.support.push import Receiver
from tests.support.rooms import Monitor, TracePlayer

# --- browser, phone and monitor helpers --------------------------------------------


@pytest.fixture
def hub(tmp_path: Path, broker: Mosquitto, base_topic: str, start_hub: StartHub) -> RunningHub:
    return start_hub(hub_settings(tmp_path, broker.port, base_topic))


class AssetRefs(HTMLParser):
    """Every URL the page's HTML points at through href or src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.urls.append(value)


# --- the tests ---------------------------------------------------------------------


def test_page_loads_everything_from_the_hub_and_nothing_else(
    hub: RunningHub, monitor: Callable[[str], Monitor], phone: Callable[..., Phone]
) -> None:
    nursery = monitor("nursery")
    nursery.status("online")
    nursery.reading(19.4, 52.0)
    tab = phone()
    page = tab.open(hub)

    expect(tab.card("nursery").locator(".temp-value")).to_have_text("19.4")
    expect(tab.card("nursery").locator(".plot-temp svg")).to_have_attribute("data-points", "1")
    expect(page).to_have_title("Nursery monitor")

    hub_origin = f"127.0.0.1:{hub.port}"
    assert tab.requests, "the page made no requests at all"
    elsewhere = [url for url in tab.requests if urlsplit(url).netloc != hub_origin]
    assert elsewhere == [], f"requests to hosts other than the hub: {elsewhere}"
    assert any("/api/rooms/nursery/history?range=24h" in url for url in tab.requests)
    assert tab.errors == []
    # The page's requests go through its own module (js/api.js): the browser's fetch is
    # left alone for everything else on the page.
    assert "[native code]" in str(page.evaluate("window.fetch.toString()"))


def test_every_asset_the_page_references_is_served(hub: RunningHub) -> None:
    for private in ("/", "/episodes", "/settings"):
        stranger = httpx.get(hub.url + private, timeout=10)
        assert stranger.status_code == 303, f"{private} is shown without signing in"
        assert stranger.headers["location"] == f"/login?next={private}"
    page = hub.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    refs = AssetRefs()
    refs.feed(page.text)
    assert "{{" not in page.text, "the template left a placeholder in the page"

    manifest = hub.get("/manifest.webmanifest")
    assert manifest.status_code == 200
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    icons = [icon["src"] for icon in manifest.json()["icons"]]

    local = [url for url in refs.urls + icons if not url.startswith(("http:", "https:", "//"))]
    assert set(local) >= {"/manifest.webmanifest", "/docs", "/static/icon.svg"}
    assert any(url.startswith("/static/app.js?v=") for url in local)
    assert any(url.startswith("/static/app.css?v=") for url in local)
    assert len(local) == len(refs.urls) + len(icons), "the page links to another host"
    for path in ("/episodes", "/settings"):  # the other pages' style sheets and modules
        other = AssetRefs()
        other.feed(hub.get(path).text)
        local += [url for url in other.urls if url.startswith("/static/")]
    for url in local:
        response = httpx.get(urljoin(hub.url + "/", url), headers=hub.headers, timeout=10)
        assert response.status_code == 200, f"{url} answered {response.status_code}"
        assert response.content, f"{url} is empty"


def test_an_upgraded_module_reaches_a_phone_without_a_hard_refresh(
    hub: RunningHub, tmp_path: Path
) -> None:
    """The shared modules are imported by URLs without a hash: the browser must ask again
    on every load, and a change to one changes the hash in every page's links."""
    module = hub.get("/static/js/format.js")
    assert module.status_code == 200
    assert module.headers["cache-control"] == "no-cache"
    assert "javascript" in module.headers["content-type"]
    entry = hub.get("/static/app.js")
    assert "cache-control" not in entry.headers  # its URL carries the hash

    (tmp_path / "js").mkdir()
    (tmp_path / "app.js").write_text("import './js/dom.js';\n", encoding="utf-8")
    (tmp_path / "js" / "dom.js").write_text("export const a = 1;\n", encoding="utf-8")
    before = asset_version(["app.js"], tmp_path)
    (tmp_path / "js" / "dom.js").write_text("export const a = 2;\n", encoding="utf-8")
    assert asset_version(["app.js"], tmp_path) != before


def test_card_shows_the_reading_and_updates_without_a_reload(
    hub: RunningHub, monitor: Callable[[str], Monitor], phone: Callable[..., Phone]
) -> None:
    nursery = monitor("nursery")
    nursery.status("online")
    nursery.reading(19.4, 52.0)
    tab = phone()
    tab.open(hub)
    card = tab.card("nursery")

    expect(card.locator(".temp-value")).to_have_text("19.4")
    expect(card.locator(".humidity-value")).to_have_text("52")
    expect(card.locator(".badge")).to_have_text("Online")
    expect(card.locator(".range")).to_have_text("Within 16–20 °C")
    expect(card.locator(".seen")).to_have_text(re.compile(r"^Last heard from \d+ s ago$"))
    expect(card.locator(".alert")).to_have_count(0)
    expect(tab.page.locator("#summary")).to_have_attribute("data-state", "ok")

    nursery.reading(17.2, 55.0)
    expect(card.locator(".temp-value")).to_have_text("17.2")
    expect(card.locator(".humidity-value")).to_have_text("55")
    expect(card.locator(".plot-temp svg")).to_have_attribute("data-points", "2")
    assert tab.still_same_document(), "the page reloaded to show the new reading"
    assert any("since=" in url for url in tab.requests), "new points were not fetched by since="
    assert tab.errors == []


def test_chart_draws_the_day_and_appends_new_points(
    hub: RunningHub, monitor: Callable[[str], Monitor], phone: Callable[..., Phone]
) -> None:
    nursery = monitor("nursery")
    now = datetime.now(UTC)
    for minutes_ago, temperature in [(40, 20.1), (30, 19.6), (20, 19.0), (10, 18.4), (1, 18.1)]:
        nursery.reading(temperature, 50.0, ts=now - timedelta(minutes=minutes_ago))
    # A reading from two days ago is outside the chart's 24 hours.
    nursery.reading(22.0, 40.0, ts=now - timedelta(days=2))
    tab = phone()
    tab.open(hub)
    card = tab.card("nursery")

    temp_chart = card.locator(".plot-temp svg")
    expect(temp_chart).to_have_attribute("data-points", "5")
    expect(temp_chart.locator("rect.band")).to_have_count(1)
    path = temp_chart.locator("path.line").get_attribute("d") or ""
    assert len(re.findall(r"[ML]", path)) == 5
    expect(card.locator(".plot-humidity svg")).to_have_attribute("data-points", "5")
    expect(card.locator(".caption")).to_contain_text("16–20 °C")

    nursery.reading(17.9, 51.0)
    expect(temp_chart).to_have_attribute("data-points", "6")
    assert tab.still_same_document()
    assert tab.errors == []


def test_offline_monitor_says_so(
    hub: RunningHub, monitor: Callable[[str], Monitor], phone: Callable[..., Phone]
) -> None:
    nursery = monitor("nursery")
    nursery.reading(18.5, 50.0)
    nursery.status("offline")
    monitor("landing").status("offline")  # its monitor never sent a reading
    wait_until(
        lambda: [room["status"] for room in rooms_json(hub)] == ["offline", "offline"],
        what="the hub to record both offline statuses",
    )
    tab = phone()
    tab.open(hub)
    card = tab.card("nursery")

    expect(card.locator(".badge")).to_have_text("Offline")
    expect(card.locator('.alert[data-alert="offline"]')).to_contain_text("Monitor offline")
    expect(card).to_have_attribute("data-state", "alert")
    expect(tab.page.locator("#summary")).to_have_attribute("data-state", "alert")
    expect(tab.page.locator("#summary")).to_have_text("2 rooms need checking")

    landing = tab.card("landing")
    expect(landing.locator(".badge")).to_have_text("Offline")
    expect(landing.locator('.alert[data-alert="stale"]')).to_have_text(
        "No reading received yet — room temperature unknown"
    )
    expect(landing.locator(".temp-value")).to_have_text("–")
    expect(landing.locator(".seen")).to_have_text("Not heard from yet")
    assert tab.horizontal_overflow() <= 0
    assert tab.errors == []


def test_silent_sensor_shows_temperature_unknown_not_the_old_value(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    start_hub: StartHub,
    monitor: Callable[[str], Monitor],
    phone: Callable[..., Phone],
) -> None:
    hub = start_hub(hub_settings(tmp_path, broker.port, base_topic, rules={"stale_after_s": 1}))
    nursery = monitor("nursery")
    nursery.status("online")
    nursery.reading(18.6, 49.0)
    wait_until(
        lambda: rooms_json(hub) and rooms_json(hub)[0]["stale"] is True,
        what="the room to go stale",
    )
    tab = phone()
    tab.open(hub)
    card = tab.card("nursery")

    expect(card.locator('.alert[data-alert="stale"]')).to_have_text(
        re.compile(r"^No reading for \d+ (s|min) — room temperature unknown$")
    )
    # The old value stays visible, labelled as the last known one, never as current.
    expect(card.locator(".temp")).to_have_class(re.compile(r"\bis-stale\b"))
    expect(card.locator(".temp-label")).to_contain_text("Last known")
    expect(card.locator(".temp-value")).to_have_text("18.6")
    expect(card.locator(".range")).to_be_hidden()
    expect(card).to_have_attribute("data-state", "alert")
    summary = tab.page.locator("#summary")
    expect(summary).to_have_attribute("data-state", "alert")
    expect(summary).to_have_text("Nursery: no current reading")
    assert tab.errors == []


def test_sensor_fault_is_shown_as_text_never_as_html(
    hub: RunningHub, monitor: Callable[[str], Monitor], phone: Callable[..., Phone]
) -> None:
    nursery = monitor("nursery")
    nursery.status("online")
    nursery.reading(19.0, 50.0, ts=datetime.now(UTC) - timedelta(seconds=20))
    error = '<img src="x" onerror="window.__pwned = 1">checksum did not validate'
    nursery.fault(error, ts=datetime.now(UTC))
    tab = phone()
    tab.open(hub)
    card = tab.card("nursery")

    expect(card.locator('.alert[data-alert="fault"]')).to_have_text(f"Sensor fault: {error}")
    expect(card.locator(".alerts img")).to_have_count(0)
    expect(tab.page.locator("#summary")).to_have_attribute("data-state", "warn")
    assert tab.page.evaluate("window.__pwned") is None
    assert tab.errors == []


def test_script_never_writes_html() -> None:
    scripts = [path for path in STATIC.rglob("*.js") if "vendor" not in path.parts]
    assert STATIC / "app.js" in scripts and STATIC / "js" / "dom.js" in scripts
    for path in scripts:
        script = path.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in script, f"{path.name} uses {sink}"


def test_no_horizontal_scroll_at_phone_width(
    hub: RunningHub, monitor: Callable[[str], Monitor], phone: Callable[..., Phone]
) -> None:
    long_room = monitor("a" * 63)  # the longest room name the contract allows
    long_room.status("offline")
    long_room.reading(23.5, 99.0, ts=datetime.now(UTC) - timedelta(seconds=30))
    long_room.fault("x" * 200, ts=datetime.now(UTC))
    nursery = monitor("nursery")
    nursery.reading(16.9, 41.0)
    tab = phone()
    tab.open(hub)

    expect(tab.page.locator(".room")).to_have_count(2)
    expect(tab.card("a" * 63).locator(".alert")).to_have_count(2)
    expect(tab.card("nursery").locator(".plot-temp svg")).to_have_attribute("data-points", "1")
    assert tab.horizontal_overflow() <= 0


def test_empty_state_before_any_monitor_reports(
    hub: RunningHub, phone: Callable[..., Phone]
) -> None:
    tab = phone()
    page = tab.open(hub)

    expect(page.get_by_text("Waiting for the first reading from the monitor…")).to_be_visible()
    expect(page.locator("#summary")).to_have_text("Hub connected · no monitor yet")
    expect(page.locator(".room")).to_have_count(0)
    assert tab.horizontal_overflow() <= 0
    assert tab.errors == []


def test_unreachable_hub_is_announced(
    hub: RunningHub, monitor: Callable[[str], Monitor], phone: Callable[..., Phone]
) -> None:
    monitor("nursery").reading(19.1, 50.0)
    tab = phone()
    page = tab.open(hub)
    expect(tab.card("nursery").locator(".temp-value")).to_have_text("19.1")

    hub.stop()
    summary = page.locator("#summary")
    expect(summary).to_have_attribute("data-state", "alert")
    expect(summary).to_contain_text("Can't reach the hub")
    expect(page.locator("body")).to_have_class(re.compile(r"\bhub-unreachable\b"))


def test_dark_scheme_follows_the_phone(hub: RunningHub, phone: Callable[..., Phone]) -> None:
    def background(scheme: Literal["light", "dark"]) -> list[int]:
        page = phone(scheme).open(hub)
        color = str(page.evaluate("getComputedStyle(document.body).backgroundColor"))
        return [int(part) for part in re.findall(r"\d+", color)[:3]]

    assert sum(background("dark")) < 120 < sum(background("light"))


def test_api_docs_work_offline(hub: RunningHub, phone: Callable[..., Phone]) -> None:
    """/docs renders from the hub's own copy of Swagger UI: a nursery Pi has no internet."""
    tab = phone()
    tab.page.goto(hub.url + "/docs")
    expect(tab.page.locator(".swagger-ui .info .title")).to_contain_text("nursery-monitor hub")
    expect(tab.page.locator("#operations-rooms-list_rooms_api_rooms_get")).to_be_visible()
    hub_origin = f"127.0.0.1:{hub.port}"
    elsewhere = [url for url in tab.requests if urlsplit(url).netloc != hub_origin]
    assert elsewhere == [], f"/docs reached outside the hub: {elsewhere}"


# --- the hub's alerts on the page -----------------------------------------------------
#
# A cold incident end to end: a TracePlayer publishing as the firmware does, the hub with
# the shortened durations of tests/hub/monitor/test_alerting.py (FAST_RULES: cold after
# 0.3 s, no cool band, no fast drop), and a local push receiver.

Players = Callable[[Settings], TracePlayer]
# Each part keeps its words together (no-break spaces); lines break only between parts.
COLD_DETAIL = re.compile(r"^15\.0\s°C · below\s16\.0\s°C · for\s\d+\s(s|min)$")


def test_cold_alert_on_the_card_and_i_am_on_it_acknowledges(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    receivers: Callable[..., Receiver],
    start_hub: StartHub,
    players: Players,
    phone: Callable[..., Phone],
) -> None:
    settings = settings_for(tmp_path, broker, base_topic, receivers())
    hub = start_hub(settings)
    room = players(settings)
    tab = phone()
    page = tab.open(hub)
    card = tab.card("nursery")
    summary = page.locator("#summary")
    expect(card.locator(".temp-value")).to_have_text("19.0")
    recent = page.locator("#recent")
    recent.locator("summary").click()
    expect(recent.locator(".recent-empty")).to_have_text("No alerts in the last 24 hours.")

    room.level = 15.0
    row = card.locator('.incident[data-condition="cold"]')
    expect(row.locator(".incident-title")).to_have_text("Room is cold")
    expect(row.locator(".incident-detail")).to_have_text(COLD_DETAIL)
    expect(row).to_have_attribute("data-severity", "alert")
    expect(row).to_have_attribute("data-state", "open")
    ack = row.get_by_role("button", name="I'm on it", exact=True)
    snooze = row.get_by_role("button", name="Snooze 30 min", exact=True)
    expect(ack).to_be_visible()
    expect(snooze).to_be_visible()
    expect(card).to_have_attribute("data-state", "alert")
    expect(summary).to_have_text("Nursery: room is cold")
    expect(summary).to_have_attribute("data-state", "alert")
    expect(page.locator("#delivery")).to_be_hidden()
    expect(recent.locator(".recent-item")).to_have_count(1)
    assert tab.horizontal_overflow() <= 0

    # A press that fails says so in the row and leaves the buttons usable.
    page.route(
        "**/api/alerts/*/ack", lambda route: route.fulfill(status=503, json={"detail": "busy"})
    )
    ack.click()
    expect(row.locator(".incident-error")).to_have_text(
        "Couldn't send “I'm on it”: the hub said: busy. Please try again."
    )
    expect(ack).to_be_enabled()
    assert open_alert(hub, "cold")["state"] == "open"
    page.unroute("**/api/alerts/*/ack")

    # Hold the next press, and every poll, to see the buttons wait and the answer alone
    # update the row.
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route("**/api/alerts/*/ack", hold)
    page.route("**/api/alerts", hold)
    ack.click()
    expect(ack).to_be_disabled()
    expect(snooze).to_be_disabled()
    expect(row.locator(".incident-error")).to_be_hidden()
    wait_until(
        lambda: any(r.request.method == "POST" for r in held) or page.evaluate("false"),
        what="the held acknowledgement",
    )
    press = next(r for r in held if r.request.method == "POST")
    assert press.request.post_data_json == {"via": "dashboard"}
    assert press.request.headers["x-csrf-token"], "a change without the session's CSRF token"
    press.continue_()
    status = row.locator(".incident-status")
    expect(status).to_have_text(re.compile(r"^Acknowledged by tester at \d{1,2}:\d{2}"))
    expect(row).to_have_attribute("data-state", "acknowledged")
    expect(ack).to_be_hidden()
    expect(snooze).to_be_hidden()
    page.unroute("**/api/alerts")
    for route in held:
        if route is not press:
            with contextlib.suppress(PlaywrightError):  # the page may have given up on it
                route.continue_()

    acked = open_alert(hub, "cold")
    assert acked["state"] == "acknowledged"
    assert acked["acknowledged_by"] == "tester"  # the signed-in caregiver
    assert acked["acknowledged_via"] == "dashboard"
    expect(summary).to_have_text("Nursery: room is cold · acknowledged")
    expect(recent.locator(".recent-who")).to_have_text(
        re.compile(r"^Acknowledged by tester at \d{1,2}:\d{2}")
    )
    expect(status).to_have_text(re.compile(r"^Acknowledged by tester"))  # polls agree
    assert tab.horizontal_overflow() <= 0
    assert_only_the_hub(tab, hub)
    assert tab.errors == []


def test_snooze_then_warming_clears_the_row_and_the_list_keeps_it(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    receivers: Callable[..., Receiver],
    start_hub: StartHub,
    players: Players,
    phone: Callable[..., Phone],
) -> None:
    settings = settings_for(tmp_path, broker, base_topic, receivers())
    hub = start_hub(settings)
    room = players(settings)
    room.level = 15.0
    wait_until(lambda: _has_open(hub, "cold"), what="an open cold alert")
    tab = phone("dark")
    page = tab.open(hub)
    card = tab.card("nursery")
    row = card.locator('.incident[data-condition="cold"]')

    row.get_by_role("button", name="Snooze 30 min", exact=True).click()
    expect(row.locator(".incident-status")).to_have_text(
        re.compile(r"^Snoozed until \d{1,2}:\d{2}")
    )
    expect(row).to_have_attribute("data-state", "snoozed")
    expect(row.get_by_role("button")).to_have_count(0)
    snoozed = open_alert(hub, "cold")
    assert snoozed["state"] == "snoozed"
    assert snoozed["acknowledged_by"] == "tester"
    left = datetime.fromisoformat(snoozed["snoozed_until"]) - datetime.now(UTC)
    assert timedelta(minutes=29) < left <= timedelta(minutes=30)
    expect(page.locator("#summary")).to_have_text("Nursery: room is cold · snoozed")

    room.level = 17.0
    expect(card.locator(".incident")).to_have_count(0)
    expect(card).not_to_have_attribute("data-state", "alert")
    expect(page.locator("#summary")).to_have_text("Monitor reporting")
    recent = page.locator("#recent")
    expect(recent.locator(".recent-title")).to_have_text("Alerts in the last 24 h")
    expect(recent.locator(".recent-count")).to_have_text("1")
    recent.locator("summary").click()
    item = recent.locator(f'.recent-item[data-id="{snoozed["id"]}"]')
    expect(item).to_be_visible()
    expect(item).to_have_attribute("data-state", "resolved")
    expect(item.locator(".recent-label")).to_have_text("Room is cold")
    expect(item.locator(".recent-room")).to_have_text("Nursery")
    expect(item.locator(".recent-when")).to_have_text(
        re.compile(r"^Opened \d{1,2}:\d{2}.* · Resolved \d{1,2}:\d{2}")
    )
    expect(item.locator(".recent-who")).to_have_text("Snoozed by tester")
    assert all(a["state"] == "resolved" for a in hub.get("/api/alerts").json())
    assert tab.horizontal_overflow() <= 0
    assert_only_the_hub(tab, hub)
    assert tab.errors == []


def _has_open(hub: RunningHub, condition: str) -> bool:
    return any(
        a["condition"] == condition and a["state"] != "resolved"
        for a in hub.get("/api/alerts").json()
    )


@pytest.mark.slow
def test_failing_pushes_show_a_banner_and_alerts_still_show(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    receivers: Callable[..., Receiver],
    start_hub: StartHub,
    players: Players,
    phone: Callable[..., Phone],
) -> None:
    long_room = "a" * 63  # the longest room name the contract allows
    receiver = receivers(fail_times=1000)
    settings = settings_for(tmp_path, broker, base_topic, receiver, firmware={"room": long_room})
    hub = start_hub(settings)
    room = players(settings)
    tab = phone()
    page = tab.open(hub)
    expect(tab.card(long_room).locator(".temp-value")).to_have_text("19.0")
    banner = page.locator("#delivery")
    expect(banner).to_be_hidden()

    room.level = 15.0
    health = wait_until(
        lambda: (h := hub.get("/healthz").json())["notifications"]["failing"] and h,
        what="the failing push on /healthz",
    )
    last_error = health["notifications"]["last_error"]
    assert last_error
    expect(banner).to_be_visible()
    expect(page.locator("#delivery-text")).to_have_text(
        re.compile(r"^Phone alerts are failing: .+ — retrying\. Alerts still show here\.$")
    )
    row = tab.card(long_room).locator('.incident[data-condition="cold"]')
    expect(row.get_by_role("button", name="I'm on it", exact=True)).to_be_visible()
    assert receiver.titles() == []
    assert tab.horizontal_overflow() <= 0

    # Whoever answered, from wherever, is named on every phone.
    who = "Sam O'Neil"
    cold = open_alert(hub, "cold")
    answer = hub.post(
        f"/api/alerts/{cold['id']}/ack",
        headers={"Authorization": f"Bearer {api_token(hub.settings.hub.db, who)}"},
    )
    assert answer.status_code == 200, answer.text
    expect(row.locator(".incident-status")).to_have_text(
        re.compile(rf"^Acknowledged by {re.escape(who)} at ")
    )
    expect(page.locator("main img, #recent img")).to_have_count(0)
    assert page.evaluate("window.__pwned") is None
    assert tab.horizontal_overflow() <= 0
    assert_only_the_hub(tab, hub)
    assert tab.errors == []
