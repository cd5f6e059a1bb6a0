"""A room named in words ("Leo's room") by the first run: every push and page calls it so,
a bad name is refused naming the field, and the name goes when the hub stops."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub import messages
from hub.conditions import Condition, Finding
from hub.preferences import PreferenceError, Preferences
from mqttlink.rules_settings import RulesSettings

NOW = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)


def cold(room: str) -> Finding:
    return Finding(room, Condition.COLD, NOW, value=15.2, threshold=16.0)


def test_a_named_room_is_called_by_its_name_in_pushes(tmp_path: Path) -> None:
    preferences = Preferences(tmp_path / "hub.db", RulesSettings(), lambda: [])
    try:
        assert messages.first_page(cold("nursery"), RulesSettings(), NOW).title.startswith(
            "Nursery:"
        )
        preferences.name_room("nursery", "  Leo's   room ")
        assert preferences.room_names() == {"nursery": "Leo's room"}
        title = messages.first_page(cold("nursery"), RulesSettings(), NOW).title
        assert title == "Leo's room: room is cold (15.2 °C)"
        assert messages.room_words("attic") == "Attic"  # other rooms keep their own
        with pytest.raises(PreferenceError) as refused:
            preferences.name_room("nursery", "x" * 41)
        assert refused.value.field == "name"
        assert messages.room_words("nursery") == "Leo's room"  # nothing lost
        preferences.name_room("nursery", "")
        assert messages.room_words("nursery") == "Nursery"
        preferences.name_room("nursery", "Leo's room")
    finally:
        preferences.close()
    assert messages.room_words("nursery") == "Nursery"  # a stopped hub names nothing
    again = Preferences(tmp_path / "hub.db", RulesSettings(), lambda: [])
    try:
        assert messages.room_words("nursery") == "Leo's room"  # kept in the file
    finally:
        again.close()
