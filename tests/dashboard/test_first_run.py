"""The first run on a phone, in Debian's headless Chromium with the real hub on a real
Mosquitto and a local ntfy-compatible server: account, name the room, "Add this phone" (the
QR code read back as a camera would), a test push that arrives, "Did it arrive? Yes", banner
gone. And a caregiver's phone that stops getting pushes: red on the dashboard and in
`nursery status`, and the other caregiver told once."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Page, expect

from hub.api.phone_setup import caregiver_channels
from hub.messages import channels as words
from nursery.status_command import check_database
from tests.support import Mosquitto, RunningHub, hub_settings, login
from tests.support.browser import Phone
from tests.support.hub import TEST_PASSWORD, api_token
from tests.support.ntfy import NtfyServer
from tests.support.rooms import SteadyRoom
from tests.support.wait import wait_until

TEST_TITLE = "Nursery monitor: test notification"


@pytest.fixture
def ntfy() -> Iterator[NtfyServer]:
    server = NtfyServer()
    yield server
    server.stop()


def subscribed(link: str) -> list[dict[str, object]]:
    """What a phone subscribed through `link` reads: ntfy's poll of the topic."""
    answer = httpx.get(link + "/json", params={"poll": "1"}, timeout=5)
    answer.raise_for_status()
    import json

    return [json.loads(line) for line in answer.text.splitlines() if line]


def read_qr(page: Page) -> str:
    """The QR code as the page shows it, read from a screenshot as a phone's camera would."""
    expect(page.locator("#qr")).to_be_visible()
    qr = page.locator("#qr")
    wait_until(lambda: qr.evaluate("img => img.complete && img.naturalWidth > 0"), what="the QR")
    shot = Image.open(io.BytesIO(qr.screenshot()))
    codes = zxingcpp.read_barcodes(shot)
    assert len(codes) == 1, "no QR code could be read from the page"
    return str(codes[0].text)


def dashboard_status_applied(page: Page, url: str) -> None:
    """Open the dashboard and wait until it has applied the hub's phone status."""
    with page.expect_response(lambda r: "/api/notify/status" in r.url and r.ok):
        page.goto(url + "/")


def test_first_run_adds_this_phone_by_qr_and_the_test_push_arrives(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    phone: Callable[..., Phone],
    ntfy: NtfyServer,
    steady_rooms: Callable[..., SteadyRoom],
) -> None:
    settings = hub_settings(tmp_path, broker.port, base_topic, notify={"ntfy_server": ntfy.url})
    hub = RunningHub(settings, with_caregiver=False)
    try:
        steady_rooms(settings)  # the monitor in the nursery, already on
        wait_until(lambda: hub.app.state.hub.store.room("nursery"), what="the room on the hub")
        tab = phone()
        page = tab.page
        page.goto(hub.url + "/setup")
        page.fill("#name", "Alex")
        page.fill("#password", TEST_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(hub.url + "/welcome")

        # No tested phone yet: the dashboard says so, and its banner leads here.
        dashboard_status_applied(page, hub.url)
        banner = page.locator("#no-phone")
        expect(banner).to_be_visible()
        expect(page.locator("#no-phone-text")).to_have_text(words.NO_PHONE_BANNER)
        banner.click()
        page.wait_for_url(hub.url + "/welcome")

        page.fill("#room-0", "Leo's room")
        page.click("#room-form button[type=submit]")
        expect(page.locator("#room-saved")).to_have_text(words.ROOM_SAVED)

        page.click("#add-ntfy")
        link = read_qr(page)
        expect(page.locator("#subscribe")).to_have_text(link)
        assert link.startswith(ntfy.url + "/nursery-")
        topic = link.rsplit("/", 1)[1]
        assert len(topic) >= len("nursery-") + 32  # 192 random bits
        expect(page.locator("#manual-2")).to_contain_text(topic)
        assert page.locator("#app-link").get_attribute("href") == (
            f"ntfy://127.0.0.1:{ntfy.port}/{topic}?secure=false"
        )
        before = len(subscribed(link))  # the hub's own try at once, when the topic was made

        page.click("#send-test")
        expect(page.locator("#test-result")).to_have_text(words.TEST_SENT)
        wait_until(lambda: len(subscribed(link)) == before + 1, what="the test push on the phone")
        assert subscribed(link)[-1]["title"] == TEST_TITLE

        expect(page.locator("#arrived")).to_contain_text(words.ARRIVED_QUESTION)
        page.click("#arrived-yes")
        expect(page.locator("#arrived-answer")).to_have_text(words.ARRIVED_THANKS)
        with page.expect_response(lambda r: "/api/notify/status" in r.url and r.ok):
            page.click("text=Go to the rooms")
        expect(page.locator("#no-phone")).to_be_hidden()
        expect(tab.card("nursery").locator(".room-name")).to_have_text("Leo's room")
        assert tab.errors == []
        assert tab.horizontal_overflow() <= 0
    finally:
        hub.stop()


def test_a_test_push_that_did_not_arrive_keeps_the_banner(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    phone: Callable[..., Phone],
    ntfy: NtfyServer,
) -> None:
    settings = hub_settings(tmp_path, broker.port, base_topic, notify={"ntfy_server": ntfy.url})
    hub = RunningHub(settings)
    try:
        page = phone().open(hub)
        page.goto(hub.url + "/welcome")
        page.click("#add-ntfy")
        page.click("#send-test")
        page.click("#arrived-no")
        expect(page.locator("#arrived-answer")).to_have_text(words.HELP_NOT_ARRIVED)
        dashboard_status_applied(page, hub.url)
        expect(page.locator("#no-phone")).to_be_visible()
    finally:
        hub.stop()


def test_a_phone_that_stops_getting_pushes_is_red_and_the_others_are_told_once(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    phone: Callable[..., Phone],
    ntfy: NtfyServer,
) -> None:
    settings = hub_settings(
        tmp_path,
        broker.port,
        base_topic,
        notify={"ntfy_server": ntfy.url, "channel_failing_after_s": 0},
    )
    sam = {"Authorization": f"Bearer {api_token(settings.hub.db, 'Sam')}"}
    alex = {"Authorization": f"Bearer {api_token(settings.hub.db, 'Alex')}"}
    hub = RunningHub(settings)
    try:
        added = {
            who: hub.post("/api/caregivers/me/channels/ntfy", headers=headers).json()
            for who, headers in (("sam", sam), ("alex", alex))
        }
        sam_link, alex_channel = added["sam"]["subscribe_url"], added["alex"]
        ntfy.failing.add(alex_channel["topic"])
        test = f"/api/caregivers/me/channels/{alex_channel['id']}/test"

        result = hub.post(test, headers=alex).json()
        assert result["sent"] is False

        def told() -> list[dict[str, object]]:
            return [m for m in subscribed(sam_link) if m["title"] != TEST_TITLE]

        context = hub.app.state.hub
        try:
            wait_until(lambda: told(), timeout=30, what="Sam told about Alex's phone")
        except AssertionError:
            urls = [c.url for c in caregiver_channels(context)]
            raise AssertionError(
                f"not told; channels {context.channel_health.states(urls)}; "
                f"published {ntfy.published}; dispatcher {context.dispatcher.health()}"
            ) from None
        (message,) = told()
        assert message["title"] == "Alex's phone is not getting alerts"
        assert "Alex's phone has not received pushes since" in str(message["message"])

        # Failing again: nobody is told twice.
        assert hub.post(test, headers=alex).json()["sent"] is False
        watch = context.channel_watch
        assert watch.check(datetime.now(UTC)).tell == []
        assert len(told()) == 1

        # Red on the dashboard, for Sam.
        page = phone().page
        login(page, hub.url, "Sam")
        down = page.locator("#channels-down")
        expect(down).to_be_visible()
        expect(down).to_contain_text("Alex's phone has not received pushes since")
        assert down.evaluate("e => getComputedStyle(e).color") == "rgb(179, 38, 30)"

        # Red on Alex's own settings page, too.
        mine = phone().page
        login(mine, hub.url, "Alex")
        mine.goto(hub.url + "/settings")
        failing = mine.locator('.st-channel[data-state="failing"]')
        expect(failing).to_contain_text("Your phone has not received pushes since")

        # And in `nursery status`.
        lines = {line.part: line for line in check_database(settings, datetime.now(UTC))}
        line = lines["phone Alex's phone"]
        assert not line.ok and "has not received pushes since" in line.text
        assert lines["phone Sam's phone"].ok

        # Working again: no longer red.
        ntfy.failing.clear()
        assert hub.post(test, headers=alex).json()["sent"] is True
        expect(down).to_be_hidden()
        lines = {line.part: line for line in check_database(settings, datetime.now(UTC))}
        assert lines["phone Alex's phone"].ok
    finally:
        hub.stop()
