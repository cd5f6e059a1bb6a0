"""Warming reminders through the real pipeline: readings published as the firmware does
(its own Publisher) → Mosquitto → hub → a local HTTP receiver standing in for the phone's
push service. Durations are shortened through settings; every wait is on a condition."""

from __future__ import annotations

import html
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract.alert_state import AlertStateMessage
from contract.messages import ReadingMessage, new_boot_id
from contract.topics import alert_topic, command_topic
from firmware.runner import run as run_firmware
from nursery.config import Settings
from tests.support import Mosquitto, StartHub, api_token, free_port, wait_until, without_settings
from tests.support.alerting import FAST_RULES, Scene, open_alert, settings_for, titles
from tests.support.env import mqtt_env
from tests.support.push import Receiver
from tests.support.rooms import TracePlayer


class AlertTopic:
    """A home-automation subscriber to `<base>/<room>/alert`."""

    def __init__(self, broker: Mosquitto, base: str) -> None:
        self.states: list[AlertStateMessage] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = lambda c, u, m: self.states.append(
            AlertStateMessage.decode(bytes(m.payload))
        )
        self.client.connect("127.0.0.1", broker.port)
        self.client.subscribe(alert_topic(base, "+"), qos=1)
        self.client.loop_start()

    def levels(self) -> list[str]:
        return [state.state for state in self.states]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.slow
def test_a_cold_night_pages_once_repeats_stops_on_ack_rearms_and_resolves_once(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    receivers: Callable[..., Receiver],
    start_hub: StartHub,
    players: Callable[[Settings], TracePlayer],
) -> None:
    receiver = receivers()
    settings = settings_for(tmp_path, broker, base_topic, receiver)
    alert_topic_sub = AlertTopic(broker, base_topic)
    hub = start_hub(settings)
    room = players(settings)
    room.wait_readings(10)
    wait_until(lambda: "ok" in alert_topic_sub.levels(), what="alert state ok on MQTT")
    assert receiver.titles() == []

    room.level = 15.5
    wait_until(lambda: titles(receiver, "still cold"), what="a repeat of the cold page")
    assert titles(receiver, "room is cold") == ["Nursery: room is cold (15.5 °C)"]
    first = receiver.answered[0].json()
    assert "below 16 °C" in str(first["message"])
    assert "±0.5 °C" in str(first["message"])
    wait_until(lambda: "alert" in alert_topic_sub.levels(), what="alert state on MQTT")

    cold = open_alert(hub, "cold")
    sam = {"Authorization": f"Bearer {api_token(hub.settings.hub.db, 'Sam')}"}
    answer = hub.post(f"/api/alerts/{cold['id']}/ack", json={"via": "dashboard"}, headers=sam)
    assert answer.status_code == 200, answer.text
    assert answer.json()["acknowledged_by"] == "Sam"
    assert answer.json()["acknowledged_via"] == "dashboard"
    assert answer.json()["state"] == "acknowledged"
    pushes_at_ack = len(receiver.titles())
    wait_until(lambda: "acknowledged" in alert_topic_sub.levels(), what="acknowledged on MQTT")

    room.level = 15.0  # colder, but not a full degree colder than when acknowledged
    room.wait_readings(80)  # 4 s: several repeat periods pass
    assert len(receiver.titles()) == pushes_at_ack, "repeats went on after the ack"

    room.level = 14.4
    wait_until(lambda: titles(receiver, "colder now"), what="the re-armed page")
    # With the value when Sam answered, so the change is plain.
    assert titles(receiver, "colder now") == ["Nursery: colder now (14.4 °C, was 15.5 °C)"]

    room.level = 17.0
    wait_until(lambda: titles(receiver, "back to normal"), what="back to normal")
    room.wait_readings(60)
    assert len(titles(receiver, "back to normal")) == 1
    assert len(titles(receiver, "room is cold")) == 1
    wait_until(lambda: alert_topic_sub.levels()[-1] == "ok", what="ok again on MQTT")
    assert all(a["state"] == "resolved" for a in hub.get("/api/alerts").json())
    alert_topic_sub.close()


@pytest.mark.slow
def test_a_flaky_sensor_pages_nobody_for_cold(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    receivers: Callable[..., Receiver],
    start_hub: StartHub,
) -> None:
    """The simulated `flaky` firmware (read errors, a spike, a stuck value) plus single
    impossible and spiking readings: no cold page, no cold alert."""
    receiver = receivers()
    settings = settings_for(
        tmp_path,
        broker,
        base_topic,
        receiver,
        firmware={"scenario": "flaky", "interval_s": 0.02},
        rules={"stale_after_s": 30.0},
    )
    hub = start_hub(settings)
    stop = threading.Event()
    firmware = threading.Thread(target=run_firmware, args=(settings, stop), daemon=True)
    firmware.start()
    spiker = mqtt.Client(CallbackAPIVersion.VERSION2)
    spiker.connect("127.0.0.1", broker.port)
    spiker.loop_start()
    boot = new_boot_id()
    try:
        for seq, temperature in enumerate([19.5, 8.0, 19.5, 70.0, 19.4, -35.0, 19.5, 9.0, 19.5]):
            reading = ReadingMessage("nursery", boot, seq, datetime.now(UTC), temperature, 50.0)
            topic = f"{base_topic}/nursery/reading"
            spiker.publish(topic, reading.encode(), qos=1).wait_for_publish(5)
        wait_until(
            lambda: hub.get("/healthz").json()["messages"]["stored"] >= 300,
            timeout=60,
            what="300 flaky readings stored",
        )
        wait_until(lambda: hub.get("/healthz").json()["messages"]["faults"] >= 3, what="faults")
    finally:
        stop.set()
        firmware.join(10)
        spiker.disconnect()
        spiker.loop_stop()
    conditions = {alert["condition"] for alert in hub.get("/api/alerts").json()}
    assert "cold" not in conditions
    assert not [t for t in receiver.titles() if "cold" in t]


@pytest.mark.slow
def test_a_silent_sensor_pages_no_data_and_never_resolves_while_silent(
    scene: Callable[..., Scene],
) -> None:
    receiver, settings, hub, room = scene()
    room.wait_readings(10)
    room.pause()
    stale_after = settings.rules.stale_after_s
    wait_until(
        lambda: titles(receiver, "no readings"),
        timeout=stale_after + 30,
        what="the no-data page within stale_after_s + 30 s",
    )
    wait_until(lambda: len(titles(receiver, "still no readings")) >= 3, what="repeats")
    assert titles(receiver, "arriving again") == []
    assert titles(receiver, "back to normal") == []
    assert open_alert(hub, "no_data")["severity"] == "alert"
    assert hub.get("/api/rooms").json()[0]["stale"] is True

    room.resume()
    wait_until(lambda: titles(receiver, "readings arriving again"), what="resolved on data")
    assert len(titles(receiver, "readings arriving again")) == 1


def test_push_buttons_ack_without_login_and_only_with_a_valid_signature(
    scene: Callable[..., Scene],
) -> None:
    """Services without buttons get the links as text; they work, signed and expiring."""
    receiver, _settings, hub, room = scene()
    room.level = 15.0
    wait_until(lambda: titles(receiver, "room is cold"), what="the cold page")
    body = str(receiver.answered[0].json()["message"])
    links = [word for word in body.split() if word.startswith(hub.url + "/api/alerts/")]
    ack_link = next(link for link in links if "/ack?" in link)
    snooze_link = next(link for link in links if "/snooze?" in link)

    page = httpx.get(ack_link)
    assert page.status_code == 200
    assert "I'm on it" in html.unescape(page.text)
    assert open_alert(hub, "cold")["state"] == "open", "a GET must not acknowledge"

    forged = ack_link.replace("sig=", "sig=x")
    assert httpx.post(forged).status_code == 403
    other = ack_link.replace("/ack?", "/snooze?")
    assert httpx.post(other).status_code == 403, "an ack signature must not snooze"

    snoozed = httpx.post(snooze_link)
    assert snoozed.status_code == 200, snoozed.text
    assert snoozed.json()["state"] == "snoozed"
    assert snoozed.json()["acknowledged_via"] == "push"
    acked = httpx.post(ack_link)
    assert acked.status_code == 200
    assert acked.json()["state"] == "acknowledged"
    assert httpx.post(f"{hub.url}/api/alerts/{acked.json()['id']}/ack").status_code == 401
    assert hub.post("/api/alerts/999/ack").status_code == 404
    assert httpx.get(ack_link.replace("exp=", "exp=1")).status_code == 403
    bad = hub.post(f"/api/alerts/{acked.json()['id']}/snooze?minutes=45")
    assert bad.status_code == 422
    assert "minutes" in bad.text


@pytest.mark.slow
def test_push_failures_show_on_healthz_and_ingest_goes_on(
    scene: Callable[..., Scene],
) -> None:
    receiver, _settings, hub, room = scene(fail_times=1000)
    room.level = 15.0
    health = wait_until(
        lambda: (h := hub.get("/healthz").json())["notifications"]["failing"] and h,
        what="the failing push on /healthz",
    )
    assert health["status"] == "degraded"
    assert health["notifications"]["pending"] >= 1
    before = health["messages"]["stored"]
    wait_until(
        lambda: hub.get("/healthz").json()["messages"]["stored"] > before + 40,
        what="ingest going on while pushes fail",
    )
    receiver.fail_times = 0
    wait_until(lambda: titles(receiver, "room is cold"), timeout=60, what="delivery after retry")


@pytest.mark.slow
def test_kill_9_of_the_hub_mid_incident_sends_no_duplicate_first_page(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    receivers: Callable[..., Receiver],
    players: Callable[[Settings], TracePlayer],
) -> None:
    receiver = receivers()
    settings = settings_for(
        tmp_path, broker, base_topic, receiver, alerts={"repeat_after_s": [3.0, 6.0]}
    )
    env = without_settings()
    env.update(
        {
            **mqtt_env(broker.port, base_topic),
            "NURSERY_HUB__DB": str(settings.hub.db),
            "NURSERY_HUB__HTTP_PORT": str(settings.hub.http_port),
            "NURSERY_HUB__CLIENT_ID": settings.hub.client_id,
            "NURSERY_NOTIFY__URLS": json.dumps(settings.notify.urls),
            "NURSERY_ALERTS__REPEAT_AFTER_S": "[3.0, 6.0]",
            "NURSERY_ALERTS__REPEAT_EVERY_S": "3",
            **{f"NURSERY_RULES__{k.upper()}": str(v) for k, v in FAST_RULES.items()},
        }
    )
    url = f"http://127.0.0.1:{settings.hub.http_port}"
    bearer = {"Authorization": f"Bearer {api_token(settings.hub.db)}"}  # /healthz details

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nursery", "hub"],
            env=env,
            cwd=tmp_path,
            stdout=(tmp_path / "hub.log").open("ab"),
            stderr=subprocess.STDOUT,
        )

        def up() -> bool:
            try:
                return bool(httpx.get(url + "/healthz").json()["parts"]["mqtt"] == "ok")
            except httpx.TransportError:
                assert proc.poll() is None, (tmp_path / "hub.log").read_text()
                return False

        wait_until(up, timeout=30, what="the hub")
        return proc

    hub = start()
    try:
        room = players(settings)
        room.level = 15.0
        wait_until(lambda: titles(receiver, "room is cold"), what="the first cold page")
        # Delivery is at-least-once: a kill between the push service's answer and the
        # outbox recording it resends that push. Kill once the hub has recorded it.
        wait_until(
            lambda: (
                httpx.get(url + "/healthz", headers=bearer).json()["notifications"]["pending"] == 0
            ),
            what="the first page recorded as delivered",
        )
        hub.send_signal(signal.SIGKILL)
        hub.wait(10)
        hub = start()
        wait_until(
            lambda: titles(receiver, "still cold"), timeout=30, what="a repeat after restart"
        )
        assert len(titles(receiver, "room is cold")) == 1
    finally:
        hub.send_signal(signal.SIGTERM)
        hub.wait(15)


def test_notify_test_reaches_every_channel_and_names_the_failures(
    tmp_path: Path,
    receivers: Callable[..., Receiver],
) -> None:
    good = receivers()
    env = without_settings()
    env["NURSERY_NOTIFY__URLS"] = json.dumps([good.url("ok")])
    result = subprocess.run(
        [sys.executable, "-m", "nursery", "notify-test"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert good.titles() == ["Nursery monitor: test notification"]
    assert "1 of 1 channels reached" in result.stdout

    dead = f"json://user:hunter2@127.0.0.1:{free_port()}/path"
    env["NURSERY_NOTIFY__CAREGIVERS"] = json.dumps([[dead]])
    result = subprocess.run(
        [sys.executable, "-m", "nursery", "notify-test"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "1 of 2 channels reached" in result.stdout
    assert "hunter2" not in result.stdout + result.stderr


def test_an_ack_command_over_mqtt_acknowledges_the_open_alert(
    broker: Mosquitto,
    base_topic: str,
    scene: Callable[..., Scene],
) -> None:
    """What a Home Assistant button does: `ack` on <base>/<room>/command."""
    receiver, _settings, hub, room = scene()
    room.level = 15.0
    wait_until(lambda: titles(receiver, "room is cold"), what="the cold page")
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        client.publish(command_topic(base_topic, "nursery"), b"nonsense", qos=1).wait_for_publish(5)
        client.publish(command_topic(base_topic, "nursery"), b"ack", qos=1).wait_for_publish(5)
        wait_until(lambda: open_alert(hub, "cold")["state"] == "acknowledged", what="acknowledged")
        assert open_alert(hub, "cold")["acknowledged_via"] == "mqtt"
        assert hub.get("/healthz").json()["messages"]["rejected"] == 1
    finally:
        client.disconnect()
        client.loop_stop()
