"""The settings a caregiver changes from the dashboard: preset, thresholds, °C/°F and their
own push channels, kept in the hub's database across restarts, over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hub import messages
from hub.accounts import Accounts
from hub.preferences import PreferenceError, Preferences
from mqttlink.rules_settings import RulesSettings
from nursery.config import Settings
from tests.support import ROOT, Mosquitto, RunningHub, StartHub, api_token, hub_settings, wait_until
from tests.support.alerting import settings_for
from tests.support.push import Receiver
from tests.support.rooms import TracePlayer


@pytest.fixture
def hub(tmp_path: Path, broker: Mosquitto, base_topic: str, start_hub: StartHub) -> RunningHub:
    return start_hub(hub_settings(tmp_path, broker.port, base_topic))


def problem(response: object) -> dict[str, str]:
    import httpx

    assert isinstance(response, httpx.Response)
    assert response.status_code == 422, response.text
    return {str(e["loc"][-1]): str(e["msg"]) for e in response.json()["detail"]}


def test_settings_start_from_the_configuration(hub: RunningHub) -> None:
    settings = hub.get("/api/settings").json()
    assert settings["unit"] == "C"
    assert settings["preset"] == "uk"
    assert settings["thresholds"]["cold_below_c"] == {"value_c": 16.0, "source": "preset"}
    assert settings["thresholds"]["hot_above_c"]["value_c"] == 24.0
    assert settings["presets"]["who"]["cold_below_c"] == 18.0


def test_a_preset_and_a_threshold_change_and_survive_a_restart(
    tmp_path: Path, broker: Mosquitto, base_topic: str, start_hub: StartHub
) -> None:
    settings = hub_settings(tmp_path, broker.port, base_topic)
    hub = start_hub(settings)
    who = hub.request("PATCH", "/api/settings", json={"preset": "who", "unit": "F"}).json()
    assert who["preset"] == "who" and who["unit"] == "F"
    assert who["thresholds"]["cold_below_c"] == {"value_c": 18.0, "source": "preset"}
    tuned = hub.request("PATCH", "/api/settings", json={"cold_below_c": 17.5}).json()
    assert tuned["thresholds"]["cold_below_c"] == {"value_c": 17.5, "source": "dashboard"}
    hub.stop()

    again = start_hub(settings)
    kept = again.get("/api/settings").json()
    assert (kept["preset"], kept["unit"]) == ("who", "F")
    assert kept["thresholds"]["cold_below_c"]["value_c"] == 17.5
    back = again.request("PATCH", "/api/settings", json={"cold_below_c": None}).json()
    assert back["thresholds"]["cold_below_c"] == {"value_c": 18.0, "source": "preset"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"unit": "K"}, "unit"),
        ({"preset": "mars"}, "preset"),
        ({"cold_below_c": "cold"}, "cold_below_c"),
        ({"cold_below_c": 45}, "cold_below_c"),
        ({"warm_above_c": 30}, "warm_above_c"),
        ({"unit": None}, "unit"),
        ({"volume": 11}, "volume"),
    ],
)
def test_a_bad_setting_is_refused_by_name_and_changes_nothing(
    hub: RunningHub, body: dict[str, object], field: str
) -> None:
    before = hub.get("/api/settings").json()
    assert field in problem(hub.request("PATCH", "/api/settings", json=body))
    assert hub.get("/api/settings").json() == before


def test_the_page_reads_the_pushes_condition_labels_from_the_hub(hub: RunningHub) -> None:
    """One source for "Room is cold", "Room is a little cool"…: the dashboard takes them
    from the hub instead of keeping its own copy, so pushes, page and report agree."""
    labels = hub.get("/api/settings").json()["labels"]
    assert labels == messages.labels()
    assert labels["cool"] == "Room is a little cool"
    assert labels["humidity_low"] == "Humidity is low"
    script = (ROOT / "dashboard" / "static" / "app.js").read_text(encoding="utf-8")
    for label in labels.values():
        assert f'"{label}"' not in script, f"app.js keeps its own copy of {label!r}"
    assert "body.labels" in script


def test_warm_above_hot_is_refused_with_the_reason(hub: RunningHub) -> None:
    errors = problem(hub.request("PATCH", "/api/settings", json={"warm_above_c": 25}))
    assert errors["warm_above_c"] == (
        "The warm note threshold (25 °C) cannot be above the hot alert threshold (24 °C). "
        "From low to high: cold, cool, warm, hot."
    )


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        # The preset's cool level is 17 °C: a cold level above it contradicts it.
        (
            {"cold_below_c": 18},
            "cold_below_c",
            "The cold alert threshold (18 °C) cannot be above the cool note threshold (17 °C)",
        ),
        (
            {"cool_below_c": 15},
            "cool_below_c",
            "The cool note threshold (15 °C) cannot be below the cold alert threshold (16 °C)",
        ),
        (
            {"warm_above_c": 16.5},
            "warm_above_c",
            "The warm note threshold (16.5 °C) cannot be below the cool note threshold (17 °C)",
        ),
        (
            {"hot_above_c": 19},
            "hot_above_c",
            "The hot alert threshold (19 °C) cannot be below the warm note threshold (20 °C)",
        ),
        # Both sent: the message still names both values.
        (
            {"cold_below_c": 19, "cool_below_c": 18},
            "cool_below_c",
            "The cool note threshold (18 °C) cannot be below the cold alert threshold (19 °C)",
        ),
    ],
)
def test_thresholds_that_contradict_each_other_are_refused_with_both_values(
    hub: RunningHub, body: dict[str, object], field: str, words: str
) -> None:
    before = hub.get("/api/settings").json()
    errors = problem(hub.request("PATCH", "/api/settings", json=body))
    assert errors[field].startswith(words), errors
    assert "_c" not in errors[field], "plain words, no field names"
    assert hub.get("/api/settings").json() == before


def test_refusals_speak_fahrenheit_once_it_is_chosen(hub: RunningHub) -> None:
    assert hub.request("PATCH", "/api/settings", json={"unit": "F"}).is_success
    order = problem(hub.request("PATCH", "/api/settings", json={"warm_above_c": 25}))
    assert order["warm_above_c"].startswith(
        "The warm note threshold (77 °F) cannot be above the hot alert threshold (75.2 °F)"
    )
    out_of_range = problem(hub.request("PATCH", "/api/settings", json={"cold_below_c": 45}))
    assert (
        out_of_range["cold_below_c"] == "The cold alert threshold must be between 14 °F and 104 °F."
    )
    for text in (*order.values(), *out_of_range.values()):
        assert "°C" not in text


def test_each_caregiver_adds_tests_and_removes_their_own_channels(
    hub: RunningHub,
    receivers: Callable[..., Receiver],
) -> None:
    receiver = receivers()
    mine = hub.post(
        "/api/caregivers/me/channels", json={"url": receiver.url(), "label": "My phone"}
    )
    assert mine.status_code == 201, mine.text
    channel = mine.json()
    assert channel["label"] == "My phone"
    assert "token" not in channel["shown"] and receiver.url() not in channel["shown"]

    sent = hub.post(f"/api/caregivers/me/channels/{channel['id']}/test").json()
    assert sent == {"sent": True, "error": None}
    assert receiver.titles() == ["Nursery monitor: test notification"]

    alex = {"Authorization": f"Bearer {api_token(hub.settings.hub.db, 'Alex')}"}
    listed = hub.get("/api/caregivers").json()
    assert [(c["name"], c["order"]) for c in listed] == [("tester", 1), ("Alex", 2)]
    assert [c["label"] for c in listed[0]["channels"]] == ["My phone"]
    as_alex = hub.request("GET", "/api/caregivers", headers=alex).json()
    assert as_alex[0]["channels"] == [], "another caregiver's channels stay private"
    path = f"/api/caregivers/me/channels/{channel['id']}"
    assert hub.post(path + "/test", headers=alex).status_code == 404
    assert hub.request("DELETE", path, headers=alex).status_code == 404

    assert hub.request("DELETE", path).status_code == 204
    assert hub.get("/api/caregivers").json()[0]["channels"] == []


def test_a_channel_apprise_cannot_use_is_refused_by_field(hub: RunningHub) -> None:
    errors = problem(hub.post("/api/caregivers/me/channels", json={"url": "nonsense://x"}))
    assert "not a notification URL Apprise knows" in errors["url"]


def test_a_failing_channel_test_says_why(hub: RunningHub) -> None:
    made = hub.post("/api/caregivers/me/channels", json={"url": "json://127.0.0.1:9/closed"})
    result = hub.post(f"/api/caregivers/me/channels/{made.json()['id']}/test").json()
    assert result["sent"] is False
    assert result["error"]


# --- without HTTP ---------------------------------------------------------------------


def test_a_configuration_change_under_a_saved_choice_lets_the_configuration_win(
    tmp_path: Path,
) -> None:
    db = tmp_path / "hub.db"
    accounts = Accounts(db)
    preferences = Preferences(db, RulesSettings(), lambda: [])
    preferences.update({"unit": "F", "warm_above_c": 23.0})
    preferences.close()
    # Later the owner sets hot_above_c = 22 in the file: 23 °C warm no longer fits.
    reopened = Preferences(db, RulesSettings(hot_above_c=22.0), lambda: [])
    household = reopened.household()
    assert household.unit == "F"
    assert household.rules.effective("warm_above_c") == 20.0
    with pytest.raises(PreferenceError) as refused:
        reopened.update({"warm_above_c": 23.0})
    assert refused.value.field == "warm_above_c"
    reopened.close()
    accounts.close()


def test_escalation_groups_follow_the_caregivers_order(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    accounts = Accounts(db)
    first, second = accounts.add("Sam", "correct horse"), accounts.add("Alex", "battery staple")
    preferences = Preferences(db, RulesSettings(), lambda: [c.id for c in accounts.caregivers()])
    seen: list[tuple[tuple[str, ...], ...]] = []
    preferences.on_change(lambda household: seen.append(household.caregiver_channels))
    preferences.add_channel(second.id, "json://127.0.0.1:9/alex", "Alex's phone")
    preferences.add_channel(first.id, "json://127.0.0.1:9/sam", "")
    assert seen[-1] == (("json://127.0.0.1:9/sam",), ("json://127.0.0.1:9/alex",))
    assert preferences.channels(first.id)[0].label == "json://127.0.0.1"
    preferences.close()
    accounts.close()


def test_pushes_follow_the_dashboard_unit_and_escalate_to_the_second_caregivers_channel(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    start_hub: StartHub,
    receivers: Callable[..., Receiver],
    players: Callable[[Settings], TracePlayer],
) -> None:
    family, sam_phone, alex_phone = receivers(), receivers(), receivers()
    settings = settings_for(tmp_path, broker, base_topic, family, alerts={"escalate_after_s": 1.5})
    hub = start_hub(settings)
    alex = {"Authorization": f"Bearer {api_token(settings.hub.db, 'Alex')}"}
    assert hub.post("/api/caregivers/me/channels", json={"url": sam_phone.url()}).is_success
    assert hub.post(
        "/api/caregivers/me/channels", json={"url": alex_phone.url()}, headers=alex
    ).is_success
    assert hub.request("PATCH", "/api/settings", json={"unit": "F"}).is_success

    room = players(settings)
    room.level = 15.0
    wait_until(lambda: sam_phone.titles(), what="the cold page on the first caregiver's phone")
    assert sam_phone.titles()[0] == "Nursery: room is cold (59.0 °F)"
    assert "below 60.8 °F" in str(sam_phone.answered[0].json()["message"])
    # Each channel's send runs in its own thread: the family's may land a moment later.
    wait_until(lambda: family.titles(), what="the cold page on notify.urls too")
    assert family.titles()[0] == "Nursery: room is cold (59.0 °F)", "notify.urls still hear"
    assert alex_phone.titles() == [], "the second caregiver waits for the escalation"
    wait_until(lambda: alex_phone.titles(), what="the escalation on the second caregiver's phone")
    assert "no answer yet" in alex_phone.titles()[0]
    assert alex_phone.titles()[0].endswith("°F)")
