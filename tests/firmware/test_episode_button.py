"""The episode button end to end: a press on gpiozero's MockFactory becomes an
`EpisodeEventMessage` that waits in the outbox (a real SQLite file) and goes over a real
Mosquitto until a small stand-in for the hub answers with its receipt; presses made while
the broker is down, or before a restart, arrive afterwards."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from firmware.config import FirmwareSettings
from firmware.indicators import confirm_flashes
from mqttlink.settings import MqttSettings
from nursery.config import Settings
from tests.support import Mosquitto, wait_until
from tests.support.pi import pi, play_hub

ROOM = "nursery"


def settings_for(port: int, base_topic: str, outbox: Path) -> Settings:
    return Settings(
        mqtt=MqttSettings(port=port, base_topic=base_topic, keepalive_s=5),
        firmware=FirmwareSettings(
            room=ROOM, sensor="simulated", interval_s=0.05, outbox=outbox, health_every_s=5
        ),
    )


def events_held(outbox: Path) -> list[tuple[str, str]]:
    """(event id, action) of every event the outbox file holds, read on its own connection."""
    if not outbox.exists():
        return []
    db = sqlite3.connect(outbox)
    try:
        rows = db.execute("SELECT event_id, action FROM events ORDER BY n").fetchall()
    finally:
        db.close()
    return [(str(event_id), str(action)) for event_id, action in rows]


# --- tests --------------------------------------------------------------------------


def test_presses_start_and_stop_an_episode_and_leave_once_the_hub_has_them(
    broker: Mosquitto, base_topic: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.db"
    with (
        play_hub(broker.port, base_topic) as hub,
        pi(settings_for(broker.port, base_topic, outbox)) as node,
    ):
        before = datetime.now(UTC)

        node.tap()
        wait_until(lambda: hub.actions() == ["start"], what="the start event at the hub")
        node.tap()
        wait_until(lambda: hub.actions() == ["start", "stop"], what="the stop event")
        wait_until(lambda: events_held(outbox) == [], what="the outbox to let both go")
        start, stop = hub.stored.values()
        assert start.room == stop.room == ROOM
        assert start.event_id != stop.event_id
        assert before - timedelta(seconds=1) <= start.ts <= stop.ts <= datetime.now(UTC)
        node.shutdown()
    # Confirmed events are not sent again on the next start.
    assert events_held(outbox) == []


def test_a_long_press_is_one_episode_now(
    broker: Mosquitto, base_topic: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.db"
    with (
        play_hub(broker.port, base_topic) as hub,
        pi(settings_for(broker.port, base_topic, outbox)) as node,
    ):
        node.press()
        # Held for gpiozero's hold time (2 s): the event goes out while the finger is down.
        wait_until(lambda: hub.actions() == ["now"], timeout=10, what="the 'now' event")
        node.release()
        node.tap()
        wait_until(lambda: hub.actions() == ["now", "start"], what="a start after the long press")


def test_a_press_during_an_outage_arrives_when_the_broker_is_back(
    own_broker: Mosquitto, base_topic: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.db"
    with pi(settings_for(own_broker.port, base_topic, outbox)) as node:
        wait_until(lambda: node.led.state, what="the status LED on")  # connected, all well
        own_broker.stop()
        node.tap()
        held = wait_until(lambda: events_held(outbox), what="the press kept in the outbox")
        assert [action for _, action in held] == ["start"]
        own_broker.start()
        with play_hub(own_broker.port, base_topic) as hub:
            # Sent on reconnection; should the firmware beat the play hub's subscription
            # to the restarted broker, it comes with the next re-send, 30 s on.
            wait_until(
                lambda: hub.actions() == ["start"], timeout=45, what="the press after the outage"
            )
            assert hub.stored[held[0][0]].action == "start"
            wait_until(lambda: events_held(outbox) == [], what="the outbox to let it go")


def test_a_press_is_not_lost_across_a_restart(
    own_broker: Mosquitto, base_topic: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.db"
    settings = settings_for(own_broker.port, base_topic, outbox)
    own_broker.stop()
    with pi(settings) as node:
        node.tap()
        held = wait_until(lambda: events_held(outbox), what="the press kept in the outbox")
        node.shutdown()
    assert events_held(outbox) == held, "still held after the firmware stopped"
    own_broker.start()
    with play_hub(own_broker.port, base_topic) as hub, pi(settings):
        wait_until(
            lambda: list(hub.stored) == [held[0][0]], what="the press made before the restart"
        )
        wait_until(lambda: events_held(outbox) == [], what="the outbox to let it go")


def test_an_unanswered_event_is_sent_again_on_reconnection_and_stored_once(
    own_broker: Mosquitto, base_topic: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.db"
    with pi(settings_for(own_broker.port, base_topic, outbox)) as node:
        with play_hub(own_broker.port, base_topic, answering=False) as silent:
            node.tap()
            wait_until(lambda: len(silent.delivered()) == 1, what="the event, unanswered")
        assert len(events_held(outbox)) == 1
        own_broker.stop()
        own_broker.start()
        with play_hub(own_broker.port, base_topic) as hub:
            wait_until(lambda: hub.actions() == ["start"], timeout=45, what="the event sent again")
            wait_until(lambda: events_held(outbox) == [], what="the outbox to let it go")
            event_id = silent.delivered()[0].event_id
            assert {e.event_id for e in hub.delivered()} == {event_id}


def test_the_led_confirms_a_press_and_goes_back_to_its_state(
    broker: Mosquitto, base_topic: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.db"
    settings = settings_for(broker.port, base_topic, outbox)
    with play_hub(broker.port, base_topic), pi(settings) as node:
        wait_until(lambda: node.led.state, what="the status LED steady on")
        node.led.clear_states()
        node.tap()
        steps = confirm_flashes("start")
        # From steady on: dark, two short flashes, dark, then steady on again.
        wait_until(lambda: len(node.led.states) >= len(steps) + 2, what="the whole confirmation")
        seen = node.led.states[1 : len(steps) + 2]
        assert [bool(s.state) for s in seen] == [lit for lit, _ in steps] + [True], seen
        # Each change came after the previous step's time (a busy machine may be late).
        for change, (_, seconds) in zip(seen[1:], steps, strict=True):
            assert seconds - 0.02 <= change.timestamp <= seconds + 0.3, seen
        assert node.led.state
