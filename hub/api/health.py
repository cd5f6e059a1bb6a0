"""GET /healthz: open to monitoring, with details only for a caregiver."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from hub.api.deps import ContextDep, HubContext, MaybeCaregiverDep
from hub.api.schemas import (
    Counts,
    DeliveryOut,
    Health,
    HealthParts,
    HealthSummary,
    HeartbeatOut,
    MqttHealth,
    PartState,
    StorageOut,
)

router = APIRouter(tags=["health"])
DEGRADED: dict[int | str, dict[str, Any]] = {
    503: {"description": "Degraded: the same body, for probes that read the status."}
}


def _state(ok: bool) -> PartState:
    return "ok" if ok else "degraded"


def _heartbeat(ctx: HubContext) -> HeartbeatOut:
    if ctx.heartbeat is None:
        return HeartbeatOut(state="off")
    state = ctx.heartbeat.state()
    return HeartbeatOut(
        state="ok" if state.last_ok in (True, None) else "failing", last_at=state.last_at
    )


@router.get(
    "/healthz",
    response_model=Health | HealthSummary,
    responses={**DEGRADED, 401: {"description": "Credentials were sent and are not valid."}},
)
def healthz(
    ctx: ContextDep, caregiver: MaybeCaregiverDep, response: Response
) -> Health | HealthSummary:
    """Readiness: is the hub doing its job (broker, database, alert checks, pushes)? 503
    when not. The details with `Authorization: Bearer <API token>`."""
    connected = bool(ctx.ingest and ctx.ingest.connected)
    delivery = ctx.dispatcher.health() if ctx.dispatcher else None
    failing = bool(delivery and delivery.failing)
    parts = HealthParts(
        mqtt=_state(connected),
        notifications=_state(not failing),
        database=_state(
            (ctx.ingest is None or ctx.ingest.database_ok) and not ctx.save_health.failing
        ),
        alerts=_state(ctx.monitor is None or ctx.monitor.watching()),
    )
    status = _state(all(part == "ok" for part in parts.model_dump().values()))
    if status == "degraded":
        response.status_code = 503
    saving = ctx.save_health.state
    storage = StorageOut(
        state="ok" if saving.problem is None else "cannot_save",
        problem=saving.problem,
        since=saving.since,
    )
    if caregiver is None:
        return HealthSummary(status=status, parts=parts, heartbeat=_heartbeat(ctx), storage=storage)
    mqtt = ctx.settings.mqtt
    counters = ctx.ingest.counters if ctx.ingest else None
    return Health(
        status=status,
        parts=parts,
        heartbeat=_heartbeat(ctx),
        storage=storage,
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


@router.get(
    "/livez",
    responses={503: {"description": "The hub's own loops have stopped: restart it."}},
)
def livez(ctx: ContextDep) -> JSONResponse:
    """Liveness: the hub's threads still turn (the same test as its systemd watchdog).
    A lost broker or a failing push leaves it alive: restarting would not help."""
    alive = (ctx.ingest is None or ctx.ingest.writing) and (
        ctx.monitor is None or ctx.monitor.watching()
    )
    return JSONResponse({"alive": alive}, status_code=200 if alive else 503)
