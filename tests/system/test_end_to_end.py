"""The whole path as a user runs it: `nursery firmware` and `nursery hub` as processes,
a real Mosquitto between them, readings read back over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract.messages import ReadingMessage
from firmware.runner import run as run_firmware
from firmware.sensors import SensorReading
from nursery.config import Settings
from tests.support import Mosquitto, RunningHub, api_token, free_port, hub_settings, wait_until
from tests.support.alerting import titles
from tests.support.env import mqtt_env
from tests.support.processes import NurseryProcess
from tests.support.push import Receiver


@pytest.fixture
def wire(broker: Mosquitto, base_topic: str) -> Iterator[list[ReadingMessage]]:
    """Every reading that crosses the broker, as a third-party subscriber sees it."""
    seen: list[ReadingMessage] = []
    lock = threading.Lock()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)

    def on_message(c: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        with lock:
            seen.append(ReadingMessage.decode(bytes(message.payload)))

    client.on_message = on_message
    client.connect("127.0.0.1", broker.port)
    client.subscribe(f"{base_topic}/+/reading", qos=1)
    client.loop_start()
    yield seen
    client.disconnect()
    client.loop_stop()


@pytest.mark.slow
def test_simulated_firmware_to_hub_to_http(
    tmp_path: Path, broker: Mosquitto, base_topic: str, wire: list[ReadingMessage]
) -> None:
    http_port = free_port()
    common = {
        **mqtt_env(broker.port, base_topic),
    }
    hub = NurseryProcess(
        tmp_path,
        "hub",
        {
            **common,
            "NURSERY_HUB__DB": str(tmp_path / "hub.db"),
            "NURSERY_HUB__HTTP_PORT": str(http_port),
            "NURSERY_HUB__CLIENT_ID": f"e2e-{base_topic}"[:23],
        },
    )
    url = f"http://127.0.0.1:{http_port}"

    auth = {"Authorization": f"Bearer {api_token(tmp_path / 'hub.db')}"}

    def get(path: str) -> httpx.Response | None:
        try:
            return httpx.get(url + path, headers=auth, timeout=5)
        except httpx.TransportError:
            assert hub.proc.poll() is None, hub.output()
            return None

    try:
        wait_until(
            lambda: (r := get("/healthz")) is not None and r.json()["mqtt"]["connected"],
            timeout=30,
            what="the hub to serve and connect",
        )
        firmware = NurseryProcess(
            tmp_path,
            "firmware",
            {
                **common,
                "NURSERY_FIRMWARE__ROOM": "kids-room",
                "NURSERY_FIRMWARE__SENSOR": "simulated",
                "NURSERY_FIRMWARE__SCENARIO": "steady",
                "NURSERY_FIRMWARE__INTERVAL_S": "0.05",
            },
        )
        try:
            wait_until(lambda: len(wire) >= 40, timeout=30, what="40 readings on the wire")
            rooms = wait_until(lambda: (r := get("/api/rooms")) and r.json(), what="a room")
            assert rooms[0]["room"] == "kids-room"
            wait_until(
                lambda: get("/api/rooms").json()[0]["status"] == "online",  # type: ignore[union-attr]
                what="the firmware's retained online status",
            )
        finally:
            assert firmware.stop() == 0, firmware.output()
        assert "Traceback" not in firmware.output()

        sent = sorted((m.boot_id, m.seq) for m in wire)
        assert len({boot for boot, _ in sent}) == 1
        assert [seq for _, seq in sent] == list(range(len(sent))), "seq must grow by one"

        def stored() -> list[dict[str, object]]:
            response = get("/api/rooms/kids-room/readings?max_points=10000")
            return response.json()["points"] if response else []

        wait_until(lambda: len(stored()) == len(sent), what="every reading stored")
        points = stored()
        # Compared as times, not strings: a reading on a whole second is "...:28Z",
        # which sorts after "...:28.950000Z" as text.
        times = [datetime.fromisoformat(str(p["ts"])) for p in points]
        assert times == sorted(times), "points must come oldest first"
        by_ts = sorted((m.temperature_c, m.humidity_pct) for m in wire)
        assert sorted((p["temperature_c"], p["humidity_pct"]) for p in points) == by_ts
        health = get("/healthz").json()  # type: ignore[union-attr]
        assert health["messages"]["stored"] == len(sent)
        assert health["messages"]["rejected"] == 0
        wait_until(
            lambda: get("/api/rooms").json()[0]["status"] == "offline",  # type: ignore[union-attr]
            what="offline after the firmware stopped",
        )
    finally:
        assert hub.stop() == 0, hub.output()
    assert "Traceback" not in hub.output()


# --- a Pi whose clock is wrong ---------------------------------------------------------------

HOURS_3 = timedelta(hours=3)
CLOCK_RULES: dict[str, object] = {
    "cold_for_s": 3.0,
    "stale_after_s": 10.0,
    "drop_c": 15.0,  # no fast-drop warning beside the cold page
    "cool_below_c": 16.0,
    "humidity_for_s": 3600.0,
}
INTERVAL_S = 1.0  # the margin for a slow machine: the hub may lag up to one reading


class RoomSensor:
    """The hardware edge: a DHT22 in a room whose temperature the test sets."""

    min_read_spacing_s = 0.0

    def __init__(self, temperature_c: float) -> None:
        self.temperature_c = temperature_c
        self._reads = 0

    def read(self) -> SensorReading:
        self._reads += 1
        return SensorReading(self.temperature_c, 50.0 + 0.1 * (self._reads % 3))

    def close(self) -> None:
        pass


class PiClock:
    """A Pi's wall clock without a battery: `behind` until NTP answers (the test sets it)."""

    def __init__(self, behind: timedelta) -> None:
        self.behind = behind

    def now(self) -> datetime:
        return datetime.now(UTC) - self.behind


class Wire:
    """Every reading on the broker as a third-party subscriber receives it, with when."""

    def __init__(self, broker: Mosquitto, base_topic: str) -> None:
        self.seen: list[tuple[datetime, ReadingMessage]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.subscribe(f"{base_topic}/+/reading", qos=1)
        self.client.loop_start()

    def _on_message(self, c: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        reading = ReadingMessage.decode(bytes(message.payload))
        with self._lock:
            self.seen.append((datetime.now(UTC), reading))

    def readings(self) -> list[tuple[datetime, ReadingMessage]]:
        with self._lock:
            return list(self.seen)

    def cold(self) -> list[tuple[datetime, ReadingMessage]]:
        return [(at, r) for at, r in self.readings() if r.temperature_c < 16.0]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.slow
@pytest.mark.parametrize("ntp_answers", [False, True], ids=["3h-behind", "ntp-steps-mid-cold"])
def test_a_pi_three_hours_behind_pages_a_cold_room_on_time(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    receivers: Callable[..., Receiver],
    start_hub: Callable[[Settings], RunningHub],
    ntp_answers: bool,
) -> None:
    """The real firmware loop, its clock 3 h behind (fake-hwclock, no NTP yet), through
    Mosquitto to the real hub: a room that turns cold soon after the Pi starts pages
    within cold_for_s plus two readings of its first cold reading, as with a clock that
    is right; also when NTP steps the clock three hours forward in the middle of it.
    Before the fix the hub took its readings for a backlog for its first 20 s and
    restarted the stretch when the clock stepped."""
    receiver = receivers()
    settings = hub_settings(
        tmp_path,
        broker.port,
        base_topic,
        rules=dict(CLOCK_RULES),
        firmware={"interval_s": INTERVAL_S},
        notify={"urls": [receiver.url("family")], "timeout_s": 5},
    )
    hub = start_hub(settings)
    wire = Wire(broker, base_topic)
    sensor = RoomSensor(19.5)
    clock = PiClock(HOURS_3)
    stop = threading.Event()
    firmware = threading.Thread(
        target=run_firmware,
        args=(settings, stop),
        kwargs={"sensor": sensor, "wall_clock": clock.now},
        daemon=True,
    )
    firmware.start()
    try:
        wait_until(lambda: len(wire.readings()) >= 4, timeout=30, what="4 warm readings")
        sensor.temperature_c = 14.0
        if ntp_answers:
            wait_until(lambda: len(wire.cold()) >= 3, timeout=30, what="3 cold readings")
            clock.behind = timedelta(0)
        alert = wait_until(
            lambda: [a for a in hub.get("/api/alerts").json() if a["condition"] == "cold"],
            timeout=60,
            what="the cold alert",
        )[0]
        wait_until(lambda: titles(receiver, "room is cold"), what="the cold page")
    finally:
        stop.set()
        firmware.join(10)
        wire.close()
    assert not firmware.is_alive()

    readings = wire.readings()
    first_at, first = wire.cold()[0]
    # Live, by the firmware's word (a reading taken before the first connection is not).
    assert all(r.live is True for _, r in wire.cold())
    assert first_at - first.ts > HOURS_3 - timedelta(seconds=5)  # stamped 3 h behind
    opened_at = datetime.fromisoformat(alert["opened_at"])
    # The page came within cold_for_s plus two readings of the first cold one: counted in
    # the readings that reached the broker before it, so a slow machine cannot excuse it.
    before_page = [r for at, r in wire.cold() if at <= opened_at]
    cold_for_s = float(CLOCK_RULES["cold_for_s"])  # type: ignore[arg-type]
    assert len(before_page) <= cold_for_s / INTERVAL_S + 3, len(before_page)
    # And on the hub's clock, half a reading allowed for the hub's own work.
    took = (opened_at - first_at).total_seconds()
    assert cold_for_s <= took <= cold_for_s + 2.5 * INTERVAL_S, took
    # The cold began on the hub's clock, when the cold readings arrived: not 3 h earlier.
    since = datetime.fromisoformat(alert["since"])
    assert first_at - timedelta(seconds=1) <= since <= first_at + timedelta(seconds=2)
    if ntp_answers:
        assert any(abs(at - r.ts) < timedelta(seconds=5) for at, r in readings[-3:])
