"""POST /api/settings/preview: before a threshold is saved, what the last 7 days of stored
readings would have paged with it, beside what the settings in force would have; over
real HTTP on the real hub, computed by the replay the CLI uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nursery.config import Settings
from tests.support import Mosquitto, RunningHub, StartHub, hub_settings
from tests.support.replay import REPLAY_DATA, replay_file, store_trace


@pytest.fixture
def hub(tmp_path: Path, broker: Mosquitto, base_topic: str, start_hub: StartHub) -> RunningHub:
    settings = hub_settings(tmp_path, broker.port, base_topic)
    store_trace(
        settings.hub.db, REPLAY_DATA / "cold-night.csv", datetime.now(UTC) - timedelta(days=2)
    )
    return start_hub(settings)


def test_a_lower_cold_threshold_previews_fewer_pushes_and_saves_nothing(hub: RunningHub) -> None:
    answer = hub.post("/api/settings/preview", json={"cold_below_c": 15})
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert preview["days"] == 7
    now = [a["condition"] for a in preview["alerts_now"]]
    changed = [a["condition"] for a in preview["alerts_changed"]]
    assert "cold" in now and "cold" not in changed  # 15.2 °C at the coldest
    assert preview["pushes_changed"] < preview["pushes_now"]
    assert preview["summary"] == (
        f"With these settings, the last 7 days would have sent {preview['pushes_changed']} "
        f"pushes instead of {preview['pushes_now']}."
    )
    cold = next(a for a in preview["alerts_now"] if a["condition"] == "cold")
    assert cold["label"] == "Room is cold"
    assert cold["pushes"][0]["title"] == "Nursery: room is cold (15.8 °C)"
    assert hub.get("/api/settings").json()["thresholds"]["cold_below_c"]["value_c"] == 16.0


def test_the_preview_is_the_cli_replay_of_the_same_readings(hub: RunningHub) -> None:
    """The same alerts and pushes as `nursery replay` of the trace; the preview runs on to
    now, so an alert still open when the trace ends keeps repeating there."""
    preview = hub.post("/api/settings/preview", json={"preset": "who"}).json()
    expected = replay_file(REPLAY_DATA / "cold-night.csv", Settings(rules={"preset": "who"}))
    night = [a for a in preview["alerts_changed"] if a["condition"] != "no_data"]
    assert [a["condition"] for a in night] == [a.condition.value for a in expected.alerts]
    for got, want in zip(night, expected.alerts, strict=True):
        pushes = [(p["kind"], p["title"]) for p in got["pushes"]]
        assert pushes[: len(want.pushes)] == [(p.kind, p.title) for p in want.pushes]


def test_a_bad_threshold_is_refused_naming_the_field(hub: RunningHub) -> None:
    answer = hub.post("/api/settings/preview", json={"cold_below_c": 30})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"][-1] == "cold_below_c"
