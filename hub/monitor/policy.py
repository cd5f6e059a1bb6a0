"""The rules' thresholds, every one resolved to a number from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mqttlink.rules_settings import RulesSettings


@dataclass(frozen=True, slots=True)
class Policy:
    """Every threshold resolved to a number, so the rules never look at presets."""

    cold_below_c: float
    cold_clear_c: float
    cold_for_s: float
    cool_below_c: float
    cool_for_s: float
    drop_c: float
    drop_window_s: float
    warm_above_c: float
    warm_for_s: float
    hot_above_c: float
    hot_for_s: float
    humidity_low_pct: float
    humidity_high_pct: float
    humidity_for_s: float
    stale_after_s: float
    max_jump_c: float
    replay_after_s: float
    clock_skew_s: float
    suspect_error_ratio: float
    stuck_for_s: float
    # Not settings: the shape of the rules rather than a parent's preference.
    hot_clear_margin_c: float = 0.5
    slope_window_s: float = 600.0
    suspect_window_s: float = 1800.0
    suspect_min_slots: int = 6
    prediction_horizon_min: float = 180.0

    @property
    def memory_s(self) -> float:
        """How far back the rules look: replaying this much history rebuilds the state."""
        return max(
            self.drop_window_s,
            self.slope_window_s,
            self.suspect_window_s,
            self.stuck_for_s,
            self.cold_for_s,
            self.cool_for_s,
            self.warm_for_s,
            self.hot_for_s,
            self.humidity_for_s,
        )

    def __post_init__(self) -> None:
        if self.cold_clear_c < self.cold_below_c:
            raise ValueError("cold_clear_c must not be below cold_below_c")
        if self.humidity_low_pct >= self.humidity_high_pct:
            raise ValueError("humidity_low_pct must be below humidity_high_pct")
        if self.max_jump_c <= 0 or self.stale_after_s <= 0:
            raise ValueError("max_jump_c and stale_after_s must be positive")

    @classmethod
    def from_settings(cls, rules: RulesSettings) -> Policy:
        return cls(
            cold_below_c=rules.effective("cold_below_c"),
            cold_clear_c=rules.effective("cold_clear_c"),
            cold_for_s=rules.cold_for_s,
            cool_below_c=rules.effective("cool_below_c"),
            cool_for_s=rules.cool_for_s,
            drop_c=rules.drop_c,
            drop_window_s=rules.drop_window_s,
            warm_above_c=rules.effective("warm_above_c"),
            warm_for_s=rules.warm_for_s,
            hot_above_c=rules.hot_above_c,
            hot_for_s=rules.hot_for_s,
            humidity_low_pct=rules.humidity_low_pct,
            humidity_high_pct=rules.humidity_high_pct,
            humidity_for_s=rules.humidity_for_s,
            stale_after_s=rules.stale_after_s,
            max_jump_c=rules.max_jump_c,
            replay_after_s=rules.replay_after_s,
            clock_skew_s=rules.clock_skew_s,
            suspect_error_ratio=rules.suspect_error_ratio,
            stuck_for_s=rules.stuck_for_s,
        )
