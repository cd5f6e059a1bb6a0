"""The JSON shapes of the HTTP API: what automations and the dashboard read."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Counts(BaseModel):
    stored: int = Field(description="Readings stored (each (room, boot_id, seq) once).")
    duplicates: int = Field(description="Redelivered readings that were already stored.")
    rejected: int = Field(description="Messages that broke the MQTT contract and were dropped.")
    statuses: int = Field(description="Online/offline status messages received.")
    faults: int = Field(description="Sensor fault messages received.")
    healths: int = Field(description="Firmware health messages received.")
    commands: int = Field(description="Alert commands (ack/snooze) received over MQTT.")
    store_errors: int = Field(description="Database writes that failed and were retried.")


class MqttHealth(BaseModel):
    connected: bool
    broker: str = Field(description="host:port of the broker the hub uses.")


class DeliveryOut(BaseModel):
    pending: int = Field(description="Pushes waiting to be sent (or retried).")
    failing: bool = Field(description="True while the last attempt to some channel failed.")
    last_error: str | None
    last_error_at: datetime | None
    sent_last_hour: int


PartState = Literal["ok", "degraded"]


class HealthParts(BaseModel):
    mqtt: PartState = Field(description="`degraded` while the broker is unreachable.")
    notifications: PartState = Field(
        description="`degraded` while the last push to some channel failed."
    )
    database: PartState = Field(
        "ok", description="`degraded` while the hub's last attempt to store readings failed."
    )
    alerts: PartState = Field(
        "ok", description="`degraded` while the hub's alert checks have stopped turning."
    )


class HeartbeatOut(BaseModel):
    state: Literal["ok", "failing", "off"] = Field(
        description="`off` without notify.heartbeat_urls; `failing` while the last round of "
        "pings did not all land."
    )
    last_at: datetime | None = Field(None, description="When the last round of pings went out.")


class StorageOut(BaseModel):
    state: Literal["ok", "cannot_save"] = Field(
        "ok",
        description="`cannot_save` while the disk under the database takes no writes: "
        "readings wait on the sensors and in the broker, changes get 503.",
    )
    problem: Literal["full", "read_only", "io"] | None = Field(
        None, description="`full`, `read_only` or `io` (writes fail with an I/O error)."
    )
    since: datetime | None = Field(None, description="When the hub first could not save.")


class HealthSummary(BaseModel):
    """What /healthz tells anyone: no host, no error text."""

    status: PartState = Field(
        description="`degraded` when any part is; the answer is then 503 with the same body."
    )
    parts: HealthParts
    heartbeat: HeartbeatOut = Field(
        default_factory=lambda: HeartbeatOut(state="off"),
        description="The dead man's switch (notify.heartbeat_urls); not part of `status`.",
    )
    storage: StorageOut = Field(
        default_factory=StorageOut,
        description="Can the hub save? `cannot_save` also makes `parts.database` degraded.",
    )


class Health(HealthSummary):
    """What /healthz tells a caregiver's API token or session."""

    mqtt: MqttHealth
    messages: Counts
    notifications: DeliveryOut | None = Field(
        None, description="Push delivery; `failing` also makes the status `degraded`."
    )


class ReadingOut(BaseModel):
    ts: datetime = Field(description="UTC time of measurement.")
    temperature_c: float
    humidity_pct: float


class LatestOut(ReadingOut):
    boot_id: str
    seq: int
    received_at: datetime = Field(description="UTC time the hub received it.")


class FaultOut(BaseModel):
    at: datetime
    error: str
    consecutive_failures: int


class RoomOut(BaseModel):
    room: str
    status: Literal["online", "offline", "unknown"] = Field(
        description="From the retained status topic: the firmware's own word or its last will."
    )
    online: bool
    status_since: datetime | None
    last_seen: datetime | None = Field(description="When the hub last heard from the room.")
    seconds_since_seen: float | None
    stale: bool = Field(
        description="True when no valid reading arrived within stale_after_s: "
        "the room temperature is unknown."
    )
    latest: LatestOut | None
    fault: FaultOut | None = Field(description="A sensor fault newer than the latest reading.")
    stale_after_s: float = Field(
        description="The room's silence limit: rules.stale_after_s, or its source's (hub.sources)."
    )
    source: str | None = Field(
        None,
        description="What feeds the room: `Raspberry Pi: DHT22` (its sensor model), or the "
        "other system's device (hub.sources).",
    )
    reporting: str | None = Field(None, description="How often that device reports.")
    accuracy: str | None = Field(
        None, description="That device's accuracy: its datasheet's, or as configured."
    )


class SeriesOut(BaseModel):
    room: str
    since: datetime
    until: datetime
    downsampled: bool = Field(description="True when points are averages over equal buckets.")
    points: list[ReadingOut]


class AlertOut(BaseModel):
    id: int
    room: str
    condition: str = Field(
        description="cold, cool, fast_drop, warm, hot, humidity, no_data, offline, "
        "sensor_suspect or clock_skew."
    )
    severity: Literal["advisory", "warning", "alert"]
    state: Literal["open", "acknowledged", "snoozed", "resolved"]
    opened_at: datetime
    since: datetime = Field(description="When the condition began.")
    value: float | None
    threshold: float | None
    worst: float | None
    notified_at: datetime | None
    repeats: int
    escalated_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledged_via: str | None
    snoozed_until: datetime | None
    resolved_at: datetime | None
    advice: str | None = Field(
        None, description="What to check, as the push says it; null once resolved."
    )
    accuracy: str | None = Field(
        None,
        description='The push\'s accuracy sentence ("Sensor accuracy ±0.5 °C."), "" for a '
        "condition without one; null once resolved.",
    )


class StatOut(BaseModel):
    mean: float = Field(description="Mean of the readings the point summarises.")
    min: float = Field(description="Lowest of them: a short cold spell shows here.")
    max: float = Field(description="Highest of them.")


class HistoryPointOut(BaseModel):
    ts: datetime = Field(
        description="UTC start of the stretch the point summarises (`bucket_s` long); the "
        "reading's own time when `bucket_s` is 0."
    )
    count: int = Field(description="Readings summarised.")
    temperature_c: StatOut
    humidity_pct: StatOut


class AlertPeriodOut(BaseModel):
    id: int
    condition: str = Field(description="As in GET /api/alerts.")
    severity: Literal["advisory", "warning", "alert"]
    opened_at: datetime
    resolved_at: datetime | None = Field(description="None while the alert is open.")


class HistoryOut(BaseModel):
    room: str
    range: Literal["24h", "7d", "1y"]
    since: datetime = Field(description="UTC start of the window.")
    until: datetime = Field(description="UTC end of the window (now).")
    bucket_s: int = Field(
        description="Seconds each point covers: 0 (each reading, while a day has at most "
        "288), 300 (24 h in 5-minute buckets), 3600 (7 d, hourly rollup) or 86400 (1 y, "
        "days in `tz`; 23 or 25 h when the clocks change)."
    )
    source: Literal["readings", "hourly", "daily"] = Field(
        description="`readings` for 24 h; `hourly` and `daily` come from the hourly rollup, "
        "never from the raw readings."
    )
    newest: datetime | None = Field(
        description="Time of the newest reading in the window: fetch later ones from "
        "/readings?since=."
    )
    points: list[HistoryPointOut] = Field(description="Oldest first; no point for a gap.")
    alerts: list[AlertPeriodOut] = Field(
        description="The room's alerts open at any time in the window, oldest first "
        "(the newest 500 at most)."
    )
