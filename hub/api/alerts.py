"""Alerts: GET /api/alerts, POST /api/alerts/{id}/ack and /snooze.

A request carrying a push link's `exp` and `sig` acts for that one alert without a login;
that is how a phone's "I'm on it" button reaches the hub.
"""

from __future__ import annotations

import html
from typing import Annotated, Literal

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from hub import messages
from hub.accounts import Caregiver
from hub.alerts import AlertError, Incident
from hub.api.deps import (
    CaregiverDep,
    ContextDep,
    MaybeCaregiverDep,
    MonitorDep,
    unprocessable,
)
from hub.api.schemas import AlertOut
from hub.links import BadLink
from hub.monitor import UnknownAlert

router = APIRouter(prefix="/api/alerts", tags=["alerts"])


class Answer(BaseModel):
    via: str | None = Field(
        None,
        min_length=1,
        max_length=30,
        description="Through what, when not the dashboard or the API (say `home-assistant`); "
        "who answers is always the signed-in caregiver or the token's owner.",
    )


def alert_out(incident: Incident, state: str, words: tuple[str, str] | None = None) -> AlertOut:
    advice, accuracy = words or (None, None)
    return AlertOut(
        id=incident.id or 0,
        room=incident.room,
        condition=incident.condition.value,
        severity=incident.severity.name.lower(),
        state=state,
        opened_at=incident.opened_at,
        since=incident.since,
        value=incident.value,
        threshold=incident.threshold,
        worst=incident.worst,
        notified_at=incident.notified_at,
        repeats=incident.repeats,
        escalated_at=incident.escalated_at,
        acknowledged_at=incident.acked_at,
        acknowledged_by=incident.acked_by,
        acknowledged_via=incident.acked_via,
        snoozed_until=incident.snoozed_until,
        resolved_at=incident.resolved_at,
        advice=advice,
        accuracy=accuracy,
    )


def _words(ctx: ContextDep, incident: Incident) -> tuple[str, str]:
    """The push's advice and accuracy for this alert, in the household's guidance and unit."""
    household = ctx.preferences.household() if ctx.preferences else None
    rules = household.rules if household else ctx.settings.rules
    unit = household.unit if household else "C"
    return messages.guidance(incident.finding(), rules, ctx.clock(), unit)


@router.get("", response_model=list[AlertOut])
def list_alerts(monitor: MonitorDep, ctx: ContextDep, caregiver: CaregiverDep) -> list[AlertOut]:
    """Open alerts and those of the last 24 hours, newest first, with who acknowledged and,
    while open, the advice and accuracy their push gives."""
    return [
        alert_out(
            view.incident,
            view.state,
            None if view.state == "resolved" else _words(ctx, view.incident),
        )
        for view in monitor.alerts()
    ]


def _answer(
    monitor: MonitorDep,
    ctx: ContextDep,
    request: Request,
    caregiver: Caregiver | None,
    alert_id: int,
    action: Literal["ack", "snooze"],
    answer: Answer | None,
    minutes: int,
    exp: int | None,
    sig: str | None,
) -> AlertOut:
    if sig is not None or exp is not None:
        try:
            monitor.verify_link(alert_id, action, exp or 0, sig or "")
        except (BadLink, AlertError) as exc:
            raise HTTPException(403, detail=str(exc)) from exc
        by, via = "push button", "push"
    elif caregiver is None:
        raise HTTPException(
            401,
            detail="sign in first, or send 'Authorization: Bearer <API token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    else:
        by = caregiver.name
        via = (answer.via if answer else None) or str(getattr(request.state, "via", "api"))
    try:
        if action == "ack":
            incident = monitor.acknowledge(alert_id, by, via)
        else:
            incident = monitor.snooze(alert_id, minutes, by, via)
    except UnknownAlert as exc:
        raise HTTPException(404, detail=str(exc)) from exc
    except AlertError as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    return alert_out(incident, incident.state(ctx.clock()))


LinkExp = Annotated[int | None, Query(description="Push link expiry (Unix time).")]
LinkSig = Annotated[str | None, Query(description="Push link signature.")]


@router.post("/{alert_id}/ack", response_model=AlertOut)
def ack_alert(
    monitor: MonitorDep,
    ctx: ContextDep,
    request: Request,
    caregiver: MaybeCaregiverDep,
    alert_id: int,
    answer: Annotated[Answer | None, Body()] = None,
    exp: LinkExp = None,
    sig: LinkSig = None,
) -> AlertOut:
    """Acknowledge: repeats stop for this incident; it pages again if it gets 1 °C worse."""
    return _answer(monitor, ctx, request, caregiver, alert_id, "ack", answer, 0, exp, sig)


@router.post("/{alert_id}/snooze", response_model=AlertOut)
def snooze_alert(
    monitor: MonitorDep,
    ctx: ContextDep,
    request: Request,
    caregiver: MaybeCaregiverDep,
    alert_id: int,
    minutes: Annotated[int, Query(description="15, 30 or 60.")] = 30,
    answer: Annotated[Answer | None, Body()] = None,
    exp: LinkExp = None,
    sig: LinkSig = None,
) -> AlertOut:
    """Snooze for 15, 30 or 60 minutes; a reminder follows if it has not cleared."""
    if minutes not in (15, 30, 60):
        raise unprocessable("query", "minutes", "minutes must be 15, 30 or 60")
    return _answer(monitor, ctx, request, caregiver, alert_id, "snooze", answer, minutes, exp, sig)


_CONFIRM_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Nursery monitor</title>
<style>body{{font:18px system-ui,sans-serif;margin:2rem auto;max-width:26rem;padding:0 1rem}}
button{{font:inherit;padding:1rem 1.5rem;border-radius:.75rem;border:0;background:#1f6f4a;
color:#fff;width:100%}}</style></head>
<body><h1>{heading}</h1><p>{text}</p>{form}</body></html>"""


@router.get("/{alert_id}/{action}", response_class=HTMLResponse, include_in_schema=False)
def confirm_page(
    monitor: MonitorDep,
    request: Request,
    alert_id: int,
    action: Literal["ack", "snooze"],
    exp: LinkExp = None,
    sig: LinkSig = None,
) -> HTMLResponse:
    """A push link opened in a browser: a GET must not change anything, so ask first."""
    try:
        monitor.verify_link(alert_id, action, exp or 0, sig or "")
    except (BadLink, AlertError) as exc:
        page = _CONFIRM_PAGE.format(
            heading="This link does not work", text=html.escape(str(exc)), form=""
        )
        return HTMLResponse(page, status_code=403)
    label = messages.ACK_LABEL if action == "ack" else messages.SNOOZE_LABEL
    form = (
        f'<form method="post" action="{html.escape(str(request.url))}">'
        f"<button>{html.escape(label)}</button></form>"
    )
    text = (
        "Tap to acknowledge the alert." if action == "ack" else "Tap to snooze it for 30 minutes."
    )
    return HTMLResponse(_CONFIRM_PAGE.format(heading="Nursery monitor", text=text, form=form))
