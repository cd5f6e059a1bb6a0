"""`nursery status` run as a maintainer runs it, beside a real hub on a real broker: all well
is exit 0; a silent room, a lost broker, a hub that is down or a failing push channel is
exit 1 with the part named. And `/healthz`, `/livez` as probes read them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from contract.messages import ReadingMessage, new_boot_id
from hub.store.database import Received, Store
from hub.store.sd_wear import BYTES_PER_READING
from nursery.config import Settings
from tests.support import (
    Mosquitto,
    RunningHub,
    SteadyRoom,
    free_port,
    hub_settings,
    wait_until,
    without_settings,
)


def status(settings: Settings) -> subprocess.CompletedProcess[str]:
    """`nursery status` in its own process, configured by environment as a service is."""
    env = without_settings()
    env.update(
        {
            "NURSERY_MQTT__HOST": settings.mqtt.host,
            "NURSERY_MQTT__PORT": str(settings.mqtt.port),
            "NURSERY_MQTT__BASE_TOPIC": settings.mqtt.base_topic,
            "NURSERY_HUB__DB": str(settings.hub.db),
            "NURSERY_HUB__HTTP_PORT": str(settings.hub.http_port),
            "NURSERY_RULES__STALE_AFTER_S": str(settings.rules.stale_after_s),
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "nursery", "status"],
        env=env,
        cwd=settings.hub.db.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def line(output: str, part: str) -> str:
    found = [row for row in output.splitlines() if row.startswith(part + " ")]
    assert found, f"no {part!r} line in:\n{output}"
    return found[0]


def test_all_well_is_exit_0_and_a_silent_room_is_exit_1_naming_it(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    start_hub: Callable[[Settings], RunningHub],
    steady_rooms: Callable[..., SteadyRoom],
) -> None:
    settings = hub_settings(tmp_path, broker.port, base_topic, rules={"stale_after_s": 2.0})
    hub = start_hub(settings)
    room = steady_rooms(settings)
    wait_until(lambda: hub.get("/api/rooms").json(), what="the room at the hub")

    well = wait_until(
        lambda: (result := status(settings)).returncode == 0 and result,
        timeout=20,
        what="status to say all is well",
    )
    assert " ok " in line(well.stdout, "broker")
    assert "mqtt ok" in line(well.stdout, "hub")
    assert "18.5 °C" in line(well.stdout, "room nursery")
    assert " ok " in line(well.stdout, "room nursery")
    assert "off" in line(well.stdout, "heartbeat")
    assert well.stdout.rstrip().endswith("all parts ok")

    room.paused.set()
    # The silence alarm can open a moment before the last reading is stale_after_s old;
    # wait for the line a person would read once both are true.
    silent = wait_until(
        lambda: (
            (result := status(settings)).returncode == 1
            and "NO FRESH READING" in line(result.stdout, "room nursery")
            and result
        ),
        timeout=20,
        what="status to notice the silent room",
    )
    assert "BAD" in line(silent.stdout, "room nursery")
    assert "NO FRESH READING" in line(silent.stdout, "room nursery")


def test_a_lost_broker_and_a_stopped_hub_are_named(
    tmp_path: Path,
    own_broker: Mosquitto,
    base_topic: str,
    start_hub: Callable[[Settings], RunningHub],
) -> None:
    settings = hub_settings(tmp_path, own_broker.port, base_topic)
    hub = start_hub(settings)
    own_broker.stop()
    wait_until(lambda: not hub.mqtt_connected(), what="the hub to lose the broker")
    lost = status(settings)
    assert lost.returncode == 1
    assert "unreachable" in line(lost.stdout, "broker")
    assert "mqtt degraded" in line(lost.stdout, "hub")

    hub.stop()
    down = status(settings)
    assert down.returncode == 1
    assert "not answering" in line(down.stdout, "hub")


def test_a_failing_push_channel_is_named_without_its_secret(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    start_hub: Callable[[Settings], RunningHub],
    steady_rooms: Callable[..., SteadyRoom],
) -> None:
    secret = f"json://127.0.0.1:{free_port()}/topic-sekrit-7f3a"
    settings = hub_settings(
        tmp_path,
        broker.port,
        base_topic,
        rules={"cold_for_s": 0.3, "stale_after_s": 60.0},
        notify={"urls": [secret]},
    )
    hub = start_hub(settings)
    steady_rooms(settings, temperature_c=14.0)
    wait_until(
        lambda: (
            (h := hub.get("/healthz")).status_code == 503
            and h.json()["parts"]["notifications"] == "degraded"
        ),
        timeout=30,
        what="the cold alert's push to fail",
    )
    result = status(settings)
    assert result.returncode == 1
    push = line(result.stdout, "push json://127.0.0.1")
    assert "BAD" in push and "last failed" in push
    assert "sekrit" not in result.stdout
    assert "Room is cold (unanswered" in line(result.stdout, "room nursery")


def test_healthz_is_503_with_the_same_body_when_degraded_and_livez_stays_200(
    tmp_path: Path,
    own_broker: Mosquitto,
    base_topic: str,
    start_hub: Callable[[Settings], RunningHub],
) -> None:
    hub = start_hub(hub_settings(tmp_path, own_broker.port, base_topic))
    healthy = httpx.get(hub.url + "/healthz", timeout=5)
    assert healthy.status_code == 200
    assert healthy.json()["status"] == "ok"
    assert healthy.json()["parts"] == {
        "mqtt": "ok",
        "notifications": "ok",
        "database": "ok",
        "alerts": "ok",
    }
    own_broker.stop()
    degraded = wait_until(
        lambda: (
            (answer := httpx.get(hub.url + "/healthz", timeout=5)).status_code == 503 and answer
        ),
        what="/healthz to answer 503",
    )
    assert degraded.json()["status"] == "degraded"
    assert degraded.json()["parts"]["mqtt"] == "degraded"
    assert set(degraded.json()) == set(healthy.json())
    # Alive all the same: a restart would not bring the broker back.
    live = httpx.get(hub.url + "/livez", timeout=5)
    assert live.status_code == 200 and live.json() == {"alive": True}


def test_status_says_what_the_sd_card_takes_a_day_at_the_last_days_pace(tmp_path: Path) -> None:
    """A day of one room at the default interval (8,640 readings), two days old readings
    not counted: the estimate is those readings × the bytes bench/sd_wear.py measured."""
    settings = hub_settings(tmp_path, free_port(), "sdwear")
    now = datetime.now(UTC)
    boot, old = new_boot_id(), new_boot_id()
    day = [
        Received(
            ReadingMessage("nursery", boot, n, now - timedelta(seconds=10 * n), 19.0, 50.0), now
        )
        for n in range(8640 - 1, -1, -1)
    ]
    before = [
        Received(
            ReadingMessage("nursery", old, n, now - timedelta(days=2, seconds=n), 19.0, 50.0), now
        )
        for n in range(500)
    ]
    with Store(settings.hub.db) as store:
        store.add_readings(before + day)
    written = line(status(settings).stdout, "sd card")
    expected_mb = round(8640 * BYTES_PER_READING / 1e6)
    assert f"about {expected_mb} MB a day written: 8,640 readings in the last 24 h" in written
    assert f"× {BYTES_PER_READING / 1000:.0f} kB each" in written
