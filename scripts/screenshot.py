"""Phone-size screenshots of the dashboard for the docs, from a real hub and broker.

Starts its own Mosquitto and a hub on a temporary database, publishes a plausible evening
(the last 6 h at one reading a minute, the room cooling to about 16.3 °C), signs in as a
caregiver as a parent would, then saves 390×844 screenshots in the light and dark colour
schemes to docs/screenshots/: the dashboard, one of a room that has gone silent (to check
how the warning reads at night), one of an open cold alert with its "I'm on it" and
"Snooze 30 min" buttons, the settings page (the guidance; the caregivers and a push
channel just tested against a local receiver) and the episode log.

    python scripts/screenshot.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from playwright.sync_api import (  # noqa: E402
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    sync_playwright,
)

from contract.messages import ReadingMessage, new_boot_id  # noqa: E402
from contract.topics import reading_topic, status_topic  # noqa: E402
from hub.store.database import Received, Store  # noqa: E402
from tests.support import (  # noqa: E402
    Mosquitto,
    RunningHub,
    api_token,
    hub_settings,
    login,
    wait_until,
)
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.support.push import Receiver  # noqa: E402

PHONE: ViewportSize = {"width": 390, "height": 844}


def evening(
    now: datetime, hours: float = 6, step_min: int = 1, colder_by: float = 0.0
) -> list[tuple[datetime, float, float]]:
    """A room warmed in the evening that cools through the night to about 16.3 °C
    (or `colder_by` less)."""
    rng = random.Random(7)
    count = int(hours * 60 / step_min)
    out = []
    for i in range(count + 1):
        ts = now - timedelta(minutes=(count - i) * step_min)
        progress = i / count
        temperature = 16.3 + 4.2 * math.exp(-3.2 * progress) - 0.25 * progress
        temperature += 0.35 * math.exp(-(((progress - 0.18) / 0.05) ** 2))  # a short warm spell
        temperature += rng.gauss(0, 0.04) - colder_by
        humidity = 47 + 8 * progress + 5 * math.exp(-(((progress - 0.2) / 0.06) ** 2))
        humidity += rng.gauss(0, 0.4)
        out.append((ts, round(temperature, 2), round(humidity, 1)))
    return out


def publish(
    client: mqtt.Client, base: str, room: str, readings: list[tuple[datetime, float, float]]
) -> None:
    boot = new_boot_id()
    for seq, (ts, temperature, humidity) in enumerate(readings):
        message = ReadingMessage(room, boot, seq, ts, temperature, humidity)
        client.publish(reading_topic(base, room), message.encode(), qos=1).wait_for_publish(5)


def seed_silent_room(db: Path, stopped: datetime) -> None:
    """A nursery whose monitor sent its last reading, then its last will, at `stopped`."""
    boot = new_boot_id()
    with Store(db) as store:
        store.add_readings(
            Received(ReadingMessage("nursery", boot, seq, ts, temperature, humidity), ts)
            for seq, (ts, temperature, humidity) in enumerate(evening(stopped, hours=5))
        )
        store.set_status("nursery", "offline", stopped + timedelta(seconds=30))


def seed_cold_room(db: Path, now: datetime) -> None:
    """A nursery that cooled below 16 °C a while ago and is still reporting."""
    boot = new_boot_id()
    with Store(db) as store:
        store.add_readings(
            Received(ReadingMessage("nursery", boot, seq, ts, temperature, humidity), ts)
            for seq, (ts, temperature, humidity) in enumerate(evening(now, colder_by=1.3))
        )
        store.set_status("nursery", "online", now - timedelta(hours=6))


def open_cold_alert(hub: RunningHub) -> bool:
    return any(
        alert["condition"] == "cold" and alert["state"] == "open"
        for alert in hub.get("/api/alerts").json()
    )


Scheme = Literal["light", "dark"]


def signed_in(browser: Browser, url: str, scheme: Scheme) -> tuple[BrowserContext, Page]:
    """A phone-size tab signed in through the hub's sign-in page."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, color_scheme=scheme, reduced_motion="reduce"
    )
    page = context.new_page()
    login(page, url)
    return context, page


def save(page: Page, path: Path) -> None:
    page.wait_for_function("document.fonts.ready.then(() => true)")
    width = int(page.evaluate("document.documentElement.scrollWidth"))
    if width > PHONE["width"]:
        raise SystemExit(f"{path.name}: the page is {width}px wide on a {PHONE['width']}px phone")
    page.screenshot(path=str(path))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def shoot(browser: Browser, url: str, scheme: Scheme, path: Path) -> None:
    """The dashboard, once the chart has drawn its points and the alerts have loaded."""
    context, page = signed_in(browser, url, scheme)
    page.locator(".room .plot-temp svg[data-points]:not([data-points='0'])").first.wait_for()
    page.locator("#recent").wait_for()
    page.locator("#account:not([hidden])").wait_for()
    save(page, path)
    context.close()


def shoot_settings(browser: Browser, url: str, scheme: Scheme, path: Path, part: str) -> None:
    """The settings page from the top (`guidance`), or scrolled to who gets paged with a
    channel whose test push just went through (`channels`)."""
    context, page = signed_in(browser, url, scheme)
    page.goto(url + "/settings")
    page.locator("body[data-ready='true']").wait_for()
    if part == "channels":
        channel = page.locator(".st-channel").first
        channel.get_by_role("button", name="Send test").click()
        channel.locator(".st-test-result[data-result='sent']").wait_for()
        page.locator("#caregivers-title").evaluate("node => node.scrollIntoView()")
        page.evaluate("window.scrollBy(0, -12)")
    save(page, path)
    context.close()


def shoot_episodes(browser: Browser, url: str, scheme: Scheme, path: Path) -> None:
    """The episode log from the top: the "Episode now" button and the doctor card."""
    context, page = signed_in(browser, url, scheme)
    page.goto(url + "/episodes")
    page.locator("body[data-ready='true']").wait_for()
    page.locator("#list .ep-item").first.wait_for()
    save(page, path)
    context.close()


def log_episodes(hub: RunningHub, now: datetime) -> None:
    """Two episodes of the evening, as a parent would have logged them."""
    evening_log: list[tuple[float, dict[str, object]]] = [
        (200, {"duration_s": 25, "limbs": ["left_leg"], "state": "asleep"}),
        (
            35,
            {
                "duration_s": 40,
                "limbs": ["left_leg", "right_leg"],
                "state": "waking",
                "notes": "Settled after a feed.",
            },
        ),
    ]
    for minutes_ago, details in evening_log:
        started = now - timedelta(minutes=minutes_ago)
        body = {"room": "nursery", "started_at": started.isoformat(), "timed": True, **details}
        answer = hub.post("/api/episodes", json=body)
        if answer.status_code != 201:
            raise SystemExit(f"could not log an episode: {answer.text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker = Mosquitto(work)
        broker.start()
        hubs: list[RunningHub] = []
        receiver = Receiver()  # a push service on 127.0.0.1, for the settings page's test
        client = mqtt.Client(CallbackAPIVersion.VERSION2)
        try:
            client.connect("127.0.0.1", broker.port)
            client.loop_start()

            # A healthy nursery for the light and dark screenshots.
            settings = hub_settings(work / "ok", broker.port, "shots")
            hub = RunningHub(settings)
            hubs.append(hub)
            wait_until(hub.mqtt_connected, what="the hub to connect to MQTT")
            client.publish(status_topic("shots", "nursery"), b"online", qos=1, retain=True)
            readings = evening(datetime.now(UTC))
            publish(client, "shots", "nursery", readings)
            wait_until(
                lambda: (
                    len(hub.get("/api/rooms/nursery/readings").json()["points"]) == len(readings)
                ),
                timeout=30,
                what="the evening's readings to be stored",
            )
            log_episodes(hub, datetime.now(UTC))
            api_token(settings.hub.db, "Sam")  # a second caregiver, paged on escalation
            channel = hub.post(
                "/api/caregivers/me/channels", json={"url": receiver.url(), "label": "My phone"}
            )
            if channel.status_code != 201:
                raise SystemExit(f"could not add a channel: {channel.text}")

            # A room that went quiet 25 minutes ago. The hub stamps readings with the time
            # it receives them, so this history is written to its database beforehand.
            silent = hub_settings(work / "silent", broker.port, "silent")
            seed_silent_room(silent.hub.db, datetime.now(UTC) - timedelta(minutes=25))
            quiet_hub = RunningHub(silent)
            hubs.append(quiet_hub)
            wait_until(quiet_hub.mqtt_connected, what="the second hub to connect to MQTT")

            # A room that has been below 16 °C for a while: the rules rebuild that from
            # the stored evening when the hub starts, and open a cold alert.
            cold = hub_settings(work / "cold", broker.port, "cold")
            seed_cold_room(cold.hub.db, datetime.now(UTC))
            cold_hub = RunningHub(cold)
            hubs.append(cold_hub)
            wait_until(cold_hub.mqtt_connected, what="the third hub to connect to MQTT")
            wait_until(lambda: open_cold_alert(cold_hub), what="an open cold alert")

            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                shoot(browser, hub.url, "light", out / "dashboard-light.png")
                shoot(browser, hub.url, "dark", out / "dashboard-dark.png")
                shoot(browser, quiet_hub.url, "dark", out / "dashboard-no-reading-dark.png")
                shoot(browser, cold_hub.url, "light", out / "dashboard-cold-alert.png")
                shoot_settings(browser, hub.url, "light", out / "settings-light.png", "guidance")
                shoot_settings(browser, hub.url, "dark", out / "settings-dark.png", "channels")
                shoot_episodes(browser, hub.url, "light", out / "episodes-light.png")
                browser.close()
        finally:
            client.loop_stop()
            client.disconnect()
            for running in hubs:
                running.stop()
            receiver.stop()
            broker.stop()


if __name__ == "__main__":
    main()
