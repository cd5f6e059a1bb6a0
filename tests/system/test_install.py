"""The Pi installer, `scripts/install-pi --output DIR`: the files it writes, checked for real.

A real Mosquitto runs on the generated broker configuration (password file, ACL,
persistence), `systemd-analyze verify` checks the units when it is installed, and the
generated nursery.toml goes through the same loader as the services.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, free_port
from tests.support.installer import (
    ETC,
    SCRIPT,
    Hub,
    InstalledBroker,
    Session,
    debian_mosquitto_conf,
    install,
    installed,
    installed_pi,
    login,
    read_env,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """`--role both` on one Pi, with its broker running on the generated configuration."""
    with installed_pi(tmp_path_factory.mktemp("pi")) as pi:
        yield pi


def test_help() -> None:
    result = subprocess.run(
        ["bash", str(SCRIPT), "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    for option in (
        "--role",
        "--room",
        "--broker",
        "--prefix",
        "--etc",
        "--data",
        "--user",
        "--from",
        "--output",
        "--password-file",
        "add-device",
    ):
        assert option in result.stdout


@pytest.mark.broker
def test_one_login_per_device_and_hub_never_printed(hub: Hub) -> None:
    users = [line.split(":")[0] for line in (hub.root / "etc/mosquitto/nursery.passwd").open()]
    assert sorted(users) == ["firmware-nursery", "hub"]
    (hub_user, hub_password), (fw_user, fw_password) = (
        login(hub.root, "hub"),
        login(hub.root, "firmware"),
    )
    assert (hub_user, fw_user) == ("hub", "firmware-nursery")
    assert hub_password != fw_password
    for password in (hub_password, fw_password):
        assert re.fullmatch(r"[0-9a-f]{48}", password)
        assert password not in hub.output
        assert password not in (hub.root / "etc/mosquitto/nursery.passwd").read_text()
    for secret in ("hub.env", "firmware.env"):
        assert mode(hub.root / ETC / secret) == 0o600
    assert mode(hub.root / "etc/mosquitto/nursery.passwd") == 0o600


@pytest.mark.broker
def test_broker_refuses_anonymous_and_wrong_passwords(hub: Hub) -> None:
    anonymous = Session(hub.port)
    wrong = Session(hub.port, "hub", "not-the-password")
    right = Session(hub.port, *login(hub.root, "hub"))
    try:
        assert not anonymous.accepted
        assert not wrong.accepted
        assert right.accepted
    finally:
        for session in (anonymous, wrong, right):
            session.close()


@pytest.mark.broker
def test_each_login_only_its_own_topics(hub: Hub) -> None:
    hub_session = Session(hub.port, *login(hub.root, "hub"))
    device = Session(hub.port, *login(hub.root, "firmware"))
    try:
        assert hub_session.accepted and device.accepted
        hub_session.subscribe("nursery/#")
        device.subscribe("nursery/nursery/stored")

        # Messages from one client arrive in order: the allowed one coming first means
        # the forbidden one, published before it, was dropped.
        device.publish("nursery/attic/reading", b"another room")
        device.publish("nursery/nursery/reading", b"own room")
        assert hub_session.next()[:2] == ("nursery/nursery/reading", b"own room")

        # The hub stores receipts but cannot fake a device's reading.
        hub_session.publish("nursery/nursery/reading", b"fake")
        hub_session.publish("nursery/nursery/stored", b"receipt")
        assert hub_session.next()[:2] == ("nursery/nursery/stored", b"receipt")
        assert device.next()[:2] == ("nursery/nursery/stored", b"receipt")
        assert hub_session.messages.empty()
        assert device.messages.empty()
    finally:
        hub_session.close()
        device.close()


@pytest.mark.broker
def test_acl_lets_each_login_use_the_topics_the_code_publishes(hub: Hub) -> None:
    from contract import topics
    from contract.topics import hub_availability_topic, room_state_topic

    base, room = "nursery", "nursery"
    device_topics = [
        build(base, room)
        for build in (
            topics.reading_topic,
            topics.status_topic,
            topics.fault_topic,
            topics.health_topic,
            topics.episode_topic,
        )
    ]
    hub_topics = [
        topics.alert_topic(base, room),
        topics.stored_topic(base, room),
        room_state_topic(base, room),
        hub_availability_topic(base),
        "homeassistant/device/nursery_monitor_nursery_nursery/config",
    ]
    hub_session = Session(hub.port, *login(hub.root, "hub"))
    device = Session(hub.port, *login(hub.root, "firmware"))
    try:
        hub_session.subscribe("nursery/#")
        hub_session.subscribe("homeassistant/#")
        for topic in device_topics:
            device.publish(topic, b"device")
        for topic in hub_topics:
            hub_session.publish(topic, b"hub")
        expected = device_topics + hub_topics
        assert hub_session.topics(len(expected)) == expected
    finally:
        hub_session.close()
        device.close()


@pytest.mark.broker
def test_a_pi_cannot_answer_alerts_or_speak_for_the_hub(hub: Hub) -> None:
    """A room's Pi (or whoever has its password) may not acknowledge or snooze its room's
    alert, nor forge the alert state, the room state or the hub's receipts."""
    from contract import topics
    from contract.topics import room_state_topic

    base, room = "nursery", "nursery"
    forbidden = [
        topics.command_topic(base, room),
        topics.alert_topic(base, room),
        topics.stored_topic(base, room),
        topics.episode_stored_topic(base, room),
        room_state_topic(base, room),
        f"{base}/hub/availability",
        "homeassistant/device/nursery_monitor_nursery_nursery/config",
    ]
    hub_session = Session(hub.port, *login(hub.root, "hub"))
    device = Session(hub.port, *login(hub.root, "firmware"))
    try:
        hub_session.subscribe("nursery/#")
        hub_session.subscribe("homeassistant/#")
        device.publish(topics.command_topic(base, room), b"ack")
        for topic in forbidden[1:]:
            device.publish(topic, b"forged")
        # One client's messages arrive in order: the allowed one first means none of the
        # forbidden ones, published before it, got through.
        device.publish(topics.reading_topic(base, room), b"own reading")
        assert hub_session.next()[:2] == (topics.reading_topic(base, room), b"own reading")
        assert hub_session.messages.empty()
    finally:
        hub_session.close()
        device.close()


@pytest.mark.broker
def test_nobody_can_take_the_hubs_session_by_its_client_id(hub: Hub) -> None:
    """The hub's session (and the readings queued in it) is tied to the hub's login: a
    client that connects with the hub's client id neither kicks the hub off nor gets its
    messages; without a login it is refused."""
    hub_id = "nursery-hub"
    hub_session = Session(hub.port, *login(hub.root, "hub"), client_id=hub_id)
    anonymous = Session(hub.port, client_id=hub_id)
    impostor = Session(hub.port, *login(hub.root, "firmware"), client_id=hub_id)
    try:
        assert hub_session.accepted
        assert not anonymous.accepted
        assert impostor.accepted  # a real login: it connects, under its own name
        hub_session.subscribe("nursery/#")
        impostor.publish("nursery/nursery/reading", b"after the impostor came")
        assert hub_session.next()[:2] == ("nursery/nursery/reading", b"after the impostor came")
        assert hub_session.disconnects.empty(), "the impostor took over the hub's session"
        assert impostor.messages.empty()
    finally:
        for session in (hub_session, anonymous, impostor):
            session.close()


@pytest.mark.broker
def test_broker_config_persists_and_queues(hub: Hub) -> None:
    conf = (hub.root / "etc/mosquitto/conf.d/nursery.conf").read_text()
    lines = {line.strip() for line in conf.splitlines()}
    assert {
        f"listener {hub.port} 127.0.0.1",
        "allow_anonymous false",
        f"password_file {hub.root}/etc/mosquitto/nursery.passwd",
        f"acl_file {hub.root}/etc/mosquitto/nursery.acl",
        "persistence true",
        "autosave_interval 60",
        "max_queued_messages 100000",
        "max_inflight_messages 100",
        "set_tcp_nodelay true",
    } <= lines
    # Debian's mosquitto.conf sets it already; a second one stops Mosquitto from starting.
    assert not any(line.startswith("persistence_location") for line in lines)


@pytest.mark.broker
def test_retained_state_survives_a_broker_restart(tmp_path: Path) -> None:
    port = free_port()
    debian_mosquitto_conf(tmp_path)
    installed(tmp_path, f"--role hub --mqtt-port {port} --mqtt-listen 127.0.0.1")
    broker = InstalledBroker(tmp_path, port)
    broker.start()
    try:
        publisher = Session(port, *login(tmp_path, "hub"))
        publisher.publish("nursery/nursery/alert", b"kept", retain=True)
        publisher.close()
        broker.stop()  # SIGTERM: Mosquitto writes its database on the way out
        assert (tmp_path / "var/lib/mosquitto/mosquitto.db").is_file()
        broker.start()
        reader = Session(port, *login(tmp_path, "hub"))
        reader.subscribe("nursery/nursery/alert")
        assert reader.next() == ("nursery/nursery/alert", b"kept", True)
        reader.close()
    finally:
        broker.stop()


def test_without_debian_conf_the_broker_gets_a_persistence_location(tmp_path: Path) -> None:
    installed(tmp_path, "--role hub")
    conf = (tmp_path / "etc/mosquitto/conf.d/nursery.conf").read_text()
    assert f"\npersistence_location {tmp_path}/var/lib/mosquitto/\n" in conf
    assert "\nlistener 1883\n" in conf


def unit(root: Path, name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((root / "etc/systemd/system" / name).read_text())
    return parser


@pytest.mark.broker
def test_units_restart_and_watch_the_hub(hub: Hub) -> None:
    venv = f"{hub.root}/opt/nursery-monitor/venv/bin/nursery"
    config = f"{hub.root}/{ETC}/nursery.toml"
    data = f"{hub.root}/var/lib/nursery-monitor"
    hub_unit = unit(hub.root, "nursery-hub.service")["Service"]
    firmware_unit = unit(hub.root, "nursery-firmware.service")["Service"]
    for service, command in ((hub_unit, "hub"), (firmware_unit, "firmware")):
        assert service["ExecStart"] == f"{venv} {command} --config {config}"
        assert service["EnvironmentFile"] == f"{hub.root}/{ETC}/{command}.env"
        assert service["Restart"] == "on-failure"
        assert service["RestartSec"] == "5"
        assert service["User"] == "nursery"
        assert service["WorkingDirectory"] == data
        assert service["ReadWritePaths"] == data
        assert service["ProtectSystem"] == "strict"
        for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
            assert service[key] == "yes"
    for service in (hub_unit, firmware_unit):  # READY=1, then pings while the loops turn
        assert service["Type"] == "notify"
        assert service["NotifyAccess"] == "main"
        assert service["WatchdogSec"] == "60"
    assert hub_unit["Environment"] == "MALLOC_ARENA_MAX=2"  # a Pi Zero's 512 MB
    assert firmware_unit["SupplementaryGroups"] == "gpio"
    # The sensor driver needs /dev/gpiochip*: nothing may hide devices from the firmware.
    assert "PrivateDevices" not in firmware_unit
    assert "DeviceAllow" not in firmware_unit
    assert "ProtectClock" not in firmware_unit
    assert "mosquitto.service" in unit(hub.root, "nursery-hub.service")["Unit"]["Wants"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd is not installed")
@pytest.mark.broker
def test_systemd_analyze_verify_accepts_the_units(hub: Hub) -> None:
    stub = hub.root / "opt/nursery-monitor/venv/bin/nursery"  # verify wants ExecStart to exist
    stub.parent.mkdir(parents=True, exist_ok=True)
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    units = [
        str(hub.root / "etc/systemd/system" / name)
        for name in ("nursery-hub.service", "nursery-firmware.service")
    ]
    result = subprocess.run(
        ["systemd-analyze", "verify", *units],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )
    # Unknown keys and bad values are only warnings (exit 0): fail on any line about ours.
    complaints = [
        line for line in (result.stdout + result.stderr).splitlines() if "nursery-" in line
    ]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr


@pytest.mark.broker
def test_nursery_toml_loads_for_each_service(hub: Hub, clean_env: pytest.MonkeyPatch) -> None:
    from nursery.config import load_settings

    config = hub.root / ETC / "nursery.toml"
    assert mode(config) == 0o600
    for service in ("hub", "firmware"):
        for key, value in read_env(hub.root / ETC / f"{service}.env").items():
            clean_env.setenv(key, value)
        settings = load_settings(config)
        assert settings.mqtt.username == login(hub.root, service)[0]
        assert settings.mqtt.password is not None
        assert settings.mqtt.password.get_secret_value() == login(hub.root, service)[1]
        assert (settings.mqtt.host, settings.mqtt.port) == ("localhost", hub.port)
        assert settings.firmware.room == "nursery"
        assert settings.firmware.pin == 4
        assert (settings.firmware.led_pin, settings.firmware.button_pin) == (17, 27)
        assert settings.firmware.outbox == hub.root / "var/lib/nursery-monitor/outbox.db"
        assert settings.hub.db == hub.root / "var/lib/nursery-monitor/nursery.db"
        assert settings.hub.http_host == "0.0.0.0"


@pytest.mark.broker
def test_the_commented_pins_load_once_uncommented(
    hub: Hub, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Fitting the optional parts is taking away a '#': the pins written there agree."""
    from nursery.config import load_settings

    text = (hub.root / ETC / "nursery.toml").read_text()
    for key in ("buzzer_pin", "power_pin", "cold_led_pin"):
        assert f"# {key} = " in text
        text = text.replace(f"# {key} = ", f"{key} = ")
    config = tmp_path / "nursery.toml"
    config.write_text(text)
    firmware = load_settings(config).firmware
    assert firmware.pins() == {
        "pin": 4,
        "led_pin": 17,
        "button_pin": 27,
        "buzzer_pin": 22,
        "power_pin": 23,
        "cold_led_pin": 24,
    }


def test_running_again_keeps_options_passwords_and_your_settings(tmp_path: Path) -> None:
    installed(tmp_path, "--role both --room kids --mqtt-port 1999 --data /srv/nursery")
    before = {path: path.read_text() for path in tmp_path.rglob("*") if path.is_file()}
    config = tmp_path / ETC / "nursery.toml"
    config.write_text(config.read_text() + '\n# urls = ["my own edit"]\n')
    edited = config.read_text()

    output = installed(tmp_path, "")  # an update: no options, everything as last time
    after = {path: path.read_text() for path in tmp_path.rglob("*") if path.is_file()}
    assert after.pop(config) == edited
    assert "keeping" in output
    # Only the password hashes change (a new salt each time); the logins stay the same.
    passwd = tmp_path / "etc/mosquitto/nursery.passwd"
    assert [line.split(":")[0] for line in after.pop(passwd).splitlines()] == [
        line.split(":")[0] for line in before[passwd].splitlines()
    ]
    assert after == {path: text for path, text in before.items() if path not in (config, passwd)}
    assert login(tmp_path, "firmware")[0] == "firmware-kids"
    assert (
        f"ReadWritePaths={tmp_path}/srv/nursery\n"
        in after[tmp_path / "etc/systemd/system/nursery-firmware.service"]
    )


@pytest.mark.broker
def test_a_second_room_gets_its_own_login(hub: Hub, tmp_path: Path) -> None:
    output = installed(hub.root, "add-device bedroom")
    secret = hub.root / ETC / "devices/bedroom.password"
    assert mode(secret) == 0o600
    assert secret.read_text().strip() not in output
    acl = (hub.root / "etc/mosquitto/nursery.acl").read_text()
    assert "user firmware-bedroom\ntopic write nursery/bedroom/reading\n" in acl

    # The bedroom Pi: firmware only, pointed at the hub, with the password from add-device.
    installed(
        tmp_path,
        f"--role firmware --room bedroom --broker hub.local --mqtt-port {hub.port}"
        f" --password-file {secret}",
    )
    assert login(tmp_path, "firmware") == ("firmware-bedroom", secret.read_text().strip())
    assert not (tmp_path / "etc/mosquitto").exists()
    assert not (tmp_path / "etc/systemd/system/nursery-hub.service").exists()
    toml = (tmp_path / ETC / "nursery.toml").read_text()
    assert 'host = "hub.local"' in toml and "[hub]" not in toml

    hub.broker.reload()
    bedroom = Session(hub.port, *login(tmp_path, "firmware"))
    reader = Session(hub.port, *login(hub.root, "hub"))
    try:
        reader.subscribe("nursery/+/reading")
        bedroom.publish("nursery/nursery/reading", b"not my room")
        bedroom.publish("nursery/bedroom/reading", b"mine")
        assert reader.next()[:2] == ("nursery/bedroom/reading", b"mine")
    finally:
        bedroom.close()
        reader.close()

    installed(hub.root, "remove-device bedroom")
    hub.broker.reload()
    assert "firmware-bedroom" not in (hub.root / "etc/mosquitto/nursery.passwd").read_text()
    refused = Session(hub.port, *login(tmp_path, "firmware"))
    refused.close()
    assert not refused.accepted


@pytest.mark.slow
def test_a_kept_nursery_toml_must_agree_with_the_options(tmp_path: Path) -> None:
    installed(tmp_path, "--role both --room kids")
    result = install(tmp_path, "--room attic --sensor dht11")
    assert result.returncode != 0
    assert "firmware.room is 'kids' there, 'attic' here" in result.stderr
    assert "firmware.sensor is 'dht22' there, 'dht11' here" in result.stderr
    assert login(tmp_path, "firmware")[0] == "firmware-kids"  # nothing was changed


def test_refuses_what_cannot_work(tmp_path: Path) -> None:
    cases = {
        "--role firmware --room bedroom": "--password-file",
        "--room 'Bad Room'": "--room",
        "--room hub": "taken",
        "--role hub --broker elsewhere": "--broker",
        "--role sensor": "--role",
        "add-device": "usage",
        "add-device attic": "no hub installed",
    }
    for args, message in cases.items():
        result = install(tmp_path, args)
        assert result.returncode != 0, args
        assert message in result.stderr, (args, result.stderr)


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("shellcheck"), reason="shellcheck is not installed")
def test_shellcheck() -> None:
    result = subprocess.run(
        ["shellcheck", str(SCRIPT)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout


def pip_install(output: str) -> tuple[list[str], list[str]]:
    """The venv and `pip install` commands the installer would run (it prints them with
    --output)."""
    line = next(
        line for line in output.splitlines() if "(--output) skipped:" in line and " -m venv" in line
    )
    venv, pip = line.split("skipped: ", 1)[1].split("; ")
    return shlex.split(venv), shlex.split(pip)


def test_without_from_it_installs_the_checkout_it_is_in_never_the_index(tmp_path: Path) -> None:
    """`nursery-monitor` on the package index is not this project's name: whoever holds it
    would have their code run as root. The default is the clone the script lives in."""
    _, args = pip_install(installed(tmp_path, "--role hub"))
    assert args[-1] == f"{ROOT}[hub]"
    assert args[args.index("--constraint") + 1] == str(ROOT / "constraints.txt")
    assert not any(arg.startswith("nursery-monitor") for arg in args)


def test_a_copy_of_the_script_outside_a_checkout_refuses(tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere/scripts/install-pi"
    copy.parent.mkdir(parents=True)
    shutil.copy(SCRIPT, copy)
    result = subprocess.run(
        ["bash", str(copy), "--role", "hub", "--output", str(tmp_path / "pi")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "is not a nursery-monitor checkout" in result.stderr
    assert "--from PATH" in result.stderr


@pytest.mark.parametrize(
    ("role", "extras"),
    [
        # A Pi that only reads a sensor: no web stack (docs/install.md has the sizes).
        ("firmware", "firmware,pi"),
        ("hub", "hub"),
        ("both", "firmware,hub,pi"),
    ],
)
def test_each_role_installs_its_extras_pinned_by_the_constraints(
    tmp_path: Path, role: str, extras: str
) -> None:
    password = tmp_path / "password"
    password.write_text("a-password-from-add-device\n")
    options = f"--role {role} --from {ROOT}"
    if role == "firmware":
        options += f" --broker hub.local --password-file {password}"
    venv, args = pip_install(installed(tmp_path / "pi", options))
    assert args[-1] == f"{ROOT}[{extras}]"
    assert args[args.index("--constraint") + 1] == str(ROOT / "constraints.txt")
    assert (ROOT / "constraints.txt").is_file()
    # A venv without pip of its own (25 MB of a firmware-only Pi's), which the system's
    # pip installs into.
    target = str(tmp_path / "pi/opt/nursery-monitor/venv")
    assert venv[1:] == ["-m", "venv", "--without-pip", target]
    assert args[:4] == [venv[0], "-m", "pip", "--python"] and args[4] == f"{target}/bin/python"
