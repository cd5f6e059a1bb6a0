"""hub.monitor.frozen.replace: the rules' fast copy makes what dataclasses.replace makes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from hub.monitor.frozen import replace
from hub.monitor.rule_state import Hold, Sample
from hub.monitor.rules import Policy, RoomRules, replay
from hub.monitor.rules import ReadingSeen as Seen
from mqttlink.rules_settings import RulesSettings

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_copy_equals_dataclasses_replace_and_leaves_the_original() -> None:
    state = replay("nursery", [Seen(T0, T0, 19.0, 50.0, "boot", 0, True)], _policy(), T0)
    copied = replace(state, skew_s=2.5, last_live_at=None)
    assert copied == dataclasses.replace(state, skew_s=2.5, last_live_at=None)
    assert copied is not state
    assert state.last_live_at == T0 and state.skew_s == 0.0
    assert replace(Hold(), active=True) == Hold(active=True)


def test_an_unknown_field_is_refused() -> None:
    with pytest.raises(TypeError, match="no field 'nope'"):
        replace(RoomRules.empty("nursery"), nope=1)


def test_a_class_with_post_init_is_still_validated() -> None:
    policy = _policy()
    with pytest.raises(ValueError, match="max_jump_c"):
        replace(policy, max_jump_c=0.0)
    assert replace(Sample(T0, 19.0, 50.0), temperature_c=18.0).temperature_c == 18.0


def _policy() -> Policy:
    return Policy.from_settings(RulesSettings())
