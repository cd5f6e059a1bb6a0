"""The MQTT wire contract's topics: every topic of the firmware and the hub, built and parsed
here."""

from __future__ import annotations

import re
from typing import Final, Literal

from contract.errors import NurseryError

CONTRACT_VERSION: Final = 1

STATUS_ONLINE: Final = "online"
STATUS_OFFLINE: Final = "offline"
Status = Literal["online", "offline"]

READING_QOS: Final = 1
STATUS_QOS: Final = 1
FAULT_QOS: Final = 1
EPISODE_QOS: Final = 1

# What a DHT22/DHT11 can physically report; stricter plausibility belongs to the rules.
TEMPERATURE_RANGE_C: Final = (-40.0, 80.0)
HUMIDITY_RANGE_PCT: Final = (0.0, 100.0)

MAX_PAYLOAD_BYTES: Final = 4096
RESERVED_ROOMS: Final = frozenset({"hub"})  # <base>/hub/… is the hub's own availability
NAME_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class ContractError(NurseryError, ValueError):
    """A topic or payload does not follow the wire contract; the message says how."""


def check_name(kind: str, value: str) -> str:
    """Room names and base-topic levels: lowercase, digits, '-' and '_', no MQTT wildcards."""
    if kind == "room" and value in RESERVED_ROOMS:
        raise ContractError(f"room {value!r} is reserved for the hub's own topics")
    if not NAME_RE.fullmatch(value):
        raise ContractError(
            f"{kind} {value!r} must be 1-63 characters of a-z, 0-9, '-' or '_', "
            "starting with a letter or digit"
        )
    return value


def check_base_topic(base: str) -> str:
    """A base topic is one or more name levels separated by '/' (default 'nursery')."""
    for level in base.split("/"):
        check_name("base topic level", level)
    return base


# --- topics -------------------------------------------------------------------------


def reading_topic(base: str, room: str) -> str:
    return f"{base}/{room}/reading"


def status_topic(base: str, room: str) -> str:
    return f"{base}/{room}/status"


def fault_topic(base: str, room: str) -> str:
    return f"{base}/{room}/fault"


def alert_topic(base: str, room: str) -> str:
    """Retained by the hub: the room's alert state, for home automation."""
    return f"{base}/{room}/alert"


def health_topic(base: str, room: str) -> str:
    """Retained by the firmware: its outbox and sensor counters."""
    return f"{base}/{room}/health"


def stored_topic(base: str, room: str) -> str:
    """Retained by the hub: per boot, the highest seq up to which it has stored every reading."""
    return f"{base}/{room}/stored"


def command_topic(base: str, room: str) -> str:
    """Commands to the hub for a room's alert: `ack`, `snooze` (30 min), `snooze 15|30|60`."""
    return f"{base}/{room}/command"


def episode_topic(base: str, room: str) -> str:
    """The episode button on the Pi: `start`, `stop` or `now` events (QoS 1, not retained)."""
    return f"{base}/{room}/episode"


def episode_stored_topic(base: str, room: str) -> str:
    """The hub's receipt for one episode event, so the firmware can forget it (QoS 1)."""
    return f"{base}/{room}/episode/stored"


def subscriptions(base: str) -> list[str]:
    """The topic filters the hub subscribes to."""
    return [f"{base}/+/{kind}" for kind in _KINDS]


TopicKind = Literal["reading", "status", "fault", "health", "command", "episode"]
_KINDS: Final[tuple[TopicKind, ...]] = (
    "reading",
    "status",
    "fault",
    "health",
    "command",
    "episode",
)


def parse_topic(base: str, topic: str) -> tuple[str, TopicKind]:
    """Split `<base>/<room>/<kind>` into (room, kind), refusing anything else."""
    prefix = base + "/"
    if not topic.startswith(prefix):
        raise ContractError(f"topic {topic!r} is not under {base!r}")
    parts = topic[len(prefix) :].split("/")
    if len(parts) != 2:
        raise ContractError(f"topic {topic!r} is not {base}/<room>/<kind>")
    room, kind = parts
    check_name("room", room)
    for known in _KINDS:
        if kind == known:
            return room, known
    raise ContractError(f"topic {topic!r} has unknown kind {kind!r}")


def room_state_topic(base: str, room: str) -> str:
    """Retained by the hub: the room's derived state (comfort band, too cold, problem)."""
    return f"{base}/{room}/state"


def hub_availability_topic(base: str) -> str:
    """Retained by the hub: `online` while it runs, `offline` (its last will) when it is gone.

    Not `<base>/hub/status`: the hub subscribes to `<base>/+/status`, so it would take its own
    status for a room called `hub`.
    """
    return f"{base}/hub/availability"


def hub_storage_topic(base: str) -> str:
    """Retained by the hub: whether it can save (`ok`) or not (`cannot_save`, and why)."""
    return f"{base}/hub/storage"
