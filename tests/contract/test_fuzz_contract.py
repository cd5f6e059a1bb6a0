"""Hostile input for every decoder in the wire contract: whatever bytes arrive on a topic,
only `ContractError` (the contract's own "this breaks the rules") may come out, never a
crash that a caller would not expect.

Three kinds of input: raw bytes, JSON of any shape, and valid messages with one field
replaced by any JSON value (which gets past the first checks to the deep ones).
scripts/fuzz_contract.py runs the same targets under atheris for a longer local run.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract import alert_state, episode_events, fields, messages, topics
from contract.topics import ContractError

BASE: Final = "nursery"
NOW: Final = datetime(2026, 11, 23, 18, 0, 0, 250000, tzinfo=UTC)
BOOT: Final = "8c31134e-1b3e-4405-a0d5-affb9c3000b8"


def _topic(payload: bytes) -> object:
    return topics.parse_topic(BASE, payload.decode("utf-8", errors="surrogateescape"))


# Every decoder the hub or the firmware runs on what arrives over MQTT.
DECODERS: Final[dict[str, Callable[[bytes], object]]] = {
    "reading": messages.ReadingMessage.decode,
    "fault": messages.FaultMessage.decode,
    "health": messages.HealthMessage.decode,
    "stored": messages.StoredMessage.decode,
    "episode": episode_events.EpisodeEventMessage.decode,
    "episode-stored": episode_events.EpisodeStoredMessage.decode,
    "alert": alert_state.AlertStateMessage.decode,
    "command": messages.decode_command,
    "status": messages.decode_status,
    "topic": _topic,
}

# A valid message of each JSON kind, to mutate one field at a time.
VALID: Final[dict[str, dict[str, Any]]] = {
    "reading": json.loads(messages.ReadingMessage("nursery", BOOT, 7, NOW, 18.25, 51.5).encode()),
    "fault": json.loads(
        messages.FaultMessage("nursery", BOOT, NOW, "Checksum did not validate", 2).encode()
    ),
    "health": json.loads(
        messages.HealthMessage(
            "nursery",
            BOOT,
            NOW,
            3,
            0,
            None,
            100,
            2,
            {BOOT: 4},
            1800.0,
            0.02,
            0.05,
            {"checksum": 2},
            False,
            60.0,
            1,
            NOW,
        ).encode()
    ),
    "stored": json.loads(messages.StoredMessage("nursery", {BOOT: 41}).encode()),
    "episode": json.loads(
        episode_events.EpisodeEventMessage(
            "nursery", episode_events.new_event_id(), "start", NOW
        ).encode()
    ),
    "episode-stored": json.loads(
        episode_events.EpisodeStoredMessage("nursery", episode_events.new_event_id()).encode()
    ),
    "alert": json.loads(
        alert_state.AlertStateMessage(
            "nursery",
            "alert",
            NOW,
            "cold",
            None,
            (alert_state.AlertEntry(3, "cold", "alert", "open", NOW, "Sam"),),
            15.5,
        ).encode()
    ),
}


def decode_all(payload: bytes) -> None:
    """Feed one payload to every decoder; anything but ContractError escapes."""
    for decode in DECODERS.values():
        with contextlib.suppress(ContractError):
            decode(payload)


# JSON of any shape, with the awkward corners: huge and negative numbers, floats,
# times that parse but fall off the calendar, NaN spelled out.
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    # Anything the timestamp pattern lets through, to the calendar's edges.
    st.from_regex(fields._TS_RE, fullmatch=True),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2026-02-30T00:00:00Z",
            "2026-11-23T18:00:00.1234567890Z",
            BOOT,
            "nursery",
            "Nursery",
            "hub",
            "start",
            "alert",
            "",
        ]
    ),
)
json_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=512))
def test_raw_bytes(payload: bytes) -> None:
    decode_all(payload)


@pytest.mark.slow
@FUZZ
@given(json_values)
def test_json_of_any_shape(value: object) -> None:
    decode_all(json.dumps(value).encode())


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(VALID))
@FUZZ
@given(data=st.data())
def test_a_valid_message_with_one_field_replaced(kind: str, data: st.DataObject) -> None:
    message = dict(VALID[kind])
    field = data.draw(st.sampled_from(sorted(message)), label="field")
    message[field] = data.draw(json_values, label="value")
    with contextlib.suppress(ContractError):
        DECODERS[kind](json.dumps(message).encode())


@FUZZ
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["nursery", "hub", "reading", "episode", "", "+", "#", "..", "a" * 70]),
            st.text(max_size=12),
        ),
        max_size=5,
    )
)
def test_topics(levels: list[str]) -> None:
    topic = "/".join(levels)
    try:
        room, kind = topics.parse_topic(BASE, topic)
    except ContractError:
        return
    assert topic == f"{BASE}/{room}/{kind}"


@pytest.mark.parametrize("kind", sorted(VALID))
def test_the_valid_seeds_decode(kind: str) -> None:
    """The mutations above start from messages the contract accepts."""
    DECODERS[kind](json.dumps(VALID[kind]).encode())


@pytest.mark.parametrize(
    "ts", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-02-30T00:00:00Z"]
)
def test_times_off_the_calendar_are_a_contract_error(ts: str) -> None:
    """Found by the fuzzing above: these match the format but are no instant in UTC."""
    message = dict(VALID["reading"], ts=ts)
    with pytest.raises(ContractError, match="ts"):
        messages.ReadingMessage.decode(json.dumps(message).encode())
