"""The episode log in a real browser: the real hub on a real Mosquitto, headless Chromium
at phone size, signed in as a parent. Every wait is on a condition, never a fixed sleep."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import paho.mqtt.client as mqtt
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from contract.episode_events import EpisodeEventMessage
from contract.topics import episode_topic
from hub.episodes.doctor_card import emergency_text
from tests.support import (
    TEST_CAREGIVER,
    TEST_PASSWORD,
    Mosquitto,
    RunningHub,
    StartHub,
    hub_settings,
    login,
)
from tests.support.episodes import cooled_hub

PHONE: ViewportSize = {"width": 390, "height": 844}
ROOM = "nursery"
EMERGENCY = emergency_text("112")

expect.set_options(timeout=15_000)


@pytest.fixture
def hub(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    mqtt_client: mqtt.Client,
    start_hub: StartHub,
) -> RunningHub:
    """A hub whose nursery cooled from 18 °C to 15 °C over the last hour."""
    return cooled_hub(
        start_hub(hub_settings(tmp_path, broker.port, base_topic)), mqtt_client, base_topic
    )


class Tab:
    def __init__(self, browser: Browser, scheme: Literal["light", "dark"]) -> None:
        self.context = browser.new_context(
            viewport=PHONE, color_scheme=scheme, accept_downloads=True, has_touch=True
        )
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.url))

    def open(self, hub: RunningHub) -> Page:
        login(self.page, hub.url)
        self.page.goto(hub.url + "/episodes")
        expect(self.page.locator("body")).to_have_attribute("data-ready", "true")
        return self.page


@pytest.fixture
def tab(browser: Browser) -> Iterator[Callable[..., Tab]]:
    tabs: list[Tab] = []

    def open_tab(scheme: Literal["light", "dark"] = "light") -> Tab:
        tabs.append(Tab(browser, scheme))
        return tabs[-1]

    yield open_tab
    for item in tabs:
        item.context.close()


@pytest.mark.slow
def test_episode_now_stop_form_card_report_and_csv(
    hub: RunningHub, tab: Callable[..., Tab], tmp_path: Path
) -> None:
    phone = tab()
    page = phone.open(hub)
    expect(page.locator("#card")).to_be_hidden()

    page.get_by_role("button", name="Episode now").tap()
    expect(page.locator("#watch")).to_be_visible()
    expect(page.locator("#clock")).to_have_text(re.compile(r"^0:0[1-9]$"))  # it is counting
    page.get_by_role("button", name="Stop").tap()

    form = page.locator("#form")
    expect(form).to_be_visible()
    expect(page.locator("#form-title")).to_have_text("What did you see?")
    expect(page.locator("#timing")).to_be_hidden()  # the stopwatch gave the times
    form.get_by_label("Whole body").check()
    form.get_by_label("No", exact=True).check()
    form.get_by_label("Asleep").check()
    form.get_by_label("Fever").check()
    page.fill("#f-fever-c", "38.6")
    page.fill("#f-notes", "arched and stiff, then cried")
    page.get_by_role("button", name="Save").tap()
    expect(form).to_be_hidden()

    # Not alert and responsive: an emergency. The emergency sentence is the card's heading,
    # the number a call link, and the page shows the heading and the reasons, not just a
    # bare call button where the form was.
    card = page.locator("#card")
    expect(card).to_have_attribute("data-urgency", "emergency")
    title = page.locator("#card-title")
    expect(title).to_have_text(EMERGENCY)
    expect(title.locator('a[href="tel:112"]')).to_have_text("112")
    expect(title).to_be_in_viewport(ratio=1)
    expect(page.locator("#card-reasons li").first).to_be_in_viewport(ratio=1)
    expect(page.locator("#card-reasons li").first).to_have_text(
        "Your baby was not alert and responsive during an episode."
    )
    expect(card).to_contain_text("An episode involved the whole body.")
    expect(card).to_contain_text("An episode came with a fever.")
    expect(page.locator("#card-call")).to_have_attribute("href", "tel:112")
    expect(page.locator("#card-call")).to_be_in_viewport()
    # One sentence for the emergency: the heading, the page's footer and the report.
    expect(page.locator("#emergency-foot")).to_have_text(EMERGENCY)

    item = page.locator(".ep-item").first
    expect(item).to_contain_text("whole body")
    expect(item).to_contain_text("fever 38.6 °C")
    expect(item).to_contain_text("at onset")  # the room snapshot
    expect(page.locator("#per-day .ep-day-count").last).to_have_text("1")
    expect(page.locator("#caveat")).to_contain_text("A pattern is not a cause")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    episode_id = item.get_attribute("data-id")

    with page.expect_download() as download:
        page.locator("#r-csv").click()
    saved = tmp_path / "episodes.csv"
    download.value.save_as(saved)
    (row,) = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert row["limb_whole_body"] == "yes" and row["fever_c"] == "38.6"
    assert row["alert_and_responsive"] == "no" and row["state"] == "asleep"

    page.locator("#r-page").click()
    expect(page).to_have_url(re.compile(r"/api/episodes/report\?since="))
    expect(page.locator("h1")).to_have_text("Episode log for the pediatrician")
    table = page.locator(".episodes-table")
    expect(table).to_contain_text("whole body")
    expect(table).to_contain_text("fever 38.6 °C")
    expect(table).to_contain_text("arched and stiff, then cried")
    expect(page.locator("body")).to_contain_text("A pattern is not a cause")
    expect(page.locator(".report-emergency")).to_have_text(EMERGENCY)
    expect(page.locator(".report-emergency a")).to_have_attribute("href", "tel:112")

    # The dashboard's temperature chart marks the episode.
    page.goto(hub.url + "/")
    room = page.locator(f'.room[data-room="{ROOM}"]')
    expect(room.locator(f'.episode-mark[data-id="{episode_id}"]')).to_have_count(1)
    expect(room.locator(".key-episode")).to_be_visible()
    assert phone.errors == []
    assert all(url.startswith(hub.url) for url in phone.requests), "nothing from outside"


def test_a_past_episode_names_a_bad_field_then_saves_edits_and_deletes_with_undo(
    hub: RunningHub, tab: Callable[..., Tab]
) -> None:
    phone = tab("dark")
    page = phone.open(hub)
    page.get_by_role("button", name="Log an earlier episode").tap()
    expect(page.locator("#form-title")).to_have_text("An earlier episode")
    future = datetime.now() + timedelta(hours=2)  # the browser's local time
    page.fill("#f-start", future.strftime("%Y-%m-%dT%H:%M:%S"))
    page.locator("#form").get_by_label("Left leg").check()
    page.get_by_role("button", name="Save").tap()
    error = page.locator('.ep-field-error[data-for="started_at"]')
    expect(error).to_have_text("That time has not come yet: check the date and the time.")
    expect(page.locator("#form")).to_be_visible()  # nothing the parent typed is lost
    expect(page.locator("#form").get_by_label("Left leg")).to_be_checked()

    earlier = datetime.now() - timedelta(minutes=30)
    page.fill("#f-start", earlier.strftime("%Y-%m-%dT%H:%M:%S"))
    page.fill("#f-min", "0")
    page.fill("#f-sec", "12")
    page.get_by_role("button", name="Save").tap()
    item = page.locator(".ep-item").first
    expect(item).to_contain_text("left leg")
    expect(item.locator(".ep-lasted")).to_have_text("12 s")
    expect(page.locator("#card")).to_be_hidden()

    item.get_by_role("button", name="Edit").tap()
    page.fill("#f-sec", "40")
    page.get_by_role("button", name="Save").tap()
    expect(page.locator(".ep-item .ep-lasted").first).to_have_text("40 s")
    # A length to the second, as the report says it (the dashboard's "for 1 min" is an age).
    page.locator(".ep-item").first.get_by_role("button", name="Edit").tap()
    page.fill("#f-min", "1")
    page.fill("#f-sec", "20")
    page.get_by_role("button", name="Save").tap()
    expect(page.locator(".ep-item .ep-lasted").first).to_have_text("1 min 20 s")

    page.locator(".ep-item").first.get_by_role("button", name="Delete").tap()
    expect(page.locator("#toast")).to_be_visible()
    expect(page.locator(".ep-item")).to_have_count(0)
    page.get_by_role("button", name="Undo").tap()
    expect(page.locator(".ep-item")).to_have_count(1)
    expect(page.locator("#toast")).to_be_hidden()
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(11, 14, 19)"  # app.css's dark background
    assert phone.errors == []


def test_without_a_session_the_page_sends_the_parent_to_sign_in(
    hub: RunningHub, tab: Callable[..., Tab]
) -> None:
    page = tab().page
    page.goto(hub.url + "/episodes")
    expect(page).to_have_url(re.compile(r"/login\?next=(%2F|/)episodes$"))
    login_form = page.locator("#password")
    expect(login_form).to_be_visible()
    page.fill("#name", TEST_CAREGIVER)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(hub.url + "/episodes")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


@pytest.mark.slow
def test_the_pi_button_starts_the_stopwatch_on_the_phone(
    hub: RunningHub, tab: Callable[..., Tab], mqtt_client: mqtt.Client, base_topic: str
) -> None:
    page = tab().open(hub)
    expect(page.locator("#watch")).to_be_hidden()
    event = EpisodeEventMessage(ROOM, str(uuid.uuid4()), "start", datetime.now(UTC))
    mqtt_client.publish(episode_topic(base_topic, ROOM), event.encode(), qos=1).wait_for_publish(5)
    expect(page.locator("#watch")).to_be_visible()
    page.get_by_role("button", name="Stop").tap()
    expect(page.locator("#form-title")).to_have_text("What did you see?")
    page.locator("#form").get_by_label("Right leg").check()
    page.get_by_role("button", name="Save").tap()
    expect(page.locator(".ep-item").first).to_contain_text("right leg")


def test_after_saving_warning_signs_the_page_shows_the_cards_heading_and_reasons(
    hub: RunningHub, tab: Callable[..., Tab]
) -> None:
    """The form sits below the card: once it closes, the new card must come into view from
    its heading, not leave the parent looking at a bare call button."""
    page = tab().open(hub)
    page.get_by_role("button", name="Episode now").tap()
    expect(page.locator("#watch")).to_be_visible()
    page.get_by_role("button", name="Stop").tap()
    form = page.locator("#form")
    expect(form).to_be_in_viewport()
    # The form's own scroll has finished: the parent is looking at the form.
    expect(page.locator("#form-title")).to_be_in_viewport(ratio=1)
    form.get_by_label("Left leg").check()
    form.get_by_label("Floppy or limp").check()
    page.get_by_role("button", name="Save").tap()
    expect(form).to_be_hidden()
    expect(page.locator("#card")).to_have_attribute("data-urgency", "emergency")
    expect(page.locator("#card-reasons li")).to_have_text(
        ["Your baby was floppy during an episode."]
    )
    expect(page.locator(".ep-item").first.locator(".ep-facts")).to_contain_text("floppy")
    expect(page.locator("#card-title")).to_be_in_viewport(ratio=1)
    expect(page.locator("#card-reasons li").first).to_be_in_viewport(ratio=1)
    expect(page.locator("#card-call")).to_be_in_viewport(ratio=1)


def test_vomiting_asks_to_call_the_pediatrician_now_and_brings_the_card_into_view(
    hub: RunningHub, tab: Callable[..., Tab]
) -> None:
    page = tab().open(hub)
    page.get_by_role("button", name="Log an earlier episode").tap()
    earlier = datetime.now() - timedelta(minutes=40)  # the browser's local time
    page.fill("#f-start", earlier.strftime("%Y-%m-%dT%H:%M:%S"))
    page.locator("#form").get_by_label("Left leg").check()
    page.locator("#form").get_by_label("Vomiting").check()
    page.get_by_role("button", name="Save").tap()
    expect(page.locator("#form")).to_be_hidden()

    card = page.locator("#card")
    expect(card).to_have_attribute("data-urgency", "call_now")
    expect(page.locator("#card-title")).to_have_text("Call your pediatrician now")
    expect(page.locator("#card-title")).to_be_in_viewport(ratio=1)
    expect(page.locator("#card-reasons li")).to_have_text(["An episode came with vomiting."])
    expect(page.locator("#card-reasons li").first).to_be_in_viewport(ratio=1)
    expect(page.locator("#card-advice")).to_contain_text("If you cannot reach them, call 112.")
    # Below the reasons, the same emergency sentence as everywhere, with its call button.
    expect(page.locator("#card-emergency")).to_have_text(EMERGENCY)
    expect(page.locator("#emergency-foot")).to_have_text(EMERGENCY)


def test_the_report_reads_at_phone_width_without_cut_columns(
    hub: RunningHub, tab: Callable[..., Tab]
) -> None:
    """Twelve columns on a 390 px phone: each episode becomes a card of "heading: value"
    lines, every one inside the screen, nothing hidden in a sideways scroll."""
    start = datetime.now(UTC) - timedelta(minutes=30)
    answer = hub.post(
        "/api/episodes",
        json={
            "room": ROOM,
            "started_at": start.isoformat(),
            "duration_s": 30,
            "limbs": ["left_leg", "right_leg"],
            "alert": True,
            "state": "asleep",
            "notes": "kicked both legs, then slept on",
        },
    )
    assert answer.status_code == 201, answer.text
    page = tab().open(hub)
    page.locator("#r-page").click()
    row = page.locator(".episodes-table tbody tr")
    expect(row).to_have_count(1)
    page.wait_for_load_state("load")  # its stylesheet applied: measured as a parent sees it
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    cells = row.locator("th, td")
    expect(cells).to_have_count(12)
    for index in range(12):
        box = cells.nth(index).bounding_box()
        assert box is not None, f"cell {index} is not shown"
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], f"cell {index} cut"
    notes = row.locator('td[data-label="Notes"]')
    notes.scroll_into_view_if_needed()
    expect(notes).to_be_in_viewport()
    expect(notes).to_have_text("kicked both legs, then slept on")
    label = notes.evaluate("(node) => getComputedStyle(node, '::before').content")
    assert label == '"Notes"'  # each value says which column it is
    sideways = page.locator(".report-page section").evaluate_all(
        "(sections) => sections.filter((s) => s.scrollWidth > s.clientWidth).length"
    )
    assert sideways == 0, "a section scrolls sideways"
