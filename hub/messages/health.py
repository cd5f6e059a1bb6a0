"""The monitor watching itself: heartbeat pings and `nursery status`."""

from __future__ import annotations

from collections.abc import Iterable

from hub.messages.formatting import room_words, span_text

MONITOR_HEALTHY = "Watching every room: broker, database and pushes working."
MONITOR_STARTING = "The nursery monitor hub is starting."


def monitor_problems(
    *,
    broker_connected: bool,
    database_ok: bool,
    alerts_ok: bool,
    push_failing: bool,
    no_rooms: bool,
    offline_rooms: Iterable[str],
    silent_rooms: Iterable[tuple[str, float | None]],
) -> str:
    """What keeps the monitor from watching, in one line (empty when nothing does). It goes
    to an outside uptime service, so it names rooms and parts, never a reading."""
    problems: list[str] = []
    if not broker_connected:
        problems.append("the hub cannot reach the MQTT broker")
    if not database_ok:
        problems.append("the hub cannot save to its database")
    if not alerts_ok:
        problems.append("the hub's alert checks have stopped")
    if push_failing:
        problems.append("pushes to phones are failing")
    if no_rooms:
        problems.append("no room has sent a reading yet")
    problems += [f"{room_words(room)}: monitor offline" for room in offline_rooms]
    problems += [
        f"{room_words(room)}: no reading for {span_text(since)}"
        if since is not None
        else f"{room_words(room)}: no reading yet"
        for room, since in silent_rooms
    ]
    if not problems:
        return ""
    text = "; ".join(problems)
    return text[:1].upper() + text[1:] + "."


def monitor_check_failed(error: str) -> str:
    return f"The hub could not check its own health ({error}); see its log."
