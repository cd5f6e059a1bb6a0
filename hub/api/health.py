"""GET /healthz: open to monitoring, with details only for a caregiver.

Anyone on the network gets the status and one word per part (`ok` or `degraded`): enough
for an uptime checker. The broker's address, the message counters and the push channels'
last error (which names the failing service's host) go only to a request with a
caregiver's API token or dashboard session (docs/security.md).
"""

from __future__ import annotations

from fastapi import APIRouter

from hub.api.deps import ContextDep, MaybeCaregiverDep
from hub.api.schemas import Counts, DeliveryOut, Health, HealthParts, HealthSummary, MqttHealth

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    response_model=Health | HealthSummary,
    responses={401: {"description": "Credentials were sent and are not valid."}},
)
def healthz(ctx: ContextDep, caregiver: MaybeCaregiverDep) -> Health | HealthSummary:
    """The hub's health; the details with `Authorization: Bearer <API token>`."""
    connected = bool(ctx.ingest and ctx.ingest.connected)
    delivery = ctx.dispatcher.health() if ctx.dispatcher else None
    failing = bool(delivery and delivery.failing)
    parts = HealthParts(
        mqtt="ok" if connected else "degraded",
        notifications="degraded" if failing else "ok",
    )
    status = "ok" if connected and not failing else "degraded"
    if caregiver is None:
        return HealthSummary(status=status, parts=parts)
    mqtt = ctx.settings.mqtt
    counters = ctx.ingest.counters if ctx.ingest else None
    return Health(
        status=status,
        parts=parts,
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
