"""hub.monitor.frozen.replace: the rules' fast copy makes what dataclasses.replace makes,
and a step's one private copy changes in place without touching what the caller holds."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from hub.monitor.frozen import owned_copy, replace
from hub.monitor.rule_state import Hold, Sample
from hub.monitor.rules import Policy, RoomRules, replay, step
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


def test_a_step_leaves_the_state_it_was_given_as_it_was() -> None:
    before = replay("nursery", [Seen(T0, T0, 19.0, 50.0, "boot", 0, True)], _policy(), T0)
    kept = dataclasses.replace(before)
    later = datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)
    after, _ = step(before, Seen(later, later, 18.8, 49.0, "boot", 1, True), _policy(), later)
    assert after is not before
    assert before == kept  # the caller's state: not one field changed
    assert after.last_live_at == later and before.last_live_at == T0


def test_only_the_owned_copy_changes_in_place_and_only_inside_its_block() -> None:
    state = RoomRules.empty("nursery")
    with owned_copy(state) as work:
        assert work is not state
        assert replace(work, skew_s=1.0) is work and work.skew_s == 1.0
        other = replace(state, skew_s=2.0)
        assert other is not state and state.skew_s == 0.0
    frozen_again = replace(work, skew_s=3.0)
    assert frozen_again is not work and work.skew_s == 1.0


def _policy() -> Policy:
    return Policy.from_settings(RulesSettings())
