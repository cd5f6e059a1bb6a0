"""The hub's dead man's switch: pings to Healthchecks, Uptime Kuma or a plain URL while the
monitor is healthy, failures with a reason when it is not, and silence when the hub dies."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from hub.heartbeat import Heartbeat, Parts, Ping, Verdict, convention, judge, ping_for
from hub.store.database import LatestReading
from hub.store.rooms import RoomSummary
from nursery.config import Settings
from tests.support import Mosquitto, RunningHub, SteadyRoom, free_port, hub_settings, wait_until
from tests.support.env import mqtt_env
from tests.support.pings import Receiver
from tests.support.processes import NurseryProcess

PERIOD_S = 0.5
STALE_S = 2.0
NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
GOOD = Verdict(True, "All well.")
BAD = Verdict(False, "Nursery: no reading for 6 min.")


# --- which service, and what it is sent ----------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://hc-ping.com/5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278", "healthchecks"),
        ("https://hc-ping.com/fqOOd6-F4MMNuCEnzTU01w/nursery-hub", "healthchecks"),
        ("http://healthchecks.lan:8000/ping/5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278", "healthchecks"),
        ("http://kuma.lan:3001/api/push/Ab12Cd34?status=up&msg=OK&ping=", "uptime-kuma"),
        ("http://kuma.lan:3001/api/push/Ab12Cd34", "uptime-kuma"),
        ("https://example.org/alive", "plain"),
    ],
)
def test_each_service_is_recognised_by_the_url_it_gives(url: str, kind: str) -> None:
    assert convention(url) == kind


def test_healthchecks_gets_success_fail_and_start_with_the_reason_as_body() -> None:
    url = "https://hc-ping.com/5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278"
    assert ping_for(url, GOOD) == Ping("POST", url, b"All well.")
    assert ping_for(url, BAD) == Ping("POST", url + "/fail", b"Nursery: no reading for 6 min.")
    start = ping_for(url, None)
    assert start is not None and start.url == url + "/start"


def test_uptime_kuma_gets_status_and_message_in_place_of_its_example_query() -> None:
    url = "http://kuma.lan:3001/api/push/Ab12Cd34?status=up&msg=OK&ping="
    up, down = ping_for(url, GOOD), ping_for(url, BAD)
    assert up is not None and down is not None
    assert up.method == down.method == "GET"
    assert urlsplit(up.url).path == "/api/push/Ab12Cd34"
    assert parse_qs(urlsplit(up.url).query) == {"status": ["up"], "msg": ["All well."]}
    assert parse_qs(urlsplit(down.url).query) == {
        "status": ["down"],
        "msg": ["Nursery: no reading for 6 min."],
    }
    assert ping_for(url, None) is None


def test_a_plain_url_is_pinged_only_while_all_is_well() -> None:
    assert ping_for("https://example.org/alive", GOOD) == Ping("GET", "https://example.org/alive")
    assert ping_for("https://example.org/alive", BAD) is None


def _room(name: str, *, age_s: float | None, status: str = "online") -> RoomSummary:
    latest = (
        None
        if age_s is None
        else LatestReading(
            ts=NOW - timedelta(seconds=age_s),
            received_at=NOW - timedelta(seconds=age_s),
            temperature_c=18.0,
            humidity_pct=50.0,
            boot_id="b0",
            seq=1,
        )
    )
    return RoomSummary(
        room=name,
        status=status,  # type: ignore[arg-type]
        status_since=None,
        last_seen=None,
        seconds_since_seen=None,
        stale=age_s is None or age_s > 300,
        latest=latest,
        fault=None,
    )


def _parts(**changes: object) -> Parts:
    values: dict[str, object] = {
        "broker_connected": True,
        "database_ok": True,
        "alerts_ok": True,
        "push_failing": False,
        "rooms": [_room("nursery", age_s=10)],
        "now": NOW,
    }
    values.update(changes)
    return Parts(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"broker_connected": False}, "The hub cannot reach the MQTT broker."),
        ({"database_ok": False}, "The hub cannot save to its database."),
        ({"alerts_ok": False}, "The hub's alert checks have stopped."),
        ({"push_failing": True}, "Pushes to phones are failing."),
        ({"rooms": []}, "No room has sent a reading yet."),
        ({"rooms": [_room("baby-room", age_s=400)]}, "Baby room: no reading for 7 min."),
        ({"rooms": [_room("nursery", age_s=400, status="offline")]}, "Nursery: monitor offline."),
        (
            {"rooms": [_room("nursery", age_s=10), _room("attic", age_s=None)]},
            "Attic: no reading yet.",
        ),
    ],
)
def test_any_part_down_is_a_failure_with_a_reason(changes: dict[str, object], reason: str) -> None:
    verdict = judge(_parts(**changes))
    assert verdict == Verdict(False, reason)


def test_every_part_up_is_healthy() -> None:
    assert judge(_parts()).healthy


def test_a_verdict_that_cannot_be_made_is_sent_as_a_failure() -> None:
    sent: list[Ping] = []
    done = threading.Event()

    def send(ping: Ping, timeout_s: float) -> None:
        sent.append(ping)
        if "/fail" in ping.url:
            done.set()

    def broken() -> Verdict:
        raise RuntimeError("database is locked")

    heartbeat = Heartbeat(
        ["https://hc-ping.com/x"], 0.2, broken, clock=lambda: NOW, send=send, timeout_s=1
    )
    heartbeat.start()
    try:
        assert done.wait(5)
    finally:
        heartbeat.stop()
    assert sent[0].url.endswith("/start")
    assert b"RuntimeError" in (sent[-1].body or b"")
    verdict = heartbeat.state().last_verdict
    assert verdict is not None
    assert not verdict.healthy


# --- a real hub, a real broker and a local receiver -----------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


HC, KUMA, PLAIN = "/ping/0f6c9a42-5d8e-4b61-9a3e-2b7d1c0e8f55", "/api/push/tok123", "/alive"


def test_pings_arrive_on_time_and_a_silent_room_turns_them_into_failures(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    receiver: Receiver,
    start_hub: Callable[[Settings], RunningHub],
    steady_rooms: Callable[..., SteadyRoom],
) -> None:
    settings = hub_settings(
        tmp_path,
        broker.port,
        base_topic,
        rules={"stale_after_s": STALE_S},
        notify={
            "heartbeat_urls": [
                receiver.url(HC),
                receiver.url(KUMA + "?status=up&msg=OK&ping="),
                receiver.url(PLAIN),
            ],
            "heartbeat_every_s": PERIOD_S,
        },
    )
    room = steady_rooms(settings)
    start_hub(settings)
    receiver.wait_for(
        "three healthy pings to Healthchecks",
        lambda: sum(1 for r in receiver.to(HC) if r.body.startswith(b"Watching")) >= 3,
        timeout=20,
    )
    assert receiver.to(HC + "/start"), "the hub says it started"
    healthy = [r for r in receiver.to(HC) if r.body.startswith(b"Watching")]
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(healthy)]
    assert all(gap < PERIOD_S + 1.0 for gap in gaps), gaps
    assert any(r.query.get("status") == ["up"] for r in receiver.to(KUMA))
    assert receiver.to(PLAIN)

    # The Pi goes quiet: within stale_after_s plus one period the pings say so.
    room.paused.set()
    silent_since = room.last_sent_at
    receiver.wait_for(
        "a failure ping to Healthchecks",
        lambda: bool(receiver.to(HC + "/fail")),
        timeout=STALE_S + PERIOD_S + 10,
    )
    (first_fail, *_) = receiver.to(HC + "/fail")
    assert first_fail.at - silent_since <= STALE_S + PERIOD_S + 1.0
    assert b"Nursery: no reading for" in first_fail.body
    receiver.wait_for(
        "a down ping to Uptime Kuma",
        lambda: any(r.query.get("status") == ["down"] for r in receiver.to(KUMA)),
        timeout=5,
    )
    down = next(r for r in receiver.to(KUMA) if r.query.get("status") == ["down"])
    assert "no reading for" in down.query["msg"][0]
    # A plain URL only ever hears good news: its silence is the alarm.
    assert all(r.at < first_fail.at + 0.2 for r in receiver.to(PLAIN))

    # Fresh readings again: healthy pings again.
    fails = len(receiver.to(HC + "/fail"))
    room.paused.clear()
    receiver.wait_for(
        "a healthy ping after the room came back",
        lambda: receiver.to(HC)[-1].at > receiver.to(HC + "/fail")[-1].at,
        timeout=15,
    )
    assert len(receiver.to(HC + "/fail")) >= fails


def test_kill_9_of_the_hub_stops_the_pings(
    tmp_path: Path, broker: Mosquitto, base_topic: str, receiver: Receiver
) -> None:
    hub = NurseryProcess(
        tmp_path,
        "hub",
        {
            **mqtt_env(broker.port, base_topic),
            "NURSERY_HUB__DB": str(tmp_path / "hub.db"),
            "NURSERY_HUB__HTTP_PORT": str(free_port()),
            "NURSERY_HUB__CLIENT_ID": f"hb-{base_topic}"[:23],
            "NURSERY_NOTIFY__HEARTBEAT_URLS": f'["{receiver.url(HC)}"]',
            "NURSERY_NOTIFY__HEARTBEAT_EVERY_S": str(PERIOD_S),
        },
    )
    try:
        # No room has reported: the hub is up but not watching anything, and says so.
        wait_until(
            lambda: len(receiver.to(HC + "/fail")) >= 2,
            timeout=30,
            what=f"failure pings from the hub\n{hub.output()}",
        )
        assert b"No room has sent a reading yet." in receiver.to(HC + "/fail")[0].body
    finally:
        hub.proc.kill()
        hub.proc.wait(10)
    count = len(receiver.requests)
    with receiver.arrived:
        assert not receiver.arrived.wait_for(lambda: len(receiver.requests) > count, 4 * PERIOD_S)
