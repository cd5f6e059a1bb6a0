"""Another system's device on the test broker: publishes what its documentation shows."""

from __future__ import annotations

import json
import time
from typing import Any

import paho.mqtt.client as mqtt

from tests.support.hub import RunningHub


def publish(client: mqtt.Client, topic: str, payload: object, *, retain: bool = False) -> None:
    """QoS 1, waited for: the broker has it before the test goes on."""
    data = (
        payload
        if isinstance(payload, bytes)
        else (payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
    )
    client.publish(topic, data, qos=1, retain=retain).wait_for_publish(5)


def readings(hub: RunningHub, room: str) -> list[dict[str, Any]]:
    """The room's readings as the history API gives them (none while it is unknown)."""
    answer = hub.get(f"/api/rooms/{room}/readings")
    if answer.status_code == 404:
        return []
    assert answer.status_code == 200, answer.text
    return answer.json()["points"]  # type: ignore[no-any-return]


def room(hub: RunningHub, name: str) -> dict[str, Any] | None:
    found = [r for r in hub.get("/api/rooms").json() if r["room"] == name]
    return found[0] if found else None


def alerts(hub: RunningHub, condition: str) -> list[dict[str, Any]]:
    return [a for a in hub.get("/api/alerts").json() if a["condition"] == condition]


def shelly_status(
    temperature_c: float,
    humidity: float,
    ts: float | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Shelly H&T Gen3 NotifyStatus, as its RPC notifications document it."""
    params: dict[str, Any] = {
        "ts": round(time.time() if ts is None else ts, 2),
        "temperature:0": {"id": 0, "tC": temperature_c, "tF": round(temperature_c * 9 / 5 + 32, 1)},
        "humidity:0": {"id": 0, "rh": humidity},
        **(extra or {}),
    }
    return {
        "src": "shellyhtg3-84fce63ad204",
        "dst": "shellyhtg3-84fce63ad204/events",
        "method": "NotifyStatus",
        "params": params,
    }
