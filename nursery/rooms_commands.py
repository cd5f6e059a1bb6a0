"""`nursery rooms add`: pick a Zigbee2MQTT, ESPHome, Shelly or Tasmota sensor seen on the
broker for a room, and get the exact `hub.sources` lines to add (docs/sources.md)."""

from __future__ import annotations

import json
import queue
import sys
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contract.topics import ContractError, check_name
from hub.messages.sources import SYSTEM_NAMES
from hub.sources import discover
from hub.sources.discover import Found
from mqttlink.tls import MqttTlsError, secure_client
from nursery.config import Settings

EXIT_NOTHING = 1
EXIT_BAD_INPUT = 2


def listen(settings: Settings, seconds: float) -> list[Found]:
    """Every sensor these systems reveal on the broker within `seconds`, with a progress
    line; in the order first heard."""
    messages: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    secure_client(client, settings.mqtt)
    client.on_connect = lambda c, u, f, rc, p: c.subscribe([(t, 0) for t in discover.TOPICS])
    client.on_message = lambda c, u, m: messages.put((m.topic, bytes(m.payload)))
    client.connect(settings.mqtt.host, settings.mqtt.port, keepalive=30)
    client.loop_start()
    seen: dict[tuple[str, str, str | None], Found] = {}
    tasmota: dict[str, str] = {}
    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            _progress(f"Listening for sensors… {left:.0f} s left, {len(seen)} found")
            try:
                topic, payload = messages.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            for device in discover.found(topic, payload, tasmota):
                seen.setdefault((device.kind, device.device, device.base_topic), device)
    finally:
        client.disconnect()
        client.loop_stop()
    _progress(f"Listened {seconds:g} s: {len(seen)} found", end="\n")
    return list(seen.values())


def _progress(text: str, end: str = "") -> None:
    """One line that updates in place on a terminal; only the last one otherwise."""
    if sys.stderr.isatty():
        print(f"\r\033[K{text}", end=end, file=sys.stderr, flush=True)
    elif end:
        print(text, file=sys.stderr)


def entry(device: Found, room: str) -> dict[str, Any]:
    out: dict[str, Any] = {"room": room, "kind": device.kind, "device": device.device}
    if device.base_topic is not None:
        out["base_topic"] = device.base_topic
    return out


def toml_lines(source: dict[str, Any]) -> str:
    body = "".join(f"{key} = {json.dumps(value)}\n" for key, value in source.items())
    return "[[hub.sources]]\n" + body


def _ask(prompt: str) -> str:
    print(prompt, end="", flush=True)
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.strip()


def add_room(settings: Settings, listen_s: float) -> int:
    where = f"{settings.mqtt.host}:{settings.mqtt.port}"
    print(f"Looking for Zigbee2MQTT, ESPHome, Shelly and Tasmota sensors on {where}.")
    try:
        devices = listen(settings, listen_s)
    except (OSError, MqttTlsError) as exc:
        print(f"nursery rooms add: cannot reach the MQTT broker {where}: {exc}", file=sys.stderr)
        return EXIT_NOTHING
    taken = {(s.kind, s.device): s.room for s in settings.hub.sources}
    if not devices:
        print(
            "No sensor of these systems spoke. Wake a battery sensor (most have a button) "
            "and try again, or listen longer with --listen-s 60."
        )
        return EXIT_NOTHING
    for number, device in enumerate(devices, 1):
        room = taken.get((device.kind, device.device))
        note = f" (already the room {room!r})" if room else ""
        detail = f" — {device.detail}" if device.detail else ""
        print(f"  {number}. {SYSTEM_NAMES[device.kind]}: {device.device}{detail}{note}")
    try:
        picked = _ask(f"Which one feeds the room (1-{len(devices)})? ")
        if not picked.isdigit() or not 1 <= int(picked) <= len(devices):
            print(f"nursery rooms add: {picked!r} is not 1 to {len(devices)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        device = devices[int(picked) - 1]
        room = _ask("Room name (a-z, 0-9, - or _, as on the dashboard)? ")
    except EOFError:
        print("\nnursery rooms add: no answer, nothing added", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        check_name("room", room)
    except ContractError as exc:
        print(f"nursery rooms add: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if any(s.room == room for s in settings.hub.sources):
        print(f"nursery rooms add: the room {room!r} has a source already", file=sys.stderr)
        return EXIT_BAD_INPUT
    source = entry(device, room)
    every = [s.model_dump(exclude_defaults=True) for s in settings.hub.sources] + [source]
    print(
        "\nAdd these lines to your nursery.toml (the hub's is "
        "/etc/nursery-monitor/nursery.toml on a Pi), then restart the hub "
        "(sudo systemctl restart nursery-hub):\n"
    )
    print(toml_lines(source))
    print("Or, where the hub's settings come from the environment:\n")
    print(f"NURSERY_HUB__SOURCES='{json.dumps(every)}'")
    return 0
