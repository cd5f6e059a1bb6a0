"""A broker that cannot be reached, or that refuses the login, is said once, in one line
that names the settings to fix, by the hub and by the firmware alike."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from contract.messages import new_boot_id
from firmware.publisher import Publisher
from tests.support import RunningHub, free_port, hub_settings, wait_until
from tests.support.secure_broker import BASE, USERS, SecureMosquitto

ADDRESS_FIX = "check mqtt.host (NURSERY_MQTT__HOST) and mqtt.port (NURSERY_MQTT__PORT)"
LOGIN_FIX = (
    "check mqtt.username (NURSERY_MQTT__USERNAME) and mqtt.password (NURSERY_MQTT__PASSWORD)"
)


def lines(caplog: pytest.LogCaptureFixture, needle: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if needle in r.getMessage()]


@pytest.mark.slow
def test_the_firmware_names_the_address_settings_when_no_broker_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    port = free_port()  # nothing listens there
    publisher = Publisher(hub_settings(tmp_path, port, BASE), new_boot_id())
    try:
        wait_until(lambda: publisher.failed_attempts >= 2, timeout=15, what="two failed attempts")
    finally:
        publisher.close()
    said = lines(caplog, "cannot reach MQTT broker")
    assert len(said) == 1, said  # once, not once per retry
    assert said[0].startswith(f"cannot reach MQTT broker 127.0.0.1:{port};")
    assert said[0].endswith(ADDRESS_FIX)


@pytest.mark.slow
def test_the_hub_names_the_address_settings_when_no_broker_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, clean_env: Any
) -> None:
    caplog.set_level(logging.INFO)
    port = free_port()
    hub = RunningHub(hub_settings(tmp_path, port, BASE))
    try:
        said = wait_until(lambda: lines(caplog, "cannot reach MQTT broker"), what="the hub's line")
        assert said[0] == (
            f"cannot reach MQTT broker 127.0.0.1:{port}; retrying in the background; {ADDRESS_FIX}"
        )
        assert not hub.mqtt_connected()
    finally:
        hub.stop()


def test_a_refused_login_names_the_login_settings_in_hub_and_firmware(
    tmp_path: Path,
    secure: SecureMosquitto,
    caplog: pytest.LogCaptureFixture,
    clean_env: Any,
) -> None:
    caplog.set_level(logging.INFO)
    mqtt = secure.mqtt_settings("firmware-nursery", password="not-the-one-8d3e")
    settings = hub_settings(tmp_path, secure.port, BASE, mqtt=mqtt)
    publisher = Publisher(settings, new_boot_id())
    try:
        said = wait_until(
            lambda: lines(caplog, "refused the connection"), what="the firmware's refusal"
        )
    finally:
        publisher.close()
    assert said[0] == (
        f"MQTT broker 127.0.0.1:{secure.port} refused the connection: Not authorized; {LOGIN_FIX}"
    )

    hub_mqtt = secure.mqtt_settings("hub", password="not-the-one-8d3e")
    hub = RunningHub(hub_settings(tmp_path / "hub", secure.port, BASE, mqtt=hub_mqtt))
    try:
        said = wait_until(lambda: lines(caplog, "refused the hub"), what="the hub's refusal")
        assert said[0] == (
            f"MQTT broker 127.0.0.1:{secure.port} refused the hub: Not authorized; {LOGIN_FIX}"
        )
    finally:
        hub.stop()
    assert "not-the-one-8d3e" not in caplog.text
    assert USERS["hub"] not in caplog.text
