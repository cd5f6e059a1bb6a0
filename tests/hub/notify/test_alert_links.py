"""A push's "I'm on it" and snooze links, opened as a parent opens them: in a real browser
(Debian's headless Chromium), often one signed in to the dashboard, on links taken from a
real push (Apprise's json:// to a local receiver), against the real hub on Mosquitto.

Each link works whatever cookies the browser holds, acts once, is refused when edited,
and ends on a short page in words, never JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from hub.conditions import Condition, Incident
from hub.notify.links import link_outcome
from tests.support import TEST_CAREGIVER, login, wait_until
from tests.support.alerting import Scene, open_alert, titles

PHONE: ViewportSize = {"width": 390, "height": 844}
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}

expect.set_options(timeout=15_000)

# A time on the hub's clock, as the pages give it: 03:12 today, "Sun 6 Dec 00:13" another
# day (a snooze tapped at 23:50 ends tomorrow).
CLOCK = r"(?:[A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2} )?\d\d:\d\d"


@pytest.fixture
def phone(browser: Browser) -> Iterator[Callable[[], Page]]:
    """A phone's browser tab; it fails the test on a Content-Security-Policy violation
    (the page must style itself from the hub's own files)."""
    contexts = []
    violations: list[str] = []

    def open_phone() -> Page:
        context = browser.new_context(viewport=PHONE, has_touch=True)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
        )
        return page

    yield open_phone
    for context in contexts:
        context.close()
    assert violations == []


def push_links(world: Scene) -> tuple[str, str]:
    """The ack and snooze links of the first cold page, as the phone got them."""
    receiver, _settings, hub, room = world
    room.level = 15.0
    wait_until(lambda: titles(receiver, "room is cold"), what="the cold page")
    body = str(receiver.answered[0].json()["message"])
    links = [word for word in body.split() if word.startswith(hub.url + "/api/alerts/")]
    ack = next(link for link in links if "/ack?" in link)
    snooze = next(link for link in links if "/snooze?" in link)
    return ack, snooze


def tap(page: Page, link: str, button: str) -> None:
    """Open a push link as the phone does, and tap its one button."""
    page.goto(link)
    expect(page.get_by_role("button", name=button)).to_be_visible()
    page.get_by_role("button", name=button).click()


def page_text(page: Page) -> str:
    return re.sub(r"\s+", " ", page.locator("main").inner_text())


def test_im_on_it_from_a_signed_in_phone_acknowledges_and_says_done(
    scene: Callable[..., Scene],
    phone: Callable[[], Page],
) -> None:
    """Issue #17: a browser with a dashboard session got a CSRF error in JSON."""
    world = scene()
    hub = world.hub
    ack, _snooze = push_links(world)
    page = phone()
    login(page, hub.url)

    tap(page, ack, "I'm on it")
    expect(page.get_by_role("heading", name="Done")).to_be_visible()
    text = page_text(page)
    assert re.search(rf"Done: acknowledged by {TEST_CAREGIVER} at {CLOCK}\.", text), text
    assert "{" not in text and "CSRF" not in text
    alert = open_alert(hub, "cold")
    assert alert["state"] == "acknowledged"
    assert (alert["acknowledged_by"], alert["acknowledged_via"]) == (TEST_CAREGIVER, "push")

    # Opened again (the push is still on the lock screen): already done, no button.
    page.goto(ack)
    expect(page.get_by_role("heading", name="Already done")).to_be_visible()
    expect(page.get_by_role("button")).to_have_count(0)
    again = httpx.post(ack, headers=HTML)
    assert again.status_code == 409 and "Already done" in again.text
    assert open_alert(hub, "cold")["acknowledged_at"] == alert["acknowledged_at"], "re-acked"


def test_im_on_it_without_a_session_also_ends_on_the_done_page(
    scene: Callable[..., Scene],
    phone: Callable[[], Page],
) -> None:
    world = scene()
    ack, _snooze = push_links(world)
    page = phone()
    tap(page, ack, "I'm on it")
    expect(page.get_by_role("heading", name="Done")).to_be_visible()
    assert re.search(rf"Done: acknowledged from a push at {CLOCK}\.", page_text(page))
    assert open_alert(world.hub, "cold")["state"] == "acknowledged"


def test_snooze_from_a_signed_in_phone_snoozes_30_minutes_once(
    scene: Callable[..., Scene],
    phone: Callable[[], Page],
) -> None:
    world = scene()
    hub = world.hub
    _ack, snooze = push_links(world)
    page = phone()
    login(page, hub.url)

    tapped_at = datetime.now(UTC)
    tap(page, snooze, "Snooze 30 min")
    expect(page.get_by_role("heading", name="Done")).to_be_visible()
    text = page_text(page)
    assert re.search(rf"Done: snoozed by {TEST_CAREGIVER} until {CLOCK}\.", text), text
    alert = open_alert(hub, "cold")
    assert alert["state"] == "snoozed"
    until = datetime.fromisoformat(alert["snoozed_until"])
    assert timedelta(minutes=29) < until - tapped_at < timedelta(minutes=31)

    page.goto(snooze)
    expect(page.get_by_role("heading", name="Already done")).to_be_visible()
    assert re.search(rf"snoozed by \S+ until {CLOCK}", page_text(page))
    again = httpx.post(snooze)  # as ntfy's button would: JSON
    assert again.status_code == 409 and "Already done" in again.json()["detail"]
    assert open_alert(hub, "cold")["snoozed_until"] == alert["snoozed_until"], "extended"


def test_a_used_snooze_link_does_not_snooze_again_once_the_alert_is_back(
    scene: Callable[..., Scene],
    phone: Callable[[], Page],
) -> None:
    """The room got 1 °C colder after the snooze: the alert is open again, and the old
    link from the first push must not quiet it once more."""
    world = scene()
    hub = world.hub
    _ack, snooze = push_links(world)
    assert httpx.post(snooze).json()["state"] == "snoozed"
    world.room.level = 13.0
    wait_until(lambda: open_alert(hub, "cold")["state"] == "open", what="the alert back open")

    page = phone()
    page.goto(snooze)
    expect(page.get_by_role("heading", name="Already done")).to_be_visible()
    assert "open again" in page_text(page)
    refused = httpx.post(snooze, headers=HTML)
    assert refused.status_code == 409 and "Already done" in refused.text
    assert open_alert(hub, "cold")["state"] == "open"


def test_an_edited_snooze_link_is_refused_with_a_page(
    scene: Callable[..., Scene],
    phone: Callable[[], Page],
) -> None:
    """`minutes` is signed: a link edited to snooze longer does nothing."""
    world = scene()
    hub = world.hub
    _ack, snooze = push_links(world)
    assert "minutes=30" in snooze
    longer = snooze.replace("minutes=30", "minutes=60")
    without = re.sub(r"[?&]minutes=30", "", snooze).replace("/snooze&", "/snooze?")

    page = phone()
    login(page, hub.url)
    for edited in (longer, without):
        shown = page.goto(edited)
        assert shown is not None and shown.status == 403
        expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
        assert "changed after it was sent" in page_text(page)
        expect(page.get_by_role("button")).to_have_count(0)
        posted = httpx.post(edited, headers=HTML)
        assert posted.status_code == 403 and "text/html" in posted.headers["content-type"]
        assert "This link does not work" in posted.text
        assert httpx.post(edited).status_code == 403  # as ntfy's button: JSON
    assert open_alert(hub, "cold")["state"] == "open"
    # The link as sent still works.
    assert httpx.post(snooze).json()["state"] == "snoozed"


def test_a_link_for_a_resolved_alert_says_when_it_was_resolved(
    scene: Callable[..., Scene],
    phone: Callable[[], Page],
) -> None:
    world = scene()
    hub = world.hub
    ack, snooze = push_links(world)
    world.room.level = 19.5
    wait_until(lambda: titles(world.receiver, "back to normal"), what="the resolved push")

    page = phone()
    login(page, hub.url)
    for link in (ack, snooze):
        page.goto(link)
        expect(page.get_by_role("heading", name="Already resolved")).to_be_visible()
        assert re.search(rf"Already resolved at {CLOCK}", page_text(page))
        expect(page.get_by_role("button")).to_have_count(0)
        posted = httpx.post(link, headers=HTML)
        assert posted.status_code == 409 and "Already resolved at" in posted.text
    cold = [a for a in hub.get("/api/alerts").json() if a["condition"] == "cold"]
    assert cold[0]["state"] == "resolved" and cold[0]["acknowledged_at"] is None


def test_a_link_ignores_broken_credentials_beside_it(
    scene: Callable[..., Scene],
) -> None:
    """A stale session cookie or a wrong token in the same request does not spoil it."""
    world = scene()
    ack, _snooze = push_links(world)
    stale = httpx.post(
        ack, headers={"Cookie": "nursery_session=gone", "Authorization": "Bearer nm_wrong"}
    )
    assert stale.status_code == 200, stale.text
    assert stale.json()["state"] == "acknowledged"
    assert stale.json()["acknowledged_by"] == "push button"


# --- the decision, without I/O ----------------------------------------------------------

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)


def incident(**changes: Any) -> Incident:
    base = Incident(7, "nursery", Condition.COLD, NOW - timedelta(minutes=20), NOW)
    return replace(base, **changes)


@pytest.mark.parametrize(
    ("changes", "action", "used", "expected"),
    [
        ({}, "ack", False, "act"),
        ({}, "snooze", False, "act"),
        ({}, "ack", True, "answered"),  # used, and the alert came back: still not twice
        ({}, "snooze", True, "answered"),
        ({"acked_at": NOW, "acked_by": "Sam"}, "ack", False, "answered"),
        ({"acked_at": NOW, "acked_by": "Sam"}, "snooze", False, "answered"),
        ({"snoozed_until": NOW + timedelta(minutes=5)}, "snooze", False, "answered"),
        ({"snoozed_until": NOW + timedelta(minutes=5)}, "ack", False, "act"),
        ({"snoozed_until": NOW - timedelta(minutes=5)}, "snooze", False, "act"),
        ({"resolved_at": NOW}, "ack", False, "resolved"),
        ({"resolved_at": NOW}, "snooze", True, "resolved"),
    ],
)
def test_link_outcome(changes: dict[str, object], action: str, used: bool, expected: str) -> None:
    assert link_outcome(incident(**changes), action, used, NOW) == expected  # type: ignore[arg-type]
