"""The rules' memory rebuilt from the stored readings and statuses after a restart."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from hub.monitor.rules import Policy, ReadingSeen, RoomRules, StatusSeen, replay, step
from hub.store.database import Store


def rebuilt_rules(
    store: Store, policy_for: Callable[[str], Policy], now: datetime
) -> Iterator[tuple[str, RoomRules, int]]:
    """Each stored room's rules, replayed from its readings of the last policy.memory_s
    (its latest one at least) and its last status; with how many readings that took."""
    for room in store.rooms():
        policy = policy_for(room.name)
        window = timedelta(seconds=policy.memory_s)
        rows = store.recent_readings(room.name, now - window)
        if not rows and room.latest is not None:
            rows = [room.latest]
        state = replay(
            room.name,
            (
                ReadingSeen(r.ts, r.received_at, r.temperature_c, r.humidity_pct, r.boot_id, r.seq)
                for r in rows
            ),
            policy,
            room.latest.received_at if room.latest else now,
        )
        if room.status == "offline" and room.status_at is not None:
            state, _ = step(state, StatusSeen(room.status_at, online=False), policy, room.status_at)
        yield room.name, state, len(rows)
