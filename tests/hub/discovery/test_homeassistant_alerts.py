"""What Home Assistant shows and what its buttons do, through a real Mosquitto and a real hub.

The night from issue #16: a cold alert snoozed from Home Assistant, then the Pi goes
offline. The retained alert state, the entities Home Assistant builds from it (its own
discovery configs, their templates rendered as it renders them) and `/api/alerts` are
checked after each step. Then the load the room state puts on Home Assistant's recorder,
and the "Readings waiting to send" count.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract.messages import HealthMessage, ReadingMessage, new_boot_id
from contract.topics import alert_topic, room_state_topic
from hub.discovery import Discovery
from nursery.config import Settings
from tests.support import Mosquitto, RunningHub, StartHub, wait_until
from tests.support.alerting import settings_for
from tests.support.homeassistant import render
from tests.support.push import Receiver
from tests.support.rooms import TracePlayer

ROOM = "nursery"


class HomeAssistant:
    """Home Assistant's side of MQTT: the discovery configs it reads, the topics its entities
    follow (every message kept, as its state machine sees them), and its button presses."""

    def __init__(self, broker: Mosquitto, settings: Settings) -> None:
        self.settings = settings
        self.prefix = settings.homeassistant.prefix
        self.base = settings.mqtt.base_topic
        self._lock = threading.Lock()
        self.messages: list[tuple[str, bytes]] = []
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        self.client.subscribe([(f"{self.prefix}/#", 1), (f"{self.base}/#", 1)])
        assert self._subscribed.wait(10), "no SUBACK"

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def payloads(self, topic: str) -> list[bytes]:
        with self._lock:
            return [payload for t, payload in self.messages if t == topic]

    def latest(self, topic: str) -> bytes | None:
        found = self.payloads(topic)
        return found[-1] if found else None

    @property
    def device_topic(self) -> str:
        device = Discovery(self.settings, lambda *args: None).device_id(ROOM)
        return f"{self.prefix}/device/{device}/config"

    def components(self) -> dict[str, dict[str, Any]]:
        """The room's entities, as the hub announced them (device-based discovery)."""
        config = self.latest(self.device_topic)
        assert config, "the room was not announced"
        return dict(json.loads(config)["cmps"])

    def wait_announced(self) -> None:
        wait_until(lambda: self.latest(self.device_topic), what="the room announced")

    def entity(self, key: str, payload: bytes | None = None) -> str:
        """The state Home Assistant gives entity `key` from the latest message on its topic
        (or from `payload`)."""
        config = self.components()[key]
        payload = payload if payload is not None else self.latest(config["state_topic"])
        assert payload is not None, f"nothing on {config['state_topic']}"
        return render(config["value_template"], payload)

    def attributes(self, key: str) -> dict[str, Any]:
        config = self.components()[key]
        payload = self.latest(config["json_attributes_topic"])
        assert payload is not None
        return dict(json.loads(render(config["json_attributes_template"], payload)))

    def history(self, key: str) -> list[str]:
        """Every state the entity took, in order, repeats folded: what its automations see."""
        config = self.components()[key]
        states: list[str] = []
        for payload in self.payloads(config["state_topic"]):
            shown = render(config["value_template"], payload)
            if not states or states[-1] != shown:
                states.append(shown)
        return states

    def press(self, key: str) -> None:
        button = self.components()[key]
        assert button["p"] == "button"
        self.client.publish(
            button["command_topic"],
            button["payload_press"].encode(),
            qos=button["qos"],
            retain=button["retain"],
        ).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def retained(broker: Mosquitto, topic: str) -> dict[str, Any]:
    """What the broker holds for `topic`: what a client connecting now gets first."""
    got: list[bytes] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, m: got.append(bytes(m.payload)) if m.retain else None
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        client.subscribe(topic, qos=1)
        wait_until(lambda: got, timeout=10, what=f"the retained message on {topic}")
    finally:
        client.disconnect()
        client.loop_stop()
    return dict(json.loads(got[0]))


@pytest.fixture
def home_assistants() -> Iterator[Callable[[Mosquitto, Settings], HomeAssistant]]:
    started: list[HomeAssistant] = []

    def start(broker: Mosquitto, settings: Settings) -> HomeAssistant:
        started.append(HomeAssistant(broker, settings))
        return started[-1]

    yield start
    for ha in started:
        ha.close()


def ha_settings(tmp_path: Path, broker: Mosquitto, base: str, receiver: Receiver) -> Settings:
    return settings_for(
        tmp_path,
        broker,
        base,
        receiver,
        homeassistant={"prefix": f"ha{uuid.uuid4().hex[:8]}"},
    )


def api_alerts(hub: RunningHub) -> dict[str, dict[str, Any]]:
    """The open alerts by condition, as the dashboard gets them."""
    return {a["condition"]: a for a in hub.get("/api/alerts").json() if a["state"] != "resolved"}


def test_a_snoozed_cold_alert_never_hides_the_offline_alert_nor_takes_its_acknowledgement(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    receivers: Callable[..., Receiver],
    start_hub: StartHub,
    home_assistants: Callable[[Mosquitto, Settings], HomeAssistant],
) -> None:
    receiver = receivers()
    settings = ha_settings(tmp_path, broker, base_topic, receiver)
    ha = home_assistants(broker, settings)
    hub = start_hub(settings)
    room = TracePlayer(settings)
    topic = alert_topic(base_topic, ROOM)
    try:
        # 1. The room is cold: one unanswered cold alert.
        room.level = 15.0
        wait_until(lambda: "cold" in api_alerts(hub), what="an open cold alert")
        wait_until(lambda: retained(broker, topic)["state"] == "alert", what="alert retained")
        state = retained(broker, topic)
        assert (state["condition"], [e["state"] for e in state["open"]]) == ("cold", ["open"])
        wait_until(lambda: ha.entity("alert") == "alert", what="HA's alert sensor on alert")
        wait_until(lambda: ha.entity("too_cold") == "ON", what="HA's too cold on")
        assert ha.attributes("alert")["unanswered"] == 1
        assert api_alerts(hub)["cold"]["state"] == "open"

        # 2. Snoozed from Home Assistant.
        ha.press("snooze")
        wait_until(lambda: api_alerts(hub)["cold"]["state"] == "snoozed", what="cold snoozed")
        snoozed_until = api_alerts(hub)["cold"]["snoozed_until"]
        wait_until(lambda: retained(broker, topic)["state"] == "snoozed", what="snooze retained")
        state = retained(broker, topic)
        assert state["condition"] == "cold"
        assert state["open"][0]["snoozed_until"] is not None
        wait_until(lambda: ha.entity("alert") == "snoozed", what="HA's alert sensor snoozed")
        assert ha.attributes("alert")["unanswered"] == 0

        # 3. The Pi goes offline: the hub opens an offline alert and pushes it.
        room.stop()
        wait_until(lambda: "offline" in api_alerts(hub), what="an open offline alert")
        wait_until(
            lambda: any("offline" in title for title in receiver.titles()),
            what="the offline push",
        )
        wait_until(lambda: retained(broker, topic)["condition"] == "offline", what="offline on top")
        state = retained(broker, topic)
        assert state["state"] == "alert", "an unanswered alert shows as one"
        assert state["acknowledged_by"] is None
        listed = {e["condition"]: e for e in state["open"]}
        assert state["open"][0]["condition"] == "offline"
        assert listed["offline"]["state"] == "open"
        assert listed["cold"]["state"] == "snoozed"
        assert listed["cold"]["snoozed_until"] is not None
        wait_until(lambda: ha.entity("alert") == "alert", what="HA's alert sensor back on alert")
        attributes = ha.attributes("alert")
        assert attributes["condition"] == "offline"
        assert attributes["unanswered"] >= 1
        assert {a["condition"]: a["state"] for a in attributes["open_alerts"]}["cold"] == "snoozed"
        # An automation triggering on `to: alert` fires for the offline alert.
        history = ha.history("alert")
        assert history[-2:] == ["snoozed", "alert"], history
        assert ha.entity("problem") == "ON"
        alerts = api_alerts(hub)
        assert (alerts["offline"]["state"], alerts["cold"]["state"]) == ("open", "snoozed")

        # 4. "Acknowledge" in Home Assistant answers the offline alert, not the cold one.
        ha.press("acknowledge")
        wait_until(
            lambda: api_alerts(hub)["offline"]["state"] == "acknowledged",
            what="the offline alert acknowledged",
        )
        alerts = api_alerts(hub)
        assert alerts["offline"]["acknowledged_via"] == "mqtt"
        assert alerts["cold"]["state"] == "snoozed", "the snooze stays a snooze"
        assert alerts["cold"]["acknowledged_at"] is None
        assert alerts["cold"]["snoozed_until"] == snoozed_until
        wait_until(lambda: retained(broker, topic)["state"] == "acknowledged", what="ack retained")
        state = retained(broker, topic)
        assert state["condition"] == "offline"
        assert {e["condition"]: e["state"] for e in state["open"]}["cold"] == "snoozed"
        wait_until(lambda: ha.entity("alert") == "acknowledged", what="HA's sensor answered")
        assert ha.attributes("alert")["unanswered"] == 0
        assert hub.get("/healthz").json()["messages"]["rejected"] == 0
    finally:
        room.stop()  # again after step 3: it is idempotent


@pytest.mark.slow
def test_last_heard_alone_is_sent_at_most_every_five_minutes_and_exactly_when_it_matters(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    receivers: Callable[..., Receiver],
    start_hub: StartHub,
    home_assistants: Callable[[Mosquitto, Settings], HomeAssistant],
) -> None:
    settings = ha_settings(tmp_path, broker, base_topic, receivers())
    ha = home_assistants(broker, settings)
    start_hub(settings)
    room = TracePlayer(settings)  # a steady 19 °C, a reading every 50 ms
    state_topic = room_state_topic(base_topic, ROOM)
    try:
        ha.wait_announced()
        wait_until(
            lambda: ha.entity("problem") == "OFF" and ha.entity("comfort") == "comfortable",
            what="the room seen and fine",
        )
        before = len(ha.payloads(state_topic))
        room.wait_readings(120)
        # A marker after the readings: everything the hub published for them has arrived.
        marker = f"{base_topic}/sync/{uuid.uuid4().hex}"
        ha.client.publish(marker, b"", qos=1).wait_for_publish(10)
        wait_until(lambda: ha.payloads(marker), what="the sync marker")
        during = ha.payloads(state_topic)[before:]
        assert len(during) <= 2, f"{len(during)} state messages for 120 unchanged readings"
        assert len(ha.history("last_heard")) <= 3, ha.history("last_heard")
        heard = ha.entity("last_heard")

        # The room goes quiet: the problem changes, and the exact last reading goes with it.
        room.stop()
        wait_until(lambda: ha.entity("problem") == "ON", what="the monitor problem on")
        assert json.loads(ha.latest(state_topic) or b"{}")["problem_reason"] == "offline"
        assert datetime.fromisoformat(ha.entity("last_heard")) > datetime.fromisoformat(heard)
    finally:
        room.stop()


def test_readings_waiting_to_send_reads_0_when_only_the_reading_just_sent_is_unconfirmed(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    receivers: Callable[..., Receiver],
    start_hub: StartHub,
    home_assistants: Callable[[Mosquitto, Settings], HomeAssistant],
) -> None:
    """The firmware's outbox holds each reading until the hub's receipt (about a second), so
    its health message often says 1 with nothing waiting. Home Assistant must say 0, and
    count a real backlog down as the hub receives it."""
    settings = ha_settings(tmp_path, broker, base_topic, receivers())
    ha = home_assistants(broker, settings)
    start_hub(settings)
    base = settings.mqtt.base_topic
    live, backlog = new_boot_id(), new_boot_id()

    def send_readings(boot: str, seqs: range) -> None:
        for seq in seqs:
            message = ReadingMessage(ROOM, boot, seq, datetime.now(UTC), 19.0, 50.0)
            info = ha.client.publish(f"{base}/{ROOM}/reading", message.encode(), qos=1)
            info.wait_for_publish(10)

    def send_health(pending: int, floor: dict[str, int]) -> None:
        health = HealthMessage(ROOM, live, datetime.now(UTC), pending, 0, None, 10, 0, floor)
        info = ha.client.publish(f"{base}/{ROOM}/health", health.encode(), qos=1, retain=True)
        info.wait_for_publish(10)

    send_readings(live, range(10))
    ha.wait_announced()
    wait_until(lambda: ha.latest(room_state_topic(base, ROOM)), what="the room state")
    # Reading 9 is stored by the hub; the firmware has not had its receipt yet.
    send_health(1, {live: 9})
    wait_until(
        lambda: (
            json.loads(ha.latest(room_state_topic(base, ROOM)) or b"{}").get("outbox_pending") == 1
        ),
        what="the health report in the room state",
    )
    assert ha.entity("outbox") == "0"
    # A reading and the health message right after it, as when the firmware's health falls
    # due with a reading: they may share one ingest batch, the health handled before the
    # reading is stored. Never a passing 1 either (a recorder entry each time).
    shown = len(ha.payloads(room_state_topic(base, ROOM)))
    for seq in range(10, 40):
        message = ReadingMessage(ROOM, live, seq, datetime.now(UTC), 19.0, 50.0)
        ha.client.publish(f"{base}/{ROOM}/reading", message.encode(), qos=1)
        health = HealthMessage(ROOM, live, datetime.now(UTC), 1, 0, None, 10, 0, {live: seq})
        ha.client.publish(f"{base}/{ROOM}/health", health.encode(), qos=1, retain=True)
    send_health(0, {})  # a marker: handled after all of the above
    wait_until(
        lambda: (
            json.loads(ha.latest(room_state_topic(base, ROOM)) or b"{}").get("outbox_pending") == 0
        ),
        what="the hub through all of them",
    )
    assert {
        ha.entity("outbox", payload)
        for payload in ha.payloads(room_state_topic(base, ROOM))[shown:]
    } <= {"0"}

    # After an outage: 30 readings of an earlier boot wait; the hub receives 10 of them.
    send_health(30, {backlog: 0})
    wait_until(lambda: ha.entity("outbox") == "30", what="30 readings waiting")
    send_readings(backlog, range(10))
    wait_until(lambda: ha.entity("outbox") == "20", what="the count going down as they arrive")
