"""GET /healthz: open to monitoring, shows the hub's plumbing and no room data."""

from __future__ import annotations

from fastapi import APIRouter

from hub.api.deps import ContextDep
from hub.api.schemas import Counts, Health, MqttHealth

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz(ctx: ContextDep) -> Health:
    mqtt = ctx.settings.mqtt
    counters = ctx.ingest.counters if ctx.ingest else None
    connected = bool(ctx.ingest and ctx.ingest.connected)
    return Health(
        status="ok" if connected else "degraded",
        mqtt=MqttHealth(connected=connected, broker=f"{mqtt.host}:{mqtt.port}"),
        messages=Counts(
            stored=counters.stored if counters else 0,
            duplicates=counters.duplicates if counters else 0,
            rejected=counters.rejected if counters else 0,
            statuses=counters.statuses if counters else 0,
            faults=counters.faults if counters else 0,
            store_errors=counters.store_errors if counters else 0,
        ),
    )
