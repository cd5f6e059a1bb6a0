"""The alert tests' shortened rules and what they read back from the hub."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from nursery.config import Settings
from tests.support.hub import RunningHub, hub_settings
from tests.support.ports import free_port
from tests.support.push import Receiver
from tests.support.rooms import TracePlayer

if TYPE_CHECKING:
    from tests.support.mosquitto import Mosquitto

FAST_RULES: dict[str, object] = {
    "cold_for_s": 0.3,
    "stale_after_s": 2.0,
    "drop_c": 15.0,  # keep fast-drop warnings out of these traces
    "cool_below_c": 16.0,  # no cool band: cold or not
    "humidity_for_s": 3600.0,
}
FAST_ALERTS: dict[str, object] = {
    "repeat_after_s": [1.0, 2.0],
    "repeat_every_s": 1.0,
    "escalate_after_s": 3600.0,
    "max_per_hour": 1000,
}


class Scene(NamedTuple):
    """A running hub with a push receiver and one room playing readings."""

    receiver: Receiver
    settings: Settings
    hub: RunningHub
    room: TracePlayer


def settings_for(
    tmp_path: Path, broker: Mosquitto, base: str, receiver: Receiver, **extra: dict[str, object]
) -> Settings:
    port = free_port()
    sections: dict[str, dict[str, object]] = {
        "rules": dict(FAST_RULES),
        "alerts": dict(FAST_ALERTS),
        "notify": {
            "urls": [receiver.url("family")],
            "public_url": f"http://127.0.0.1:{port}",
            "timeout_s": 5,
        },
        "hub": {"http_port": port},
    }
    for section, values in extra.items():
        sections.setdefault(section, {}).update(values)
    return hub_settings(tmp_path, broker.port, base, **sections)


def titles(receiver: Receiver, needle: str) -> list[str]:
    return [title for title in receiver.titles() if needle in title]


def open_alert(hub: RunningHub, condition: str) -> dict[str, Any]:
    alerts = hub.get("/api/alerts").json()
    found = [a for a in alerts if a["condition"] == condition and a["state"] != "resolved"]
    assert found, f"no open {condition} alert in {alerts}"
    return found[0]  # type: ignore[no-any-return]
