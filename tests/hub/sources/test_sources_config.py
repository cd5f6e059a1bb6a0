"""`hub.sources`, a contract like the other settings: TOML tables or JSON in the
environment, each system's defaults, and one line naming the key for a bad entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from mqttlink.settings import SettingsError
from nursery.config import load_settings


def test_sources_from_toml_tables_with_each_systems_defaults(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "nursery.toml"
    config.write_text(
        "[hub]\nhttp_port = 9000\n\n"
        '[[hub.sources]]\nroom = "nursery"\nkind = "zigbee2mqtt"\ndevice = "kids/th"\n\n'
        '[[hub.sources]]\nroom = "bedroom"\nkind = "shelly"\ndevice = "shellyhtg3-1"\n'
        "stale_after_s = 900\naccuracy_c = 0.2\n"
    )
    nursery, bedroom = load_settings(config).hub.sources
    assert (nursery.prefix, nursery.stale_s, nursery.battery_low_pct) == ("zigbee2mqtt", 3900, 20)
    assert (bedroom.prefix, bedroom.stale_s, bedroom.accuracy_c) == ("shellyhtg3-1", 900, 0.2)


def test_sources_from_the_environment_as_json(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.chdir(tmp_path)
    clean_env.setenv(
        "NURSERY_HUB__SOURCES", '[{"room": "nursery", "kind": "tasmota", "device": "th1"}]'
    )
    [source] = load_settings().hub.sources
    assert (source.prefix, source.stale_s) == ("tele/th1", 900)


@pytest.mark.parametrize(
    ("value", "line"),
    [
        (
            '[{"room": "nursery", "kind": "zigbee", "device": "x"}]',
            "hub.sources[1].kind (NURSERY_HUB__SOURCES): Input should be 'zigbee2mqtt', "
            "'esphome', 'shelly' or 'tasmota' (got 'zigbee')",
        ),
        (
            '[{"room": "nursery", "kind": "esphome"}]',
            "hub.sources[1].device (NURSERY_HUB__SOURCES): required",
        ),
        (
            '[{"room": "a", "kind": "esphome", "device": "n"}, {"room": "b", "kind": "shelly", '
            '"device": "s/1"}]',
            "hub.sources[2].device (NURSERY_HUB__SOURCES): shelly device names are one topic "
            "level, without '/' (got 's/1')",
        ),
        (
            '[{"room": "a", "kind": "esphome", "device": "n"}, {"room": "a", "kind": "shelly", '
            '"device": "s"}]',
            "hub.sources (NURSERY_HUB__SOURCES): entry 2: room 'a' has a source already",
        ),
        (
            '[{"room": "a", "kind": "esphome", "device": "n/#"}]',
            "hub.sources[1].device (NURSERY_HUB__SOURCES): 'n/#' must not hold MQTT wildcards "
            "(+ #) or start or end with '/' (got 'n/#')",
        ),
    ],
)
def test_a_bad_entry_is_one_line_naming_the_key(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, value: str, line: str
) -> None:
    clean_env.chdir(tmp_path)
    clean_env.setenv("NURSERY_HUB__SOURCES", value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == line


def test_a_sleepy_rooms_own_limit_holds_wherever_freshness_is_judged(tmp_path: Path) -> None:
    """`nursery status` (and the dashboard's rooms) judge a Shelly room heard 10 min ago
    by its own 25 min limit, not the Pi's 5 min: no false "no fresh reading"."""
    from datetime import UTC, datetime, timedelta

    from contract.messages import ReadingMessage
    from hub.store.database import Received, Store
    from nursery.config import Settings
    from nursery.status_command import check_database

    source = {"room": "bedroom", "kind": "shelly", "device": "shellyhtg3-1"}
    settings = Settings(hub={"db": tmp_path / "hub.db", "sources": [source]})
    now = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    heard = now - timedelta(minutes=10)
    boot = settings.hub.sources[0].boot_id
    with Store(settings.hub.db) as store:
        for room in ("bedroom", "nursery"):  # a Pi's nursery, a Shelly's bedroom
            store.add_readings([Received(ReadingMessage(room, boot, 1, heard, 19.0, 50.0), heard)])
            store.set_status(room, "online", heard)
    lines = {line.part: line for line in check_database(settings, now)}
    assert lines["room bedroom"].ok, lines["room bedroom"].text
    assert "NO FRESH READING" in lines["room nursery"].text
