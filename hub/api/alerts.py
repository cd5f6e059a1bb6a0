"""Alerts: GET /api/alerts, POST /api/alerts/{id}/ack and /snooze."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from contract.errors import NurseryError
from hub import messages
from hub.api.deps import (
    CaregiverDep,
    ContextDep,
    HubContext,
    MonitorDep,
    optional_caregiver,
    session_caregiver,
    unprocessable,
)
from hub.api.pages import render_page
from hub.api.schemas import AlertOut
from hub.conditions import Incident
from hub.monitor.alerts import AlertError
from hub.monitor.watch import Monitor, UnknownAlert
from hub.notify.links import BadLink, LinkAction, link_outcome
from hub.sources.settings import source_for

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
    health = ctx.store.health(incident.room)  # the room's sensor model, as the push uses
    sensor = health.sensor if health is not None else None
    source = source_for(ctx.settings.hub.sources, incident.room)
    temperature, humidity = messages.room_accuracy(source, sensor)
    return messages.guidance(
        incident.finding(), rules, ctx.clock(), unit, accuracy_c=temperature, accuracy_pct=humidity
    )


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


LinkExp = Annotated[int | None, Query(description="Push link expiry (Unix time).")]
LinkSig = Annotated[str | None, Query(description="Push link signature.")]
NO_STORE = {"Cache-Control": "no-store"}
LINK_RESPONSES: dict[int | str, dict[str, object]] = {
    403: {"description": "A push link that is not valid, was changed, or has expired."},
    409: {"description": "Already resolved, or (a push link) already answered."},
}


def _answer(
    monitor: Monitor,
    ctx: HubContext,
    request: Request,
    alert_id: int,
    action: LinkAction,
    answer: Answer | None,
    minutes: int,
) -> AlertOut:
    """An answer from the dashboard or an API token, for the signed-in caregiver."""
    caregiver = optional_caregiver(request)
    if caregiver is None:
        raise HTTPException(
            401,
            detail="sign in first, or send 'Authorization: Bearer <API token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    by = caregiver.name
    via = (answer.via if answer else None) or str(getattr(request.state, "via", "api"))
    if action == "ack":
        incident = monitor.acknowledge(alert_id, by, via)
    else:
        incident = monitor.snooze(alert_id, minutes, by, via)
    return alert_out(incident, incident.state(ctx.clock()))


def _wants_page(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _page(page: messages.LinkPage, status: int = 200, action: str | None = None) -> HTMLResponse:
    """A push link's page, in the sign-in pages' frame; `action` is where its button posts."""
    content = f"<p>{html.escape(page.text)}</p>"
    if page.button and action:
        content += (
            f'<form method="post" action="{html.escape(action)}">'
            f'<button type="submit">{html.escape(page.button)}</button></form>'
        )
    content += f'<p class="help"><a href="/">{html.escape(messages.LINK_DASHBOARD)}</a></p>'
    return HTMLResponse(render_page(page.title, content), status_code=status, headers=NO_STORE)


class _LinkRefused(NurseryError):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


def _checked_link(
    monitor: Monitor,
    ctx: HubContext,
    alert_id: int,
    action: LinkAction,
    exp: int | None,
    sig: str | None,
    minutes: int | None,
) -> Incident:
    """The alert a valid link names; else _LinkRefused."""
    try:
        monitor.verify_link(alert_id, action, exp or 0, sig or "", minutes)
    except (BadLink, AlertError) as exc:
        raise _LinkRefused(403, str(exc)) from exc
    incident = ctx.store.incident(alert_id)
    if incident is None:
        raise _LinkRefused(404, messages.LINK_UNKNOWN)
    return incident


def _answered_page(incident: Incident, done: bool, now: datetime) -> messages.LinkPage:
    answer = (incident.acked_by, incident.acked_at, incident.snoozed_until, now)
    return messages.link_done(*answer) if done else messages.link_already_done(*answer)


def _link_answer(
    monitor: Monitor,
    ctx: HubContext,
    request: Request,
    alert_id: int,
    action: LinkAction,
    exp: int | None,
    sig: str | None,
    minutes: int | None,
) -> AlertOut | Response:
    """A push link's button: act once, for whoever holds the link."""
    wants_page = _wants_page(request)
    try:
        incident = _checked_link(monitor, ctx, alert_id, action, exp, sig, minutes)
    except _LinkRefused as refused:
        if wants_page:
            return _page(messages.LinkPage(messages.LINK_BAD_TITLE, refused.text), refused.status)
        return JSONResponse({"detail": refused.text}, status_code=refused.status)
    assert ctx.used_links is not None and sig is not None and exp is not None
    now = ctx.clock()
    outcome = link_outcome(incident, action, ctx.used_links.used(sig), now)
    if outcome == "act" and not ctx.used_links.claim(sig, alert_id, exp, now):
        # The same link, tapped twice at once: the other tap acts, this one tells.
        outcome, incident = "answered", ctx.store.incident(alert_id) or incident
    if outcome == "act":
        caregiver = session_caregiver(request)
        by = caregiver.name if caregiver else messages.PUSH_BY
        try:
            if action == "ack":
                incident = monitor.acknowledge(alert_id, by, "push")
            else:
                incident = monitor.snooze(alert_id, minutes or 0, by, "push")
        except (UnknownAlert, AlertError):
            ctx.used_links.release(sig)  # it did nothing: the link stays usable
            incident = ctx.store.incident(alert_id) or incident
            outcome = "resolved" if incident.resolved_at is not None else "answered"
    if outcome == "resolved":
        assert incident.resolved_at is not None
        page = messages.link_already_resolved(incident.room, incident.resolved_at, now)
    else:
        page = _answered_page(incident, outcome == "act", now)
    status = 200 if outcome == "act" else 409
    if wants_page:
        return _page(page, status)
    if outcome == "act":
        return alert_out(incident, incident.state(now))
    return JSONResponse({"detail": page.text}, status_code=status)


def _is_link(exp: int | None, sig: str | None) -> bool:
    return exp is not None or sig is not None


@router.post("/{alert_id}/ack", response_model=AlertOut, responses=LINK_RESPONSES)
def ack_alert(
    monitor: MonitorDep,
    ctx: ContextDep,
    request: Request,
    alert_id: int,
    answer: Annotated[Answer | None, Body()] = None,
    exp: LinkExp = None,
    sig: LinkSig = None,
) -> AlertOut | Response:
    """Acknowledge: repeats stop for this incident; it pages again if it gets 1 °C worse."""
    if _is_link(exp, sig):
        return _link_answer(monitor, ctx, request, alert_id, "ack", exp, sig, None)
    return _answer(monitor, ctx, request, alert_id, "ack", answer, 0)


@router.post("/{alert_id}/snooze", response_model=AlertOut, responses=LINK_RESPONSES)
def snooze_alert(
    monitor: MonitorDep,
    ctx: ContextDep,
    request: Request,
    alert_id: int,
    minutes: Annotated[
        int | None, Query(description="15, 30 or 60 (30 when not given); signed in a push link.")
    ] = None,
    answer: Annotated[Answer | None, Body()] = None,
    exp: LinkExp = None,
    sig: LinkSig = None,
) -> AlertOut | Response:
    """Snooze for 15, 30 or 60 minutes; a reminder follows if it has not cleared."""
    if _is_link(exp, sig):
        return _link_answer(monitor, ctx, request, alert_id, "snooze", exp, sig, minutes)
    minutes = 30 if minutes is None else minutes
    if minutes not in (15, 30, 60):
        raise unprocessable("query", "minutes", "minutes must be 15, 30 or 60")
    return _answer(monitor, ctx, request, alert_id, "snooze", answer, minutes)


@router.get("/{alert_id}/{action}", response_class=HTMLResponse, include_in_schema=False)
def confirm_page(
    monitor: MonitorDep,
    ctx: ContextDep,
    request: Request,
    alert_id: int,
    action: LinkAction,
    exp: LinkExp = None,
    sig: LinkSig = None,
    minutes: int | None = None,
) -> HTMLResponse:
    """A push link opened in a browser: a GET must not change anything, so ask first,
    unless there is nothing left to do."""
    signed_minutes = minutes if action == "snooze" else None
    try:
        incident = _checked_link(monitor, ctx, alert_id, action, exp, sig, signed_minutes)
    except _LinkRefused as refused:
        return _page(messages.LinkPage(messages.LINK_BAD_TITLE, refused.text), refused.status)
    assert ctx.used_links is not None and sig is not None
    now = ctx.clock()
    outcome = link_outcome(incident, action, ctx.used_links.used(sig), now)
    if outcome == "resolved":
        assert incident.resolved_at is not None
        return _page(messages.link_already_resolved(incident.room, incident.resolved_at, now))
    if outcome == "answered":
        return _page(_answered_page(incident, False, now))
    page = messages.link_confirm(incident.room, incident.since, signed_minutes, now)
    return _page(page, action=f"{request.url.path}?{request.url.query}")
