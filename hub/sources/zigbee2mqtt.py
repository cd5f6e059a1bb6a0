"""Zigbee2MQTT: a device's state on `<base>/<friendly name>`, its availability beside it."""

# Payloads as documented at https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html
# (state: a JSON object with `temperature` °C, `humidity` %, `battery` %, `linkquality`;
# only what changed may be re-sent, with the cached rest) and
# https://www.zigbee2mqtt.io/guide/configuration/device-availability.html (retained
# `online`/`offline`, or `{"state": "online"}` since 2.0). `last_seen`, when
# advanced.last_seen is set (ISO_8601 or epoch), is the message's own time.

from __future__ import annotations

from datetime import UTC, datetime

from hub.sources.settings import SourceSettings
from hub.sources.update import SourceError, Update, json_object, number, plain_text


def subscriptions(source: SourceSettings) -> list[str]:
    state = f"{source.prefix}/{source.device}"
    return [state, f"{state}/availability"]


def parse(source: SourceSettings, topic: str, payload: bytes) -> Update | None:
    state = f"{source.prefix}/{source.device}"
    if topic == f"{state}/availability":
        return Update(online=_availability(payload))
    if topic != state:
        return None
    data = json_object(payload)
    return Update(
        temperature_c=number(data.get("temperature"), "temperature"),
        humidity_pct=number(data.get("humidity"), "humidity"),
        battery_pct=number(data.get("battery"), "battery"),
        measured_at=_last_seen(data.get("last_seen")),
    )


def _availability(payload: bytes) -> bool:
    text = plain_text(payload)
    if text.startswith("{"):
        text = str(json_object(payload).get("state", ""))
    if text in ("online", "offline"):
        return text == "online"
    raise SourceError(f"availability must be online or offline, got {payload[:40]!r}")


def _last_seen(value: object) -> datetime | None:
    """ISO 8601 with an offset, or epoch milliseconds; a local time without a zone is no
    time at all here."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        millis = number(value, "last_seen") or 0.0
        return datetime.fromtimestamp(millis / 1000, UTC) if millis > 0 else None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise SourceError(f"last_seen is not a time: {value[:40]!r}") from None
        return parsed.astimezone(UTC) if parsed.tzinfo is not None else None
    raise SourceError("last_seen must be a time")
