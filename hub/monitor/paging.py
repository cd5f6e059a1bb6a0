"""The pushes of one decision: their words and buttons, their channels, queued in one commit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from hub import messages
from hub.conditions import Condition, Incident
from hub.config import HubConfig, NotifySettings
from hub.monitor.alerts import AlertError, PushRequest
from hub.monitor.rules import RoomRules
from hub.notify.links import LinkSigner
from hub.notify.outbox import PushOutbox
from hub.notify.push import Action, NewPush, Push
from hub.preferences import Unit
from hub.sources.settings import SourceSettings, source_for
from hub.store.database import Store
from mqttlink.rules_settings import RulesSettings

log = logging.getLogger("nursery.hub.monitor")


def link_signer(settings: HubConfig, store: Store) -> LinkSigner | None:
    """Signs the buttons' links, when phones can reach the hub (notify.public_url)."""
    public_url = settings.notify.public_url
    if not public_url:
        return None
    ttl = timedelta(seconds=settings.notify.link_ttl_s)
    return LinkSigner(store.secret("link-signing"), public_url, ttl)


def channels(notify: NotifySettings, audience: str) -> list[str]:
    """Where a push goes: every channel and the first caregiver's, or for an escalation
    the second caregiver's (everyone's again when there is no second caregiver)."""
    everyone = [*notify.urls, *(notify.caregivers[0] if notify.caregivers else [])]
    if audience == "escalation":
        second = notify.caregivers[1] if len(notify.caregivers) > 1 else []
        return list(dict.fromkeys(second or everyone))
    return list(dict.fromkeys(everyone))


def compose(
    push: PushRequest,
    incident: Incident,
    now: datetime,
    rules: RulesSettings,
    unit: Unit,
    *,
    sensor: str | None,
    temperature_c: float | None,
    signer: LinkSigner | None,
    source: SourceSettings | None = None,
) -> tuple[messages.Message, tuple[Action, ...]]:
    """The text of a push and its buttons, the same for every channel. `sensor` is the
    room's sensor model (its accuracy goes into the text), `temperature_c` the room's now;
    `source` the other system's device feeding the room, if one does (hub.sources)."""
    finding = incident.finding()
    accuracy, humidity = messages.room_accuracy(source, sensor)
    if push.kind == "first":
        message = messages.first_page(
            finding, rules, now, unit, accuracy_c=accuracy, accuracy_pct=humidity
        )
    elif push.kind == "repeat":
        message = messages.repeat(
            finding, rules, now, unit, accuracy_c=accuracy, accuracy_pct=humidity
        )
    elif push.kind == "worse":
        message = messages.worse(
            finding,
            rules,
            now,
            unit,
            previous=push.previous,
            accuracy_c=accuracy,
            accuracy_pct=humidity,
        )
    elif push.kind == "escalation":
        message = messages.escalation(
            finding,
            rules,
            now,
            unit,
            unacknowledged_for=now - (incident.notified_at or now),
            accuracy_c=accuracy,
            accuracy_pct=humidity,
        )
    else:
        message = messages.resolved(
            finding, now - incident.opened_at, value=temperature_c, unit=unit
        )
    silent = finding.condition in (Condition.NO_DATA, Condition.OFFLINE)
    if source is not None and silent and push.kind != "resolved":
        message = replace(message, body=f"{message.body} {messages.silence_hint(source)}")
    actions: tuple[Action, ...] = ()
    if signer and incident.id is not None and push.kind != "resolved":
        actions = (
            Action(messages.ACK_LABEL, signer.url(incident.id, "ack", now), clear=True),
            Action(messages.SNOOZE_LABEL, signer.url(incident.id, "snooze", now)),
        )
    return message, actions


class Pager:
    """Queues pushes in the outbox, never straight to the network, so a hanging push
    service cannot slow ingest; the dispatcher starts them the moment they are committed."""

    def __init__(
        self,
        outbox: PushOutbox,
        wake: Callable[[Sequence[Push]], None],
        signer: LinkSigner | None,
    ) -> None:
        self._outbox = outbox
        self._wake = wake
        self._signer = signer

    def send(
        self,
        pushes: list[tuple[PushRequest, Incident]],
        now: datetime,
        settings: HubConfig,
        unit: Unit,
        *,
        sensors: Mapping[str, str | None],
        rules: Mapping[str, RoomRules],
    ) -> None:
        """Queue every push of one decision, to every channel, in one commit (one fsync),
        handing them to the dispatcher as soon as they are committed."""
        new: list[NewPush] = []
        for push, incident in pushes:
            state = rules.get(incident.room)
            message, actions = compose(
                push,
                incident,
                now,
                settings.rules,
                unit,
                sensor=sensors.get(incident.room),
                temperature_c=state.filtered_temperature if state else None,
                signer=self._signer,
                source=source_for(settings.hub.sources, incident.room),
            )
            new += [
                NewPush(url, message, incident.id, actions, push.bypass_rate_limit)
                for url in channels(settings.notify, push.audience)
            ]
        self._outbox.enqueue_many(new, now=now, committed=self._wake)
        for push, incident in pushes:
            log.info(
                "%s %s push for %s (alert %s)",
                push.kind,
                incident.condition,
                incident.room,
                incident.id,
            )

    def verify_link(
        self,
        incident_id: int,
        action: str,
        expires: int,
        signature: str,
        minutes: int | None,
        now: datetime,
    ) -> None:
        """A push link's signature and expiry, or AlertError (links off, unknown action)."""
        if self._signer is None:
            raise AlertError(messages.LINK_OFF)
        if action not in ("ack", "snooze"):
            raise AlertError("unknown action")
        self._signer.verify(incident_id, action, expires, signature, now, minutes)  # type: ignore[arg-type]
