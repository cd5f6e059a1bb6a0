"""The push texts: what they must say, what they must never say, and that they fit a phone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from hub import messages
from hub.conditions import SEVERITY, Condition, Finding, Severity
from hub.messages import BODY_MAX, TITLE_MAX, Message, Unit
from mqttlink.rules_settings import RulesSettings

NOW = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
RULES = RulesSettings()  # uk preset: cold 16, cool 17, warm 20, hot 24

# condition -> (value, threshold, worst, minutes_to_cold)
VALUES: dict[Condition, tuple[float, float | None, float | None, float | None]] = {
    Condition.COLD: (15.2, 16.0, 14.9, None),
    Condition.COOL: (16.6, 17.0, None, None),
    Condition.FAST_DROP: (17.1, None, None, 25.0),
    Condition.WARM: (21.3, 20.0, None, None),
    Condition.HOT: (24.6, 24.0, 25.1, None),
    Condition.HUMIDITY: (32.0, 40.0, None, None),
    Condition.NO_DATA: (380.0, 300.0, None, None),
    Condition.OFFLINE: (900.0, None, None, None),
    Condition.SENSOR_SUSPECT: (0.42, 0.3, None, None),
    Condition.CLOCK_SKEW: (185.0, 60.0, None, None),
    Condition.LOW_BATTERY: (15.0, 20.0, None, None),
}

# What the first page must say: the measured value, the threshold and for how long.
EXPECTED: dict[Condition, tuple[str, ...]] = {
    Condition.COLD: ("15.2 °C", "below 16 °C", "for 25 min"),
    Condition.COOL: ("16.6 °C", "below 17 °C", "for 25 min"),
    Condition.FAST_DROP: ("17.1 °C", "2 °C or more within 30 min", "falling for 25 min"),
    Condition.WARM: ("21.3 °C", "above 20 °C", "for 25 min"),
    Condition.HOT: ("24.6 °C", "above 24 °C", "for 25 min"),
    Condition.HUMIDITY: ("32 %", "below 40 %", "for 25 min"),
    Condition.NO_DATA: ("for 6 min", "the limit is 5 min"),
    Condition.OFFLINE: ("offline for 15 min",),
    Condition.SENSOR_SUSPECT: ("42 %", "the limit is 30 %", "for 25 min"),
    Condition.CLOCK_SKEW: ("3 min ahead", "the limit is 1 min", "for 25 min"),
    Condition.LOW_BATTERY: ("15 %", "the limit is 20 %", "for 25 min"),
}

FORBIDDEN = (
    "spasm",
    "diagnos",
    "your baby is cold",
    "cause",
    "hypotherm",
    "sids",
    "danger",
    "unsafe",
    "health",
    "ill",
)


def finding(
    condition: Condition, room: str = "nursery", since: timedelta = timedelta(minutes=25)
) -> Finding:
    value, threshold, worst, minutes_to_cold = VALUES[condition]
    return Finding(room, condition, NOW - since, value, threshold, worst, minutes_to_cold)


def every_message(
    room: str = "nursery", since: timedelta = timedelta(minutes=25)
) -> Iterator[tuple[str, Message]]:
    """Every text the hub can push, for every condition, kind and unit."""
    units: tuple[Unit, ...] = ("C", "F")
    for condition in Condition:
        f = finding(condition, room, since)
        for unit in units:
            for rules in (RULES, RulesSettings(preset="who"), RulesSettings(preset="us")):
                yield f"first {condition} {unit}", messages.first_page(f, rules, NOW, unit)
                yield f"repeat {condition} {unit}", messages.repeat(f, rules, NOW, unit)
                yield (
                    f"worse {condition} {unit}",
                    messages.worse(f, rules, NOW, unit, previous=15.9),
                )
                yield (
                    f"escalation {condition} {unit}",
                    messages.escalation(
                        f, rules, NOW, unit, unacknowledged_for=timedelta(minutes=15)
                    ),
                )
                yield (
                    f"escalation {condition} {unit} (no wait)",
                    messages.escalation(f, rules, NOW, unit),
                )
            yield f"resolved {condition} {unit}", messages.resolved(f, since, value=16.8, unit=unit)
    yield "test", messages.test_message()


def test_every_condition_says_value_threshold_and_duration() -> None:
    for condition in Condition:
        message = messages.first_page(finding(condition), RULES, NOW)
        for expected in EXPECTED[condition]:
            assert expected in message.body, (condition, expected, message.body)


def test_title_names_the_room_and_the_reading() -> None:
    assert messages.first_page(finding(Condition.COLD), RULES, NOW).title == (
        "Nursery: room is cold (15.2 °C)"
    )
    baby = messages.first_page(finding(Condition.HOT, room="baby-room"), RULES, NOW)
    assert baby.title == "Baby room: room is hot (24.6 °C)"


def test_cold_says_what_to_check_and_ends_with_accuracy() -> None:
    body = messages.first_page(finding(Condition.COLD), RULES, NOW).body
    for check in (
        "feel the baby's chest or the back of the neck; cool hands and feet are normal",
        "add a layer or a warmer sleep bag",
        "close a window",
        "adjust the heating",
        "No hot-water bottles or heaters near the cot",
        "no warmer than 20 °C",
    ):
        assert check in body
    assert body.endswith("Sensor accuracy ±0.5 °C.")
    # The preset's warm threshold, not a fixed number.
    who = messages.first_page(finding(Condition.COLD), RulesSettings(preset="who"), NOW)
    assert "no warmer than 22 °C" in who.body


def test_reading_reminders_end_with_the_sensor_accuracy() -> None:
    for condition in (Condition.COOL, Condition.FAST_DROP, Condition.WARM, Condition.HOT):
        for make in (messages.first_page, messages.repeat, messages.escalation):
            assert make(finding(condition), RULES, NOW).body.endswith("±0.5 °C."), condition
    dht11 = messages.first_page(finding(Condition.COLD), RULES, NOW, accuracy_c=2.0)
    assert dht11.body.endswith("Sensor accuracy ±2 °C.")


def test_hot_and_fast_drop_advice() -> None:
    hot = messages.first_page(finding(Condition.HOT), RULES, NOW).body
    for check in ("remove a layer", "open a door", "heating down", "away from radiators"):
        assert check in hot
    drop = messages.first_page(finding(Condition.FAST_DROP), RULES, NOW).body
    assert "At this rate the room reaches 16 °C (cold) in about 25 min." in drop
    unknown = Finding("nursery", Condition.FAST_DROP, NOW - timedelta(minutes=5), 18.0)
    assert "At this rate" not in messages.first_page(unknown, RULES, NOW).body


def test_silence_is_as_urgent_as_cold() -> None:
    cold = messages.first_page(finding(Condition.COLD), RULES, NOW)
    for condition in (Condition.NO_DATA, Condition.OFFLINE):
        message = messages.first_page(finding(condition), RULES, NOW)
        assert message.priority == cold.priority == "high"
        assert "temperature is now unknown" in message.body
        assert "check the room yourself" in message.body
        assert "power and Wi-Fi" in message.body


def test_suspect_sensor_is_not_a_cold_page() -> None:
    message = messages.first_page(finding(Condition.SENSOR_SUSPECT), RULES, NOW)
    assert message.priority == "default"
    assert "wiring and placement" in message.body
    assert "cold" not in (message.title + message.body).lower()


def test_priorities_follow_severity() -> None:
    expected = {Severity.ALERT: "high", Severity.WARNING: "default", Severity.ADVISORY: "low"}
    for condition in Condition:
        f = finding(condition)
        assert messages.first_page(f, RULES, NOW).priority == expected[SEVERITY[condition]]
        assert messages.repeat(f, RULES, NOW).priority == expected[SEVERITY[condition]]
        assert messages.escalation(f, RULES, NOW).priority == "urgent"
        assert messages.resolved(f, timedelta(minutes=3)).priority == "low"


def test_repeat_worse_escalation_and_resolved_words() -> None:
    f = finding(Condition.COLD)
    repeat = messages.repeat(f, RULES, NOW)
    assert repeat.title == "Nursery: still cold (15.2 °C)"
    assert "Nobody has tapped “I'm on it” yet." in repeat.body
    assert "for 25 min" in repeat.body
    worse = messages.worse(f, RULES, NOW, previous=16.3)
    assert worse.title == "Nursery: colder now (15.2 °C, was 16.3 °C)"
    assert "Colder than when someone answered (then 16.3 °C)." in worse.body
    hot = messages.worse(finding(Condition.HOT), RULES, NOW)
    assert hot.title.startswith("Nursery: hotter now")
    escalation = messages.escalation(f, RULES, NOW, unacknowledged_for=timedelta(minutes=15))
    assert escalation.body.startswith("Nobody has tapped “I'm on it” for 15 min.")
    assert escalation.title == "Nursery: cold, no answer yet (15.2 °C)"
    resolved = messages.resolved(Condition.COLD, timedelta(minutes=42), room="nursery")
    assert resolved.title == "Nursery: temperature back to normal"
    assert resolved.body == "This lasted 42 min."
    with pytest.raises(ValueError, match="room"):
        messages.resolved(Condition.COLD, timedelta(minutes=1))


def test_fahrenheit_converts_readings_thresholds_and_accuracy() -> None:
    f = Finding("nursery", Condition.COLD, NOW - timedelta(minutes=25), 15.0, 16.0)
    message = messages.first_page(f, RULES, NOW, "F")
    assert message.title == "Nursery: room is cold (59.0 °F)"
    for expected in ("59.0 °F", "below 60.8 °F", "no warmer than 68 °F", "±0.9 °F."):
        assert expected in message.body
    assert "°C" not in message.title + message.body
    drop = messages.first_page(finding(Condition.FAST_DROP), RULES, NOW, "F")
    assert "3.6 °F or more" in drop.body  # a 2 °C difference, not 35.6 °F
    assert "reaches 60.8 °F" in drop.body


def test_no_message_makes_health_claims() -> None:
    for name, message in every_message():
        text = f"{message.title}\n{message.body}".lower()
        for word in FORBIDDEN:
            if word == "ill":  # as a word, not inside "still" or "will"
                assert " ill " not in f" {text} ", name
                continue
            assert word not in text, (name, word, text)
    extras = messages.late_note(timedelta(minutes=20)) + messages.with_links(
        "x", [(messages.ACK_LABEL, "https://hub/ack")]
    )
    assert not any(word in extras.lower() for word in FORBIDDEN if word != "ill")


@pytest.mark.parametrize(
    "since", [timedelta(seconds=20), timedelta(minutes=25), timedelta(hours=26)]
)
def test_everything_fits_a_phone_notification(since: timedelta) -> None:
    long_room = "a" * 63  # the longest room name the contract allows
    for room in ("nursery", long_room):
        for name, message in every_message(room, since):
            assert len(message.title) <= TITLE_MAX, (name, message.title)
            assert len(message.body) <= BODY_MAX, (name, len(message.body), message.body)
            assert message.title.strip() and message.body.strip()


def test_long_room_names_are_shortened_not_the_state() -> None:
    message = messages.first_page(finding(Condition.COLD, room="b" * 63), RULES, NOW)
    assert message.title.endswith("…: room is cold (15.2 °C)")
    assert len(message.title) == TITLE_MAX


def test_missing_values_still_read_well() -> None:
    for condition in Condition:
        bare = Finding("nursery", condition, NOW - timedelta(minutes=7))
        message = messages.first_page(bare, RULES, NOW)
        assert "None" not in message.title + message.body, condition
        assert len(message.body) <= BODY_MAX


def test_message_checks_itself() -> None:
    with pytest.raises(ValueError, match="priority"):
        Message("t", "b", "loud")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="title"):
        Message(" ", "b", "low")


def test_test_message_and_delivery_additions() -> None:
    test = messages.test_message()
    assert test.priority == "default"
    assert "test" in test.title.lower()
    assert messages.late_note(timedelta(minutes=65)) == "Sent late: this was raised 1 h 5 min ago."
    assert messages.with_links("Body", []) == "Body"
    assert messages.with_links("Body", [("I'm on it", "https://h/a")]) == (
        "Body\n\nI'm on it: https://h/a"
    )


# --- the words a second caregiver reads (issue 16) ------------------------------------

JARGON = ("acknowledged", "cleared after", "not acknowledged")


def test_no_alert_jargon_in_any_push() -> None:
    """A grandparent paged at night reads plain words, not the lifecycle's states."""
    for name, message in every_message():
        text = (message.title + " " + message.body).lower()
        for word in JARGON:
            assert word not in text, (name, word, text)
    for condition in Condition:
        done = messages.resolved(finding(condition), timedelta(minutes=3), value=17.0)
        assert "cleared" not in done.body.lower()
        assert done.body == "This lasted 3 min. The room is at 17.0 °C now."


def test_a_stuck_sensor_says_what_is_wrong() -> None:
    """Frozen readings are named as such, never as "0 % of readings failed"."""
    stuck = Finding(
        "nursery",
        Condition.SENSOR_SUSPECT,
        NOW - timedelta(minutes=30),
        value=0.0,
        threshold=0.3,
        detail="readings unchanged",
    )
    # An incident read back from the database has no detail: the ratio tells the same.
    for f in (stuck, Finding("nursery", Condition.SENSOR_SUSPECT, stuck.since, 0.0, 0.3)):
        for make in (messages.first_page, messages.repeat, messages.escalation):
            body = make(f, RULES, NOW).body
            assert "Temperature and humidity have not changed for 30 min" in body
            assert "% of the sensor's readings" not in body
            assert "0 %" not in body
    failing = messages.first_page(finding(Condition.SENSOR_SUSPECT), RULES, NOW).body
    assert "42 % of the sensor's readings" in failing
    assert "not changed" not in failing


def test_cold_and_hot_checks_are_on_the_chest_not_the_hands() -> None:
    for condition in (Condition.COLD, Condition.HOT):
        body = messages.first_page(finding(condition), RULES, NOW).body
        assert "feel the baby's chest or the back of the neck" in body
        assert "cool hands and feet are normal" in body


def test_low_humidity_advice_never_suggests_airing_with_cold_air() -> None:
    low = messages.first_page(finding(Condition.HUMIDITY), RULES, NOW)
    assert low.title == "Nursery: humidity is low (32 %)"
    for word in ("air the room", "airing", "window", "outside"):
        assert word not in low.body.lower()
    assert "humidifier" in low.body
    unknown = Finding("nursery", Condition.HUMIDITY, NOW - timedelta(minutes=25))
    assert "air the room" not in messages.first_page(unknown, RULES, NOW).body.lower()


def test_a_late_push_says_so_at_the_start_of_its_title() -> None:
    message = messages.first_page(finding(Condition.COLD), RULES, NOW)
    late = messages.sent_late(message, timedelta(minutes=7, seconds=10))
    assert late.title == "Sent late (7 min): Nursery: room is cold (15.2 °C)"
    assert late.body.endswith("Sent late: this was raised 7 min ago.")
    assert (late.priority, late.tags) == (message.priority, message.tags)


def test_colder_now_gives_the_earlier_value_in_every_unit() -> None:
    f = finding(Condition.COLD)
    worse = messages.worse(f, RULES, NOW, "F", previous=16.3)
    assert worse.title == "Nursery: colder now (59.4 °F, was 61.3 °F)"
    assert "(then 61.3 °F)" in worse.body
    drop = messages.worse(finding(Condition.FAST_DROP), RULES, NOW, previous=19.0)
    assert drop.title == "Nursery: colder now (17.1 °C, was 19.0 °C)"


def test_the_cool_advisory_gives_its_time_to_cold() -> None:
    f = Finding("nursery", Condition.COOL, NOW - timedelta(minutes=20), 16.6, 17.0, None, 40.0)
    body = messages.first_page(f, RULES, NOW).body
    assert "At this rate the room reaches 16 °C (cold) in about 40 min." in body
    fahrenheit = messages.first_page(f, RULES, NOW, "F").body
    assert "reaches 60.8 °F (cold) in about 40 min." in fahrenheit
    steady = Finding("nursery", Condition.COOL, NOW - timedelta(minutes=20), 16.6, 17.0)
    assert "At this rate" not in messages.first_page(steady, RULES, NOW).body


def test_accuracy_follows_the_sensor_model() -> None:
    """DHT11 ±2 °C, DHT22 ±0.5 °C; a model the hub does not know claims nothing, and
    firmware too old to say is the default DHT22."""
    assert messages.accuracy_c("dht22") == 0.5
    assert messages.accuracy_c("DHT11") == 2.0
    assert messages.accuracy_c("simulated") is None
    assert messages.accuracy_c("bmp180") is None
    assert messages.accuracy_c(None) == 0.5
    f = finding(Condition.COLD)
    dht11 = messages.first_page(f, RULES, NOW, "F", accuracy_c=messages.accuracy_c("dht11"))
    assert dht11.body.endswith("Sensor accuracy ±3.6 °F.")
    unknown = messages.first_page(f, RULES, NOW, accuracy_c=None)
    assert "accuracy" not in unknown.body.lower()
    humidity = messages.first_page(finding(Condition.HUMIDITY), RULES, NOW, accuracy_c=None)
    assert "accuracy" not in humidity.body.lower()


@pytest.mark.parametrize(
    ("model", "temperature", "humidity"),
    [
        ("sht4x", "±0.2 °C", "±1.8 %"),
        ("sht3x", "±0.3 °C", "±3 %"),
        ("bme280", "±1 °C", "±3 %"),
        ("dht22", "±0.5 °C", "±5 %"),
    ],
)
def test_an_i2c_room_is_told_its_own_sensors_accuracy(
    model: str, temperature: str, humidity: str
) -> None:
    """Each part's datasheet accuracy (hardware/README.md), for temperature and humidity."""
    c, pct = messages.accuracy_c(model), messages.accuracy_pct(model)
    cold = messages.first_page(finding(Condition.COLD), RULES, NOW, accuracy_c=c, accuracy_pct=pct)
    assert cold.body.endswith(f"Sensor accuracy {temperature}.")
    wet = finding(Condition.HUMIDITY)
    damp = messages.first_page(wet, RULES, NOW, accuracy_c=c, accuracy_pct=pct)
    assert f"Humidity accuracy about {humidity}." in damp.body
    advice = messages.guidance(wet, RULES, NOW, accuracy_c=c, accuracy_pct=pct)
    assert advice[1] == f"Humidity accuracy about {humidity}."


def test_one_label_per_condition_for_pushes_dashboard_and_report() -> None:
    labels = messages.labels()
    assert set(labels) == {c.value for c in Condition} | {"humidity_low", "humidity_high"}
    for condition in (Condition.COLD, Condition.COOL, Condition.WARM, Condition.HOT):
        title = messages.first_page(finding(condition), RULES, NOW).title
        label = labels[condition.value]
        assert title.startswith(f"Nursery: {label[0].lower()}{label[1:]} ("), title
    assert labels["cool"] == "Room is a little cool"


def test_a_room_claims_its_own_sensors_accuracy_never_the_pis_for_another_device() -> None:
    from hub.sources.settings import SourceSettings

    zigbee = SourceSettings(room="nursery", kind="zigbee2mqtt", device="sensor", accuracy_c=0.3)
    unsaid = SourceSettings(room="nursery", kind="zigbee2mqtt", device="sensor")
    assert messages.room_accuracy(zigbee, "dht22") == (0.3, None)
    assert messages.room_accuracy(unsaid, None) == (None, None)
    assert messages.room_accuracy(None, "sht4x") == (0.2, 1.8)
    assert messages.room_accuracy(None, None) == (0.5, 5.0)  # an older Pi: the DHT22's
