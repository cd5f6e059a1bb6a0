"""The episode log over real HTTP: the real hub on a real Mosquitto, readings published as
the firmware would, every endpoint and every validator (each error names its field)."""

from __future__ import annotations

import csv
import io
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pypdf import PdfReader

from hub.episodes.doctor_card import emergency_text
from tests.support import Mosquitto, RunningHub, StartHub, hub_settings, wait_until
from tests.support.episodes import ROOM, cooled_hub, day_of, iso, log_past

NOTE = "private-note-7f3a"  # must never show up in a log line or on MQTT


@pytest.fixture
def hub(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    mqtt_client: mqtt.Client,
    start_hub: StartHub,
) -> RunningHub:
    """A hub whose nursery cooled from 18 °C to 15 °C over the last hour."""
    return cooled_hub(
        start_hub(hub_settings(tmp_path, broker.port, base_topic)), mqtt_client, base_topic
    )


def problem(response: httpx.Response, status: int = 422) -> dict[str, str]:
    """{field: type} of an error answer, after checking its status. The field is what
    follows body/query/path in `loc` (a list item adds its index after it)."""
    assert response.status_code == status, response.text
    return {str(item["loc"][1]): str(item["type"]) for item in response.json()["detail"]}


# --- access -------------------------------------------------------------------------------

ENDPOINTS = [
    ("GET", "/api/episodes"),
    ("POST", "/api/episodes"),
    ("POST", "/api/episodes/start"),
    ("GET", "/api/episodes/card"),
    ("GET", "/api/episodes/patterns"),
    ("GET", "/api/episodes/report.pdf"),
    ("GET", "/api/episodes/report/episodes.csv"),
    ("GET", "/api/episodes/report/readings.csv"),
    ("GET", "/api/episodes/1"),
    ("PATCH", "/api/episodes/1"),
    ("DELETE", "/api/episodes/1"),
    ("POST", "/api/episodes/1/restore"),
    ("POST", "/api/episodes/1/stop"),
]


def test_every_episode_endpoint_needs_a_caregiver(hub: RunningHub) -> None:
    assert log_past(hub, notes=NOTE).status_code == 201
    for method, path in ENDPOINTS:
        response = httpx.request(method, hub.url + path, json={}, timeout=10)
        assert response.status_code == 401, (method, path)
        assert NOTE not in response.text
        wrong = httpx.request(
            method, hub.url + path, headers={"Authorization": "Bearer nm_nope"}, timeout=10
        )
        assert wrong.status_code == 401, (method, path)
    page = httpx.get(hub.url + "/api/episodes/report", timeout=10)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    page = httpx.get(hub.url + "/episodes", timeout=10)  # a stranger is sent to sign in
    assert page.status_code == 303 and NOTE not in page.text
    assert page.headers["location"] == "/login?next=/episodes"


# --- logging, reading back, the chart's contract --------------------------------------------


def test_a_past_episode_is_logged_with_the_room_around_its_onset(hub: RunningHub) -> None:
    start = datetime.now(UTC) - timedelta(minutes=10)
    response = hub.post(
        "/api/episodes",
        json={
            "room": ROOM,
            "started_at": iso(start),
            "duration_s": 42.5,
            "limbs": ["right_leg", "left_leg"],
            "alert": True,
            "state": "asleep",
            "notes": "  after the feed ",
        },
    )
    assert response.status_code == 201, response.text
    episode = response.json()
    assert episode["duration_s"] == 42.5
    assert episode["ended_at"] is not None and not episode["running"]
    assert episode["limbs"] == ["left_leg", "right_leg"]
    assert episode["notes"] == "after the feed"
    assert episode["signs"] == [] and episode["source"] == "app"
    assert response.headers["cache-control"] == "no-store"
    snap = episode["snapshot"]
    # Readings fell 0.05 °C a minute from 18 °C: 50 minutes in, 15.5 °C.
    assert snap["temperature_c"] == pytest.approx(15.5, abs=0.06)
    assert snap["lowest_c"] == pytest.approx(15.5, abs=0.06)
    assert snap["trend"] == "falling" and snap["trend_c_per_h"] == pytest.approx(-3.0)
    assert snap["cold_below_c"] == 16.0
    assert snap["minutes_below_cold"] == pytest.approx(10.0, abs=1.1)
    assert snap["readings"] >= 50

    assert hub.get(f"/api/episodes/{episode['id']}").json()["id"] == episode["id"]
    listed = hub.get(
        "/api/episodes",
        since=iso(start - timedelta(minutes=1)),
        until=iso(start + timedelta(minutes=5)),
        room=ROOM,
    ).json()
    assert [item["id"] for item in listed] == [episode["id"]]
    # What the chart draws its markers from.
    assert {"id", "room", "started_at", "ended_at"} <= set(listed[0])
    assert hub.get("/api/episodes", room="bedroom").json() == []
    assert hub.get("/api/episodes", since=iso(start + timedelta(minutes=1))).json() == []


def test_untimed_and_given_end(hub: RunningHub) -> None:
    start = datetime.now(UTC) - timedelta(minutes=20)
    untimed = log_past(hub, started_at=iso(start), duration_s=None, timed=False).json()
    assert (
        untimed["timed"] is False and untimed["duration_s"] is None and untimed["ended_at"] is None
    )
    later = start + timedelta(minutes=5)
    ended = log_past(
        hub, started_at=iso(later), duration_s=None, ended_at=iso(later + timedelta(seconds=9))
    )
    assert ended.status_code == 201 and ended.json()["duration_s"] == 9


# --- validators -----------------------------------------------------------------------------

SOON = timedelta(minutes=10)


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"started_at": "FUTURE"}, "started_at", "episode.future"),
        ({"started_at": "2026-11-23T02:10:00"}, "started_at", "timezone_aware"),
        ({"started_at": "yesterday"}, "started_at", "datetime_from_date_parsing"),
        ({"duration_s": 0}, "duration_s", "episode.bad_duration"),
        ({"duration_s": None, "ended_at": "BEFORE"}, "ended_at", "episode.end_before_start"),
        ({"duration_s": None, "ended_at": "FUTURE"}, "ended_at", "episode.future"),
        ({"ended_at": "FUTURE"}, "duration_s", "episode.end_twice"),
        ({"duration_s": None}, "ended_at", "episode.missing_end"),
        ({"timed": False}, "duration_s", "episode.untimed_end"),
        ({"room": "attic"}, "room", "episode.unknown_room"),
        ({"room": "Baby Room"}, "room", "episode.bad_room"),
        ({"limbs": ["tail"]}, "limbs", "literal_error"),
        ({"state": "dreaming"}, "state", "literal_error"),
        ({"cluster": True, "jerks": 1}, "jerks", "episode.cluster_of_one"),
        ({"jerks": 5000}, "jerks", "episode.bad_jerks"),
        ({"fever_c": 45}, "fever_c", "episode.bad_fever"),
        ({"notes": "x" * 2001}, "notes", "episode.long_notes"),
    ],
)
def test_each_bad_field_is_named(
    hub: RunningHub, body: dict[str, Any], field: str, code: str
) -> None:
    now = datetime.now(UTC)
    words = {
        "FUTURE": iso(now + timedelta(hours=1)),
        "BEFORE": iso(now - SOON - timedelta(minutes=1)),
    }
    body = {k: words.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    assert problem(log_past(hub, **body)).get(field) == code
    assert hub.get("/api/episodes").json() == []  # nothing was stored


def test_an_overlap_in_the_same_room_is_refused(hub: RunningHub) -> None:
    first = log_past(hub).json()
    start = datetime.fromisoformat(first["started_at"])
    clash = log_past(hub, started_at=iso(start + timedelta(seconds=5)))
    assert problem(clash) == {"started_at": "episode.overlap"}
    assert f"#{first['id']}" in clash.json()["detail"][0]["msg"]
    reaching = log_past(hub, started_at=iso(start - timedelta(seconds=30)), duration_s=40)
    assert problem(reaching) == {"duration_s": "episode.overlap"}


def test_query_errors_are_named(hub: RunningHub) -> None:
    now = datetime.now(UTC)
    assert problem(hub.get("/api/episodes", since=iso(now), until=iso(now - SOON))) == {
        "since": "episode.bad_range"
    }
    assert problem(hub.get("/api/episodes/patterns", tz="Mars/Olympus")) == {"tz": "episode.bad_tz"}
    assert problem(hub.get("/api/episodes/report.pdf", since="2026-11-20", until="2026-11-01")) == {
        "until": "episode.bad_period"
    }
    assert problem(hub.get("/api/episodes/report.pdf", since="2024-01-01", until="2026-01-01")) == {
        "until": "episode.bad_period"
    }
    assert problem(hub.get("/api/episodes/report/readings.csv", since="not-a-day")) == {
        "since": "date_from_datetime_parsing"
    }


# --- the stopwatch, editing, the card --------------------------------------------------------


def test_start_stop_edit_and_the_doctor_card(hub: RunningHub) -> None:
    assert hub.get("/api/episodes/card").json()["show"] is False
    started = hub.post("/api/episodes/start", json={"room": ROOM})
    assert started.status_code == 201
    running = started.json()
    assert running["running"] and running["ended_at"] is None and running["snapshot"] is not None
    assert problem(hub.post("/api/episodes/start", json={"room": ROOM}), 409) == {
        "room": "episode.running"
    }
    assert problem(hub.post("/api/episodes/start", json={"room": "attic"})) == {
        "room": "episode.unknown_room"
    }
    listed = hub.get("/api/episodes").json()
    assert [(e["id"], e["running"], e["ended_at"]) for e in listed] == [(running["id"], True, None)]

    stopped = hub.post(f"/api/episodes/{running['id']}/stop").json()
    assert not stopped["running"] and stopped["duration_s"] > 0
    assert problem(hub.post(f"/api/episodes/{running['id']}/stop"), 409) == {
        "episode_id": "episode.not_running"
    }

    edited = hub.request(
        "PATCH",
        f"/api/episodes/{running['id']}",
        json={
            "limbs": ["whole_body"],
            "alert": True,
            "fever": True,
            "fever_c": 38.3,
            "state": "waking",
        },
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["signs"] == ["whole_body", "fever"]
    assert edited.json()["duration_s"] == stopped["duration_s"]  # timing untouched
    card = hub.get("/api/episodes/card").json()
    assert card["show"] is True and card["urgency"] == "call_now"
    assert [r["code"] for r in card["reasons"]] == ["whole_body", "fever"]
    assert card["emergency_number"] == "112" and "112" in card["emergency"]
    assert card["title"] == "Call your pediatrician now"

    # Not alert and responsive: an emergency, and the card's title is the emergency sentence.
    hub.request("PATCH", f"/api/episodes/{running['id']}", json={"alert": False})
    card = hub.get("/api/episodes/card").json()
    assert card["urgency"] == "emergency" and card["title"] == card["emergency"]
    first = card["reasons"][0]
    assert (first["code"], first["urgency"]) == ("not_alert", "emergency")
    floppy = hub.request(
        "PATCH", f"/api/episodes/{running['id']}", json={"alert": True, "floppy": True}
    ).json()
    assert floppy["floppy"] is True and "floppy" in floppy["signs"]
    card = hub.get("/api/episodes/card").json()
    assert card["urgency"] == "emergency" and card["reasons"][0]["code"] == "floppy"
    hub.request("PATCH", f"/api/episodes/{running['id']}", json={"floppy": False})

    # Moving the start keeps the duration; a future start is refused by name.
    moved_to = datetime.fromisoformat(stopped["started_at"]) - timedelta(minutes=3)
    moved = hub.request(
        "PATCH", f"/api/episodes/{running['id']}", json={"started_at": iso(moved_to)}
    )
    assert moved.json()["duration_s"] == pytest.approx(stopped["duration_s"])
    assert moved.json()["snapshot"]["reading_at"] != stopped["snapshot"]["reading_at"]
    future = hub.request(
        "PATCH",
        f"/api/episodes/{running['id']}",
        json={"started_at": iso(datetime.now(UTC) + SOON)},
    )
    assert problem(future) == {"started_at": "episode.future"}
    assert problem(hub.request("PATCH", "/api/episodes/999", json={"notes": "x"}), 404) == {
        "episode_id": "episode.not_found"
    }


def test_delete_and_undo(hub: RunningHub) -> None:
    episode = log_past(hub).json()
    deleted = hub.request("DELETE", f"/api/episodes/{episode['id']}").json()
    assert deleted["deleted_at"] is not None and deleted["restorable_until"] is not None
    assert hub.get("/api/episodes").json() == []
    assert [e["id"] for e in hub.get("/api/episodes", include_deleted=True).json()] == [
        episode["id"]
    ]
    assert problem(hub.request("PATCH", f"/api/episodes/{episode['id']}", json={"notes": "x"}), 404)
    restored = hub.post(f"/api/episodes/{episode['id']}/restore").json()
    assert restored["deleted_at"] is None
    assert [e["id"] for e in hub.get("/api/episodes").json()] == [episode["id"]]
    assert problem(hub.request("DELETE", "/api/episodes/999"), 404) == {
        "episode_id": "episode.not_found"
    }


def test_the_episode_page_names_the_configured_emergency_number_before_any_script(
    tmp_path: Path, broker: Mosquitto, base_topic: str, start_hub: StartHub
) -> None:
    """A phone whose scripts have not loaded yet (or never do) still reads the number to
    call in the page's footer and on the card's call button: the one the hub is set to."""
    settings = hub_settings(tmp_path, broker.port, base_topic)
    episodes = settings.episodes.model_copy(update={"emergency_number": "999"})
    hub = start_hub(settings.model_copy(update={"episodes": episodes}))
    page = hub.get("/episodes")
    assert page.status_code == 200
    footer = re.search(r'<span id="emergency-foot">(.*?)</span>', page.text)
    assert footer is not None
    assert re.sub(r"<[^>]+>", "", footer.group(1)) == emergency_text("999")
    assert '<a class="ep-tel" href="tel:999">999</a>' in footer.group(1)
    assert 'href="tel:999">Call 999</a>' in page.text
    assert "112" not in page.text


# --- patterns, report, exports ----------------------------------------------------------------


def test_patterns_report_pdf_and_csv(hub: RunningHub) -> None:
    logged = log_past(hub, limbs=["whole_body"], fever=True, jerks=3, notes=NOTE)
    episode, today = logged.json(), day_of(logged)
    period = {"since": today, "until": today, "tz": "UTC"}
    patterns = hub.get("/api/episodes/patterns", **period).json()
    assert patterns["total"] == 1
    assert [d["count"] for d in patterns["per_day"]] == [1]
    assert {b["label"]: b["count"] for b in patterns["by_band"]}["cold"] == 1
    assert "A pattern is not a cause" in patterns["caveat"]

    page = hub.get("/api/episodes/report", **period)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "whole body" in page.text and NOTE in page.text and "cluster of 3" in page.text
    assert "@media print" not in page.text  # the print rules live in episodes.css
    assert "/static/episodes.css" in page.text

    pdf = hub.get("/api/episodes/report.pdf", **period)
    assert pdf.headers["content-type"] == "application/pdf"
    assert (
        pdf.headers["content-disposition"] == f'attachment; filename="episodes-{today}-{today}.pdf"'
    )
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "whole body" in text and "20 s" in text

    rows = list(
        csv.DictReader(io.StringIO(hub.get("/api/episodes/report/episodes.csv", **period).text))
    )
    assert [int(r["id"]) for r in rows] == [episode["id"]]
    assert rows[0]["fever"] == "yes" and rows[0]["jerks"] == "3" and rows[0]["notes"] == NOTE
    readings = hub.get("/api/episodes/report/readings.csv", **period, room=ROOM)
    assert readings.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(readings.text)))
    assert len(lines) >= 1 and {r["room"] for r in lines} == {ROOM}
    assert float(lines[-1]["temperature_c"]) == pytest.approx(15.0)


def test_episodes_never_reach_the_logs_or_mqtt(
    hub: RunningHub, broker: Mosquitto, base_topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[bytes] = []
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    # Retained messages from earlier tests on the shared broker are history, not this hub's
    # doing: only what is published while the episode is logged counts.
    watcher.on_message = lambda client, userdata, message: (
        None if message.retain else seen.append(bytes(message.payload))
    )
    watcher.connect("127.0.0.1", broker.port)
    watcher.subscribe("#", qos=1)
    watcher.loop_start()
    try:
        with caplog.at_level(logging.DEBUG):
            episode = log_past(hub, notes=NOTE, fever_c=38.9).json()
            hub.request("PATCH", f"/api/episodes/{episode['id']}", json={"notes": NOTE + "!"})
            hub.get("/api/episodes/report")
            hub.get("/api/episodes/report/episodes.csv")
            # A marker published after the requests: once it is seen, so is anything before.
            marker = f"{base_topic}/marker"
            watcher.publish(marker, b"end", qos=1)
            wait_until(lambda: b"end" in seen, what="the marker back from the broker")
    finally:
        watcher.disconnect()
        watcher.loop_stop()
    # The fever is looked for as the field it would travel in: a bare "38.9" also turns up
    # in the milliseconds of an unrelated timestamp.
    assert not any(NOTE.encode() in payload or b"fever" in payload for payload in seen)
    assert NOTE not in caplog.text and "38.9" not in caplog.text
