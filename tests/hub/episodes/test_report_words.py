"""The report, its PDF and the episode form speak the caregivers' unit once °F is chosen,
state the accuracy of the room's own sensor model, and refuse an episode in plain words
(no field names). The real hub on a real Mosquitto, over real HTTP."""

from __future__ import annotations

import html
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from pypdf import PdfReader

from contract.messages import HealthMessage, new_boot_id
from contract.topics import health_topic
from tests.support import Mosquitto, RunningHub, StartHub, hub_settings, wait_until
from tests.support.episodes import ROOM, cooled_hub, day_of, iso, log_past


@pytest.fixture
def hub(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    mqtt_client: mqtt.Client,
    start_hub: StartHub,
) -> RunningHub:
    """A hub whose nursery cooled from 18 °C to 15 °C over the last hour."""
    hub = start_hub(hub_settings(tmp_path, broker.port, base_topic))
    return cooled_hub(hub, mqtt_client, base_topic)


FIELD_NAMES = re.compile(r"(started_at|ended_at|duration_s|fever_c|^jerks must)")


def report_texts(hub: RunningHub, day: str) -> tuple[str, str]:
    """The report of `day` (UTC), as a page and as the PDF's text."""
    period = {"since": day, "until": day, "tz": "UTC"}
    page = hub.get("/api/episodes/report", **period)
    assert page.status_code == 200, page.text
    pdf = hub.get("/api/episodes/report.pdf", **period)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    return html.unescape(page.text), text


def announce_sensor(
    client: mqtt.Client, base: str, hub: RunningHub, sensor: str, count: int = 1
) -> None:
    health = HealthMessage(
        ROOM, new_boot_id(), datetime.now(UTC), 0, 0, None, 60, 0, {}, sensor=sensor
    )
    client.publish(health_topic(base, ROOM), health.encode(), qos=1, retain=True)
    wait_until(
        lambda: hub.get("/healthz").json()["messages"]["healths"] >= count,
        what="the hub to take the health message",
    )


def test_the_report_and_its_pdf_speak_fahrenheit_once_chosen(hub: RunningHub) -> None:
    logged = log_past(hub, fever=True, fever_c=38.6, limbs=["whole_body"])
    assert logged.status_code == 201
    page, pdf = report_texts(hub, day_of(logged))
    assert "38.6 °C" in page and "±0.5 °C" in page
    assert "±0.5 °C" in pdf or "+/-0.5 °C" in pdf

    assert hub.request("PATCH", "/api/settings", json={"unit": "F"}).is_success
    page, pdf = report_texts(hub, day_of(logged))
    for text in (page, pdf):
        assert "°C" not in text, "a °F household reads no °C"
        assert "101.5 °F" in text  # the fever
        assert "±0.9 °F" in text or "+/-0.9 °F" in text  # the DHT22's ±0.5 °C
    # The hour before: 18 → 15 °C, so the lowest is about 59 °F, the rate in °F per hour.
    assert re.search(r"lowest 5\d\.\d °F", page), page
    assert "°F/h" in page


@pytest.mark.parametrize(("model", "accuracy"), [("dht11", "2 °C"), ("sht4x", "0.2 °C")])
def test_the_report_states_the_accuracy_of_the_rooms_sensor_model(
    model: str,
    accuracy: str,
    hub: RunningHub,
    mqtt_client: mqtt.Client,
    base_topic: str,
) -> None:
    logged = log_past(hub)
    assert logged.status_code == 201
    announce_sensor(mqtt_client, base_topic, hub, model)
    page, pdf = report_texts(hub, day_of(logged))
    assert f"Room values come from the monitor's sensor (about ±{accuracy})." in page
    assert "±0.5" not in page
    assert f"+/-{accuracy}" in pdf or f"±{accuracy}" in pdf


def test_a_simulated_sensor_states_no_accuracy(
    hub: RunningHub,
    mqtt_client: mqtt.Client,
    base_topic: str,
) -> None:
    logged = log_past(hub)
    assert logged.status_code == 201
    announce_sensor(mqtt_client, base_topic, hub, "simulated")
    page, _ = report_texts(hub, day_of(logged))
    assert "Room values come from the monitor's sensor. " in page
    assert "±" not in page.split("Room values come from")[1][:40]


@pytest.mark.parametrize("unit", ["C", "F"])
def test_episode_refusals_are_plain_words_in_the_chosen_unit(hub: RunningHub, unit: str) -> None:
    assert hub.request("PATCH", "/api/settings", json={"unit": unit}).is_success
    future = iso(datetime.now(UTC) + timedelta(hours=2))
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"started_at": future}, "started_at", "That time has not come yet"),
        ({"duration_s": 0}, "duration_s", "How long it lasted must be more than 0"),
        ({"ended_at": future}, "duration_s", "Give the end time or how long it lasted, not both"),
        ({"jerks": 5000}, "jerks", "The number of jerks must be from 1 to"),
        ({"fever_c": 48.0}, "fever_c", "A baby's temperature is between"),
    ]
    for body, field, words in cases:
        answer = log_past(hub, **body)
        assert answer.status_code == 422, answer.text
        said = {str(item["loc"][1]): str(item["msg"]) for item in answer.json()["detail"]}
        assert said[field].startswith(words), said
        assert not FIELD_NAMES.search(said[field]), said[field]
    fever = {str(i["loc"][1]): str(i["msg"]) for i in log_past(hub, fever_c=48.0).json()["detail"]}
    if unit == "F":
        assert fever["fever_c"] == (
            "A baby's temperature is between 93.2 °F and 109.4 °F: check the value."
        )
    else:
        assert (
            fever["fever_c"] == "A baby's temperature is between 34 °C and 43 °C: check the value."
        )
