"""MQTT over TLS with a password and an ACL per client, against a real Mosquitto: what a
household that turns on `mqtt.tls` gets, and what a stranger on the network does not."""

from __future__ import annotations

import logging
import queue
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from contract.messages import ReadingMessage, new_boot_id
from contract.topics import episode_stored_topic, reading_topic
from firmware.publisher import Publisher
from mqttlink.settings import MqttSettings, SettingsError
from mqttlink.tls import secure_client
from nursery.config import Settings, load_settings
from tests.support import Mosquitto, RunningHub, hub_settings, wait_until, without_settings
from tests.support.installer import Hub as InstalledPi
from tests.support.installer import Session
from tests.support.installer import installed_pi as installed_hub
from tests.support.installer import login as installed_login
from tests.support.secure_broker import BASE, USERS, CertificateAuthority, SecureMosquitto


@pytest.fixture(scope="module")
def installed_pi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InstalledPi]:
    """`--role both` on one Pi, with its broker running on the generated configuration."""
    with installed_hub(tmp_path_factory.mktemp("pi")) as pi:
        yield pi


def settings_as(
    tmp_path: Path, broker: SecureMosquitto, user: str | None, **mqtt_overrides: object
) -> Settings:
    return hub_settings(
        tmp_path, broker.port, BASE, mqtt=broker.mqtt_settings(user, **mqtt_overrides)
    )


def reading(room: str, seq: int, temperature: float = 19.5) -> ReadingMessage:
    return ReadingMessage(room, new_boot_id(), seq, datetime.now(UTC), temperature, 50.0)


class Device:
    """A bare paho client that logs in as a device would, through secure_client."""

    def __init__(self, settings: MqttSettings) -> None:
        self.connack: queue.Queue[ReasonCode] = queue.Queue()
        self.subacks: queue.Queue[list[ReasonCode]] = queue.Queue()
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        secure_client(self.client, settings)
        self.client.on_connect = lambda c, u, f, reason, p: self.connack.put(reason)
        self.client.on_subscribe = lambda c, u, mid, reasons, p: self.subacks.put(reasons)
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, bytes(m.payload)))
        self.client.connect(settings.host, settings.port)
        self.client.loop_start()
        self.reason = self.connack.get(timeout=10)

    def publish(self, topic: str, payload: bytes) -> None:
        """QoS 1, waiting for the PUBACK (Mosquitto acknowledges a denied publish too)."""
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)
        self.subacks.get(timeout=5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def stored_points(hub: RunningHub, room: str) -> int:
    response = hub.get(f"/api/rooms/{room}/readings")
    return len(response.json()["points"]) if response.status_code == 200 else 0


def stored_rooms(hub: RunningHub) -> set[str]:
    return {room["room"] for room in hub.get("/api/rooms").json()}


def test_firmware_reaches_the_hub_over_tls_with_its_own_login(
    tmp_path: Path,
    secure: SecureMosquitto,
    start_hub: Callable[[Settings], RunningHub],
) -> None:
    """`nursery firmware` as a process, the hub in-process: both over TLS, each with the
    password the broker has for it; readings arrive and are stored."""
    hub = start_hub(settings_as(tmp_path, secure, "hub"))
    log = tmp_path / "firmware.log"
    env = without_settings()
    env.update(secure.env("firmware-nursery"))
    env.update(
        NURSERY_FIRMWARE__ROOM="nursery",
        NURSERY_FIRMWARE__SENSOR="simulated",
        NURSERY_FIRMWARE__INTERVAL_S="0.1",
        NURSERY_FIRMWARE__OUTBOX=str(tmp_path / "fw-outbox.db"),
    )
    with log.open("wb") as out:
        firmware = subprocess.Popen(
            [sys.executable, "-m", "nursery", "firmware", "--log-level", "debug"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: stored_points(hub, "nursery") >= 5, timeout=30, what="five readings")
        wait_until(
            lambda: hub.get("/api/rooms").json()[0]["status"] == "online",
            what="the firmware's retained online status",
        )
    finally:
        firmware.send_signal(signal.SIGTERM)
        assert firmware.wait(15) == 0, log.read_text()
    text = log.read_text()
    assert "Traceback" not in text
    assert "connected to MQTT broker 127.0.0.1" in text
    assert USERS["firmware-nursery"] not in text
    assert hub.get("/healthz").json()["messages"]["rejected"] == 0


def tls_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "nursery.mqtt" and r.levelno == logging.ERROR
    ]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong CA", ("certificate verify failed", "mqtt.ca_file (NURSERY_MQTT__CA_FILE)")),
        ("wrong name", ("mismatch", "mqtt.host (NURSERY_MQTT__HOST)")),
        ("plain-text port", ("", "mqtt.port (NURSERY_MQTT__PORT) must be the broker's TLS")),
    ],
)
def test_a_broker_that_cannot_be_trusted_is_refused_with_one_clear_line(
    tmp_path: Path,
    secure: SecureMosquitto,
    broker: Mosquitto,
    caplog: pytest.LogCaptureFixture,
    case: str,
    expected: tuple[str, str],
) -> None:
    """The firmware keeps retrying, but says once what is wrong and which setting to fix."""
    caplog.set_level(logging.INFO)
    # A broker whose certificate, from the right CA, names only another host.
    named = SecureMosquitto(tmp_path / "named", secure.ca, USERS, names=("nursery-hub.example",))
    choices: dict[str, dict[str, object]] = {
        "wrong CA": {"ca_file": CertificateAuthority(tmp_path, "stranger").cert},
        "wrong name": {"port": named.port},
        "plain-text port": {"port": broker.port},
    }
    overrides = choices[case]
    if case == "wrong name":
        named.start()
    settings = settings_as(tmp_path, secure, "firmware-nursery", **overrides)
    publisher = Publisher(settings, new_boot_id())
    try:
        wait_until(lambda: publisher.failed_attempts >= 2, timeout=15, what="two failed attempts")
        assert not publisher.is_connected
    finally:
        publisher.close()
        named.stop()
    errors = tls_errors(caplog)
    assert len(errors) == 1, errors  # once, not once per retry
    broker_name = f"{settings.mqtt.host}:{settings.mqtt.port}"
    assert errors[0].startswith(f"TLS handshake with MQTT broker {broker_name} failed: ")
    for part in expected:
        assert part in errors[0]


def test_the_hub_says_so_too_when_it_cannot_trust_the_broker(
    tmp_path: Path, secure: SecureMosquitto, caplog: pytest.LogCaptureFixture, clean_env: Any
) -> None:
    caplog.set_level(logging.INFO)
    stranger = CertificateAuthority(tmp_path, "stranger")
    hub = RunningHub(settings_as(tmp_path, secure, "hub", ca_file=stranger.cert))
    try:
        error = wait_until(lambda: tls_errors(caplog), timeout=15, what="the hub's TLS error")
        assert "certificate verify failed" in error[0]
        assert not hub.mqtt_connected()
        assert hub.get("/healthz").json()["status"] == "degraded"
    finally:
        hub.stop()


def test_a_device_may_publish_only_under_its_own_room(
    tmp_path: Path, secure: SecureMosquitto, start_hub: Callable[[Settings], RunningHub]
) -> None:
    hub = start_hub(settings_as(tmp_path, secure, "hub"))
    nursery_pi = Device(MqttSettings.model_validate(secure.mqtt_settings("firmware-nursery")))
    try:
        assert not nursery_pi.reason.is_failure
        # Posing as the bedroom's Pi: Mosquitto acknowledges the publish and drops it.
        nursery_pi.publish(reading_topic(BASE, "bedroom"), reading("bedroom", 0).encode())
        nursery_pi.publish(reading_topic(BASE, "nursery"), reading("nursery", 0).encode())
        # Both went over one connection in order: once the second is stored, the first
        # would have been too.
        wait_until(lambda: "nursery" in stored_rooms(hub), what="the Pi's own reading")
        assert stored_rooms(hub) == {"nursery"}
        # Nor may it listen to another room: Mosquitto grants the subscription but
        # delivers nothing from it.
        nursery_pi.subscribe(f"{BASE}/bedroom/alert")
        nursery_pi.subscribe(f"{BASE}/nursery/alert")
        the_hub = Device(MqttSettings.model_validate(secure.mqtt_settings("hub-probe")))
        try:
            the_hub.publish(f"{BASE}/bedroom/alert", b"for the bedroom")
            the_hub.publish(f"{BASE}/nursery/alert", b"for the nursery")
        finally:
            the_hub.close()
        heard = [nursery_pi.messages.get(timeout=5)]
        while heard[-1][1] != b"for the nursery":  # the hub's own retained state comes too
            heard.append(nursery_pi.messages.get(timeout=5))
        assert {topic for topic, _ in heard} == {f"{BASE}/nursery/alert"}
    finally:
        nursery_pi.close()
    bedroom_pi = Device(MqttSettings.model_validate(secure.mqtt_settings("firmware-bedroom")))
    try:
        bedroom_pi.publish(reading_topic(BASE, "bedroom"), reading("bedroom", 0).encode())
        wait_until(lambda: "bedroom" in stored_rooms(hub), what="the bedroom's own reading")
    finally:
        bedroom_pi.close()


@pytest.mark.parametrize("login", ["anonymous", "wrong password"])
def test_the_broker_refuses_strangers(
    tmp_path: Path, secure: SecureMosquitto, caplog: pytest.LogCaptureFixture, login: str
) -> None:
    caplog.set_level(logging.INFO)
    mqtt_values = secure.mqtt_settings(None)
    if login == "wrong password":
        mqtt_values.update(username="firmware-nursery", password="not-the-one-8d3e")
    device = Device(MqttSettings.model_validate(mqtt_values))
    try:
        assert device.reason.is_failure
        assert str(device.reason) == "Not authorized"
    finally:
        device.close()
    # The firmware says so in its log (TLS itself went fine: no TLS error).
    publisher = Publisher(hub_settings(tmp_path, secure.port, BASE, mqtt=mqtt_values), "b" * 32)
    try:
        wait_until(
            lambda: "refused the connection: Not authorized" in caplog.text,
            what="the firmware's refusal line",
        )
    finally:
        publisher.close()
    assert tls_errors(caplog) == []
    assert "not-the-one-8d3e" not in caplog.text


def test_a_client_certificate_is_used_where_the_broker_asks_for_one(
    tmp_path: Path,
    secure: SecureMosquitto,
    ca: CertificateAuthority,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    port = secure.client_cert_port
    without = Publisher(settings_as(tmp_path, secure, "firmware-nursery", port=port), "c" * 32)
    try:
        error = wait_until(lambda: tls_errors(caplog), timeout=15, what="a refused handshake")
        assert "mqtt.cert_file (NURSERY_MQTT__CERT_FILE)" in error[0], error
        assert not without.is_connected
    finally:
        without.close()
    issued = ca.issue("nursery-pi", client=True)
    settings = settings_as(
        tmp_path,
        secure,
        "firmware-nursery",
        port=port,
        cert_file=issued.cert,
        key_file=issued.key,
    )
    device = Device(settings.mqtt)
    try:
        assert not device.reason.is_failure
    finally:
        device.close()


def test_the_installers_acl_lets_the_hub_answer_the_episode_button(
    installed_pi: InstalledPi,
) -> None:
    """The hub confirms each episode-button event on <room>/episode/stored; if the ACL
    dropped it, the Pi would re-send the event for ever."""
    hub = installed_pi
    topic = episode_stored_topic("nursery", "nursery")
    pi = Session(hub.port, *installed_login(hub.root, "firmware"))
    the_hub = Session(hub.port, *installed_login(hub.root, "hub"))
    try:
        pi.subscribe(topic)
        the_hub.publish(topic, b"receipt")
        assert pi.next() == (topic, b"receipt", False)
    finally:
        pi.close()
        the_hub.close()
    conf = (hub.root / "etc/mosquitto/conf.d/nursery.conf").read_text()
    assert "\nallow_anonymous false\n" in conf


# --- settings: one line naming the key --------------------------------------------------


def bad_setting(tmp_path: Path, clean_env: pytest.MonkeyPatch, **env: str) -> str:
    for key, value in env.items():
        clean_env.setenv(f"NURSERY_MQTT__{key.upper()}", value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    return str(caught.value)


def test_tls_files_that_cannot_be_used_name_their_setting(
    tmp_path: Path, ca: CertificateAuthority, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.chdir(tmp_path)
    missing = tmp_path / "missing-ca.pem"
    assert bad_setting(tmp_path, clean_env, tls="true", ca_file=str(missing)).startswith(
        "mqtt.ca_file (NURSERY_MQTT__CA_FILE): cannot read "
    )
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("hello\n")
    message = bad_setting(tmp_path, clean_env, ca_file=str(not_pem))
    assert message.startswith("mqtt.ca_file (NURSERY_MQTT__CA_FILE): ")
    assert "no PEM CA certificate" in message

    clean_env.delenv("NURSERY_MQTT__TLS")
    clean_env.setenv("NURSERY_MQTT__CA_FILE", str(ca.cert))
    assert "needs mqtt.tls = true" in bad_setting(tmp_path, clean_env)

    one, other = ca.issue("one", client=True), ca.issue("other", client=True)
    message = bad_setting(
        tmp_path, clean_env, tls="true", cert_file=str(one.cert), key_file=str(other.key)
    )
    assert message.startswith(
        f"mqtt.key_file (NURSERY_MQTT__KEY_FILE): {other.key} is not the key of {one.cert}"
    )
    clean_env.delenv("NURSERY_MQTT__CERT_FILE")
    assert "needs mqtt.cert_file" in bad_setting(tmp_path, clean_env)
    clean_env.delenv("NURSERY_MQTT__KEY_FILE")
    assert load_settings().mqtt.ca_file == ca.cert


@pytest.mark.parametrize("password", ["", "   ", "changeme", "Password", None])
def test_a_login_without_a_real_password_is_refused(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, password: str | None
) -> None:
    clean_env.chdir(tmp_path)
    clean_env.setenv("NURSERY_MQTT__USERNAME", "firmware-nursery")
    if password is not None:
        clean_env.setenv("NURSERY_MQTT__PASSWORD", password)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    lines = str(caught.value).splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("mqtt.password (NURSERY_MQTT__PASSWORD): ")
    if password:
        assert password not in lines[0].removeprefix("mqtt.password (NURSERY_MQTT__PASSWORD)")


def test_the_demo_and_anonymous_brokers_need_no_password(clean_env: pytest.MonkeyPatch) -> None:
    assert Settings().mqtt.password is None
    assert Settings(mqtt={"username": "hub", "password": "a-long-random-one"}).mqtt.username
