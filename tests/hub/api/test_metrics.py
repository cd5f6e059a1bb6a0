"""GET /metrics as Prometheus scrapes it: behind a token, the room's figures and open alerts
as the hub sees them, nothing from the episode log, and no memory spent until scraped."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from nursery.config import Settings
from tests.support import Mosquitto, RunningHub, SteadyRoom, hub_settings, wait_until

COLD_C = 14.5


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
    steady_rooms: Callable[..., SteadyRoom],
) -> None:
    settings = hub_settings(
        tmp_path, broker.port, base_topic, rules={"cold_for_s": 0.3, "stale_after_s": 60.0}
    )
    hub = start_hub(settings)
    assert httpx.get(hub.url + "/metrics", timeout=5).status_code == 401
    steady_rooms(settings, temperature_c=COLD_C)
    room = (("room", "nursery"),)
    alert = (("room", "nursery"), ("severity", "alert"))
    samples = wait_until(
        lambda: (s := scrape(hub)).get(("nursery_open_alerts", alert)) == 1 and s,
        timeout=20,
        what="the cold alert in /metrics",
    )
    assert samples[("nursery_room_temperature_celsius", room)] == COLD_C
    assert samples[("nursery_room_humidity_percent", room)] == 50.0
    assert 0 <= samples[("nursery_room_seconds_since_reading", room)] < 30
    assert samples[("nursery_room_online", room)] == 1
    assert samples[("nursery_mqtt_connected", ())] == 1
    assert samples[("nursery_readings_stored_total", ())] >= 1
    assert samples[("nursery_open_alerts", (("room", "nursery"), ("severity", "warning")))] == 0
    # Health data never leaves through here.
    assert "episode" not in hub.get("/metrics").text.lower()


@pytest.mark.slow
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
