"""The [rules] section: the temperature guidance and thresholds, read by both the hub's
alerts and the Pi's own cold LED, so both start at the same temperature."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Literal

from pydantic import (
    Field,
    model_validator,
)

from mqttlink.settings import Section

Preset = Literal["uk", "who", "us"]

# Published guidance: 16–20 °C for a sleeping baby (Lullaby Trust/NHS), 18 °C minimum
# (WHO), 20–22 °C (commonly cited in the US). cold/cool/warm thresholds per preset, in °C.
PRESETS: dict[str, dict[str, float]] = {
    "uk": {"cold_below_c": 16.0, "cool_below_c": 17.0, "warm_above_c": 20.0},
    "who": {"cold_below_c": 18.0, "cool_below_c": 19.0, "warm_above_c": 22.0},
    "us": {"cold_below_c": 20.0, "cool_below_c": 20.5, "warm_above_c": 22.0},
}
COLD_CLEAR_MARGIN_C = 0.5
# Thresholds that must keep their order, as (lower, higher): cold ≤ cool ≤ warm ≤ hot, and
# a cold alert clears at or above where it starts and no higher than the warm level. Equal
# is allowed: cool_below_c = cold_below_c turns the cool advisory off.
THRESHOLD_ORDER: tuple[tuple[str, str], ...] = (
    ("cold_below_c", "cool_below_c"),
    ("cool_below_c", "warm_above_c"),
    ("warm_above_c", "hot_above_c"),
    ("cold_below_c", "cold_clear_c"),
    ("cold_clear_c", "warm_above_c"),
)


def threshold_conflict(
    effective: Callable[[str], float], chosen: Collection[str] = ()
) -> tuple[str, str, str] | None:
    """The first pair of thresholds out of order, as (blamed key, lower key, higher key),
    or None. The blame falls on a key in `chosen` (the ones just set), the higher first."""
    for low, high in THRESHOLD_ORDER:
        if effective(low) > effective(high):
            blamed = high if high in chosen or low not in chosen else low
            return blamed, low, high
    return None


class RulesSettings(Section):
    preset: Preset = Field(
        "uk",
        description="Temperature guidance the thresholds start from: `uk` (16–20 °C, Lullaby "
        "Trust/NHS), `who` (18 °C minimum), `us` (20–22 °C).",
    )
    cold_below_c: float | None = Field(
        None, ge=-10, le=40, description="Cold alert below this (°C); default from the preset."
    )
    cold_clear_c: float | None = Field(
        None,
        ge=-10,
        le=40,
        description="A cold alert clears only at or above this (°C); default cold_below_c + 0.5.",
    )
    cold_for_s: float = Field(
        300.0,
        ge=0,
        description="Seconds the room must stay cold before the alert (and warm before it clears).",
    )
    cool_below_c: float | None = Field(
        None, ge=-10, le=40, description="Cool advisory below this (°C); default from the preset."
    )
    cool_for_s: float = Field(900.0, ge=0, description="Seconds cool before the advisory.")
    drop_c: float = Field(
        2.0, gt=0, le=20, description="A fall of at least this many °C is a fast drop."
    )
    drop_window_s: float = Field(
        1800.0, gt=0, description="Seconds within which a fall of drop_c is a fast drop."
    )
    warm_above_c: float | None = Field(
        None, ge=0, le=50, description="Warm advisory above this (°C); default from the preset."
    )
    warm_for_s: float = Field(900.0, ge=0, description="Seconds warm before the advisory.")
    hot_above_c: float = Field(24.0, ge=0, le=50, description="Hot alert above this (°C).")
    hot_for_s: float = Field(600.0, ge=0, description="Seconds hot before the alert.")
    humidity_low_pct: float = Field(
        40.0, ge=0, le=100, description="Humidity advisory below this (%RH)."
    )
    humidity_high_pct: float = Field(
        60.0, ge=0, le=100, description="Humidity advisory above this (%RH)."
    )
    humidity_for_s: float = Field(
        3600.0, ge=0, description="Seconds outside the humidity band before the advisory."
    )
    stale_after_s: float = Field(
        300.0,
        gt=0,
        description="Seconds without a valid reading after which a room shows as no data "
        "(an alert as urgent as cold).",
    )
    max_jump_c: float = Field(
        5.0,
        gt=0,
        description="A single reading this many °C away from the last one is ignored unless "
        "the next reading confirms it.",
    )
    replay_after_s: float = Field(
        120.0,
        gt=0,
        description="A reading measured this long before it arrived is a replay: stored, "
        "but it raises no alerts about the past.",
    )
    clock_skew_s: float = Field(
        60.0, gt=0, description="A device clock this many seconds ahead of the hub is flagged."
    )
    suspect_error_ratio: float = Field(
        0.3,
        gt=0,
        le=1,
        description="Share of failed or impossible readings in the last 30 min that marks the "
        "sensor as suspect.",
    )
    stuck_for_s: float = Field(
        1800.0,
        gt=0,
        description="Temperature and humidity both unchanged this long marks the sensor as "
        "suspect.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> RulesSettings:
        # Each message starts with the key to blame: _describe turns it into `rules.key`.
        conflict = threshold_conflict(self.effective, self.set_thresholds())
        if conflict is not None:
            blamed, low, high = conflict
            other = high if blamed == low else low
            side = "above" if blamed == low else "below"
            raise ValueError(
                f"{blamed}: {self.effective(blamed):g} °C must not be {side} rules.{other} "
                f"({self.effective(other):g} °C{self._origin(other)}): the order is cold, "
                "cool, warm, hot"
                + (
                    ", and a cold alert clears between cold and warm"
                    if "clear" in low + high
                    else ""
                )
            )
        if self.humidity_low_pct >= self.humidity_high_pct:
            raise ValueError(
                f"humidity_low_pct: {self.humidity_low_pct:g} % must be below "
                f"rules.humidity_high_pct ({self.humidity_high_pct:g} %)"
            )
        return self

    def set_thresholds(self) -> set[str]:
        """The thresholds given a value, rather than left to the preset."""
        return {key for key in self.model_fields_set if getattr(self, key) is not None}

    def _origin(self, key: str) -> str:
        if key in self.set_thresholds():
            return ""
        if key == "cold_clear_c":
            return f", cold_below_c + {COLD_CLEAR_MARGIN_C:g}"
        return f", the {self.preset} preset's" if key in PRESETS[self.preset] else ", the default"

    def effective(self, key: str) -> float:
        """A threshold with the preset filled in where the setting is unset."""
        value = getattr(self, key)
        if value is not None:
            return float(value)
        if key == "cold_clear_c":
            return self.effective("cold_below_c") + COLD_CLEAR_MARGIN_C
        return PRESETS[self.preset][key]
