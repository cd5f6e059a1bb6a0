"""GET /healthz: open to monitoring, shows the hub's plumbing and no room data."""

from __future__ import annotations

from fastapi import APIRouter

from hub.api.deps import ContextDep
from hub.api.schemas import Counts, DeliveryOut, Health, MqttHealth

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz(ctx: ContextDep) -> Health:
    mqtt = ctx.settings.mqtt
    counters = ctx.ingest.counters if ctx.ingest else None
    connected = bool(ctx.ingest and ctx.ingest.connected)
    delivery = ctx.dispatcher.health() if ctx.dispatcher else None
    failing = bool(delivery and delivery.failing)
    return Health(
        status="ok" if connected and not failing else "degraded",
        notifications=DeliveryOut(
            pending=delivery.pending,
            failing=delivery.failing,
            last_error=delivery.last_error,
            last_error_at=delivery.last_error_at,
            sent_last_hour=delivery.sent_last_hour,
        )
        if delivery
        else None,
        mqtt=MqttHealth(connected=connected, broker=f"{mqtt.host}:{mqtt.port}"),
        messages=Counts(
            stored=counters.stored if counters else 0,
            duplicates=counters.duplicates if counters else 0,
            rejected=counters.rejected if counters else 0,
            statuses=counters.statuses if counters else 0,
            faults=counters.faults if counters else 0,
            healths=counters.healths if counters else 0,
            commands=counters.commands if counters else 0,
            store_errors=counters.store_errors if counters else 0,
        ),
    )
