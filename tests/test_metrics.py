"""GET /metrics as Prometheus scrapes it: behind a token, the room's figures and open alerts
as the hub sees them, nothing from the episode log, and no memory spent until scraped."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from firmware.contract import ReadingMessage, new_boot_id
from firmware.publisher import Publisher
from nursery.config import Settings
from tests.conftest import Mosquitto, RunningHub, hub_settings, wait_until

COLD_C = 14.5


class ColdRoom:
    """The Pi sending a cold room, every 100 ms."""

    def __init__(self, settings: Settings) -> None:
        self.boot_id = new_boot_id()
        self.publisher = Publisher(settings, self.boot_id)
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            reading = ReadingMessage(
                "nursery", self.boot_id, self.sent, datetime.now(UTC), COLD_C, 48.0
            )
            self.publisher.publish_reading(reading)
            self.sent += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.publisher.close()


@pytest.fixture
def cold_room() -> Iterator[Callable[[Settings], ColdRoom]]:
    rooms: list[ColdRoom] = []

    def start(settings: Settings) -> ColdRoom:
        rooms.append(ColdRoom(settings))
        return rooms[-1]

    yield start
    for room in rooms:
        room.stop()


def scrape(hub: RunningHub) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = hub.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_metrics_show_the_room_and_its_open_alert_to_a_token_only(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    start_hub: Callable[[Settings], RunningHub],
    cold_room: Callable[[Settings], ColdRoom],
) -> None:
    settings = hub_settings(
        tmp_path, broker.port, base_topic, rules={"cold_for_s": 0.3, "stale_after_s": 60.0}
    )
    hub = start_hub(settings)
    assert httpx.get(hub.url + "/metrics", timeout=5).status_code == 401
    cold_room(settings)
    room = (("room", "nursery"),)
    alert = (("room", "nursery"), ("severity", "alert"))
    samples = wait_until(
        lambda: (s := scrape(hub)).get(("nursery_open_alerts", alert)) == 1 and s,
        timeout=20,
        what="the cold alert in /metrics",
    )
    assert samples[("nursery_room_temperature_celsius", room)] == COLD_C
    assert samples[("nursery_room_humidity_percent", room)] == 48.0
    assert 0 <= samples[("nursery_room_seconds_since_reading", room)] < 30
    assert samples[("nursery_room_online", room)] == 1
    assert samples[("nursery_mqtt_connected", ())] == 1
    assert samples[("nursery_readings_stored_total", ())] >= 1
    assert samples[("nursery_open_alerts", (("room", "nursery"), ("severity", "warning")))] == 0
    # Health data never leaves through here.
    assert "episode" not in hub.get("/metrics").text.lower()


def test_a_hub_nobody_scrapes_never_loads_prometheus_client(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from hub.app import create_app\n"
        "from nursery.config import Settings\n"
        f"app = create_app(Settings(hub={{'db': {str(tmp_path / 'hub.db')!r}}}), ingest=False)\n"
        "with TestClient(app, base_url='http://localhost') as client:\n"
        "    assert client.get('/livez').status_code == 200\n"
        "print('prometheus_client' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False", result.stderr
