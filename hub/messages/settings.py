"""The settings page's refusals of thresholds, in the page's unit."""

from __future__ import annotations

from hub.messages.formatting import Unit, limit_text

# As the settings page names its fields ("Cold alert below", "Cool note below"…).
_THRESHOLD_NAMES: dict[str, str] = {
    "cold_below_c": "the cold alert threshold",
    "cool_below_c": "the cool note threshold",
    "warm_above_c": "the warm note threshold",
    "hot_above_c": "the hot alert threshold",
    "cold_clear_c": "the temperature at which a cold alert clears",
}


def _threshold_name(key: str) -> str:
    return _THRESHOLD_NAMES.get(key, key.replace("_", " "))


def threshold_order(blamed: str, value_c: float, other: str, other_c: float, unit: Unit) -> str:
    """Two thresholds that contradict each other, with both values, in the page's unit."""
    side = "above" if value_c > other_c else "below"
    name = _threshold_name(blamed)
    return (
        f"{name[:1].upper()}{name[1:]} ({limit_text(value_c, unit)}) cannot be {side} "
        f"{_threshold_name(other)} ({limit_text(other_c, unit)}). From low to high: cold, cool, "
        "warm, hot."
    )


def threshold_range(key: str, low_c: float, high_c: float, unit: Unit) -> str:
    """A threshold outside what the monitor can use, in the page's unit."""
    name = _threshold_name(key)
    return (
        f"{name[:1].upper()}{name[1:]} must be between {limit_text(low_c, unit)} and "
        f"{limit_text(high_c, unit)}."
    )


def threshold_number(key: str) -> str:
    name = _threshold_name(key)
    return f"{name[:1].upper()}{name[1:]} must be a number."


def room_name_refused(longest: int) -> str:
    return f"A room's name is at most {longest} letters, on one line."
