"""GET /metrics: the hub's figures in Prometheus' text format, behind a caregiver's token."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import APIRouter, Response

from hub.api.deps import CaregiverDep, ContextDep, HubContext
from hub.conditions import Severity
from hub.sources.settings import stale_after_s
from hub.store.rooms import RoomSummary, room_summaries

if TYPE_CHECKING:
    from prometheus_client.core import Metric

router = APIRouter(tags=["health"])
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Figures:
    """A snapshot of the running hub, read once per scrape."""

    rooms: list[RoomSummary]
    seconds_since_reading: dict[str, float]
    open_alerts: Counter[tuple[str, str]]  # (room, severity) -> count
    mqtt_connected: bool
    counters: dict[str, int]  # metric name (without nursery_ and _total) -> value
    pushes_pending: int
    heartbeat: tuple[bool, int] | None  # (last verdict healthy, failed pings) when configured


def read_figures(ctx: HubContext) -> Figures:
    now = ctx.clock()
    sources, default = ctx.settings.hub.sources, ctx.settings.rules.stale_after_s
    rooms = room_summaries(ctx.store, now, lambda room: stale_after_s(sources, room, default))
    since = {
        room.room: (now - room.latest.received_at).total_seconds() if room.latest else math.inf
        for room in rooms
    }
    alerts: Counter[tuple[str, str]] = Counter(
        (incident.room, incident.severity.name.lower()) for incident in ctx.store.open_incidents()
    )
    ingest = ctx.ingest.counters if ctx.ingest else None
    dispatcher = ctx.dispatcher
    counters = {
        "readings_stored": ingest.stored if ingest else 0,
        "readings_duplicate": ingest.duplicates if ingest else 0,
        "messages_rejected": ingest.rejected if ingest else 0,
        "store_errors": ingest.store_errors if ingest else 0,
        "pushes_delivered": dispatcher.delivered_total if dispatcher else 0,
        "pushes_failed": dispatcher.failed_total if dispatcher else 0,
    }
    heartbeat = None
    if ctx.heartbeat is not None:
        state = ctx.heartbeat.state()
        healthy = state.last_verdict is not None and state.last_verdict.healthy
        heartbeat = (healthy, state.failures)
    return Figures(
        rooms=rooms,
        seconds_since_reading=since,
        open_alerts=alerts,
        mqtt_connected=bool(ctx.ingest and ctx.ingest.connected),
        counters=counters,
        pushes_pending=dispatcher.health().pending if dispatcher else 0,
        heartbeat=heartbeat,
    )


def families(figures: Figures) -> Iterator[Metric]:
    """The metric families of one snapshot."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    temperature = GaugeMetricFamily(
        "nursery_room_temperature_celsius", "Newest valid temperature reading", labels=["room"]
    )
    humidity = GaugeMetricFamily(
        "nursery_room_humidity_percent", "Newest valid relative humidity reading", labels=["room"]
    )
    age = GaugeMetricFamily(
        "nursery_room_seconds_since_reading",
        "Seconds since the newest valid reading arrived (+Inf: never)",
        labels=["room"],
    )
    online = GaugeMetricFamily(
        "nursery_room_online", "1 while the room's monitor says it is online", labels=["room"]
    )
    for room in figures.rooms:
        if room.latest is not None:
            temperature.add_metric([room.room], room.latest.temperature_c)
            humidity.add_metric([room.room], room.latest.humidity_pct)
        age.add_metric([room.room], figures.seconds_since_reading[room.room])
        online.add_metric([room.room], 1.0 if room.online else 0.0)
    yield from (temperature, humidity, age, online)

    alerts = GaugeMetricFamily(
        "nursery_open_alerts", "Open alerts by room and severity", labels=["room", "severity"]
    )
    for room in figures.rooms:
        for severity in Severity:
            name = severity.name.lower()
            alerts.add_metric([room.room, name], figures.open_alerts[(room.room, name)])
    yield alerts

    for name, value in figures.counters.items():
        yield CounterMetricFamily(f"nursery_{name}", _HELP[name], value=value)
    yield GaugeMetricFamily(
        "nursery_pushes_pending", "Pushes waiting to be delivered", value=figures.pushes_pending
    )
    yield GaugeMetricFamily(
        "nursery_mqtt_connected",
        "1 while the hub is connected to the MQTT broker",
        value=1.0 if figures.mqtt_connected else 0.0,
    )
    if figures.heartbeat is not None:
        healthy, failures = figures.heartbeat
        yield GaugeMetricFamily(
            "nursery_heartbeat_healthy",
            "1 when the last heartbeat said the whole monitor is healthy",
            value=1.0 if healthy else 0.0,
        )
        yield CounterMetricFamily(
            "nursery_heartbeat_failures", "Heartbeat pings that did not land", value=failures
        )


_HELP = {
    "readings_stored": "Readings stored since the hub started",
    "readings_duplicate": "Readings received again and not stored twice",
    "messages_rejected": "MQTT messages refused by the contract",
    "store_errors": "Failed writes to the hub's database",
    "pushes_delivered": "Pushes delivered since the hub started",
    "pushes_failed": "Push attempts that failed since the hub started",
}


def exposition(figures: Figures) -> bytes:
    from prometheus_client import CollectorRegistry, generate_latest

    class _Snapshot:
        def collect(self) -> Iterator[Metric]:
            return families(figures)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot())
    return generate_latest(registry)


@router.get("/metrics", response_class=Response)
def metrics(ctx: ContextDep, caregiver: CaregiverDep) -> Response:
    """Prometheus scrape target; send an API token (`nursery token NAME`) as a bearer."""
    return Response(exposition(read_figures(ctx)), media_type=CONTENT_TYPE)
