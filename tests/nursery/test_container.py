"""The container image's entrypoint, run as the image runs it but without an engine: a
non-root user, one data folder, Debian's Mosquitto beside the hub (docs/container.md)."""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import stat
import uuid
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.container import Entrypoint, PiLogin, run, volume
from tests.support.env import mqtt_env
from tests.support.mosquitto import Mosquitto
from tests.support.ports import free_port
from tests.support.rooms import Monitor
from tests.support.wait import wait_until

ROOM = "nursery"


def _stored(data: Path) -> list[tuple[float]] | None:
    """The temperatures in the volume's database, or None before it has its tables."""
    db = sqlite3.connect(data / "nursery.db")
    try:
        return db.execute("SELECT temperature_c FROM readings").fetchall()
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()


def _anonymous(port: int) -> str:
    """What the container's broker answers a client with no login."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="anonymous")
    answers: queue.Queue[str] = queue.Queue()
    client.on_connect = lambda c, u, f, reason, p: answers.put(str(reason))
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        return answers.get(timeout=10)
    finally:
        client.loop_stop()
        client.disconnect()


@pytest.mark.broker
@pytest.mark.slow
def test_the_image_entrypoint_runs_the_hub_and_its_broker_from_one_volume() -> None:
    """A NAS's first start: the settings file is written 0600, the hub and its own
    Mosquitto run as the volume's user, a Pi's reading arrives over MQTT with its own
    login and lands in the volume's database, and the health check passes; a restart
    keeps every file."""
    base = f"nursery-{uuid.uuid4().hex[:8]}"
    mqtt_port, http_port = free_port(), free_port()
    env = {
        "NURSERY_MQTT__PORT": str(mqtt_port),
        "NURSERY_MQTT__BASE_TOPIC": base,
        "NURSERY_HUB__HTTP_PORT": str(http_port),
        "NURSERY_HUB__HTTP_HOST": "127.0.0.1",
    }
    with volume() as data:
        with Entrypoint(data, env, "hub", "--with-mosquitto") as hub:
            config = data / "nursery.toml"
            wait_until(config.exists, what="the first start's nursery.toml")
            assert stat.S_IMODE(config.stat().st_mode) == 0o600
            assert config.stat().st_uid == data.stat().st_uid
            first_config = config.read_text()
            healthy = wait_until(
                lambda: (result := run(data, env, "health"))[0] == 0 and result,
                timeout=30,
                what=f"a healthy hub: {hub.output()[-2000:]}",
            )
            assert "healthy" in healthy[1]

            code, added = run(data, env, "add-device", ROOM)
            assert code == 0, added
            assert _anonymous(mqtt_port) == "Not authorized"  # no anonymous access
            pi = PiLogin(mqtt_port, added, base, ROOM)
            assert pi.login == f"firmware-{ROOM}"
            try:
                pi.send_reading(17.25)
            finally:
                pi.close()
            assert hub.stop() == 0, hub.output()[-2000:]

        # A second start keeps the settings and the logins; the reading is still there.
        with Entrypoint(data, env, "hub", "--with-mosquitto") as again:
            wait_until(
                lambda: run(data, env, "health")[0] == 0, timeout=30, what="the restarted hub"
            )
            assert config.read_text() == first_config
            assert run(data, env, "add-device", ROOM)[1] == added
            assert again.stop() == 0, again.output()[-2000:]
        assert _stored(data) == [(17.25,)]
        for path in (data / "nursery.db", data / "mosquitto" / "passwd"):
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_the_entrypoint_runs_the_hub_on_a_broker_of_ones_own(
    broker: Mosquitto, monitor: Callable[[str], Monitor], base_topic: str
) -> None:
    """Without --with-mosquitto the hub uses the broker its settings name (Home
    Assistant's, say) and keeps its database in the volume."""
    env = {
        **mqtt_env(broker.port, base_topic),
        "NURSERY_HUB__HTTP_PORT": str(free_port()),
        "NURSERY_HUB__HTTP_HOST": "127.0.0.1",
    }
    with volume() as data, Entrypoint(data, env, "hub") as hub:
        wait_until(lambda: run(data, env, "health")[0] == 0, timeout=30, what="a healthy hub")
        monitor(ROOM).reading(18.5, 45.0)
        wait_until(lambda: _stored(data) == [(18.5,)], what="the reading in the volume")
        assert hub.stop() == 0, hub.output()[-2000:]


@pytest.mark.slow
def test_the_entrypoint_keeps_a_settings_file_the_user_edited() -> None:
    with volume() as data:
        code, text = run(data, {}, "health")
        assert code == 1 and "did not answer" in text
        config = data / "nursery.toml"
        edited = config.read_text().replace("http_port = 8000", "http_port = 8123")
        config.write_text(edited)
        code, text = run(data, {}, "health")
        assert "127.0.0.1:8123" in text
        assert config.read_text() == edited


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to start the entrypoint as root")
def test_the_entrypoint_refuses_to_run_as_root() -> None:
    with volume() as data:
        code, text = run(data, {}, "hub", root=True)
        assert code == 2
        assert "refusing to run as root" in text
        assert not (data / "nursery.toml").exists()


def test_a_volume_the_user_cannot_write_is_named_with_the_fix() -> None:
    with volume() as data:
        data.chmod(0o500)
        code, text = run(data, {}, "hub")
        assert code == 2
        assert f"{data} is not writable by uid" in text and "chown -R" in text


@pytest.mark.broker
@pytest.mark.slow
def test_a_broker_that_dies_stops_the_container_for_its_restart_policy() -> None:
    """With --with-mosquitto the hub without its broker would only look alive: both stop,
    and the container exits non-zero, so the engine starts both again."""
    env = {
        "NURSERY_MQTT__PORT": str(free_port()),
        "NURSERY_HUB__HTTP_PORT": str(free_port()),
        "NURSERY_HUB__HTTP_HOST": "127.0.0.1",
    }
    with volume() as data, Entrypoint(data, env, "hub", "--with-mosquitto") as hub:
        wait_until(lambda: run(data, env, "health")[0] == 0, timeout=30, what="a healthy hub")
        pid = int((data / "mosquitto" / "mosquitto.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        assert hub.proc.wait(30) != 0
        assert "mosquitto stopped" in hub.output()
        assert run(data, env, "health")[0] == 1  # the hub went with it
