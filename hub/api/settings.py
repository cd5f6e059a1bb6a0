"""The settings page's API: guidance preset, thresholds and °C/°F for the household, and
each caregiver's own push channels with a "send test" button."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from hub import messages
from hub.api.deps import (
    CaregiverDep,
    ContextDep,
    HubContext,
    get_context,
    require_caregiver,
    unprocessable,
)
from hub.api.phone_setup import channel_state
from hub.messages import channels as channel_words
from hub.preferences import EDITABLE, THRESHOLDS, Channel, Preferences
from mqttlink.rules_settings import PRESETS, RulesSettings

# The same hot threshold under every preset: the configuration's default.
HOT_C = float(RulesSettings.model_fields["hot_above_c"].default)

if TYPE_CHECKING:
    from hub.replay.preview import Outcome

router = APIRouter(tags=["settings"], dependencies=[Depends(require_caregiver)])
_ONE_PREVIEW = threading.Lock()


class ThresholdOut(BaseModel):
    value_c: float = Field(description="In force now, in °C.")
    source: Literal["dashboard", "config", "preset"] = Field(
        description="Chosen on the dashboard, set in the configuration, or the preset's."
    )


class SettingsOut(BaseModel):
    unit: Literal["C", "F"] = Field(description="How temperatures are shown and written.")
    preset: Literal["uk", "who", "us"]
    thresholds: dict[str, ThresholdOut] = Field(
        description="cold_below_c, cool_below_c, warm_above_c, hot_above_c."
    )
    presets: dict[str, dict[str, float]] = Field(description="Each preset's thresholds, °C.")
    room_names: dict[str, str] = Field(
        {}, description="The rooms the caregivers named (PUT /api/rooms/{room}/name), by room."
    )
    labels: dict[str, str] = Field(
        description="Each condition's name as pushes and the report say it (`cold`: "
        "`Room is cold`…; `humidity_low`, `humidity_high` too), for the dashboard."
    )


class SettingsIn(BaseModel):
    """Only what is sent changes; a threshold of null goes back to the preset."""

    model_config = {"extra": "forbid"}

    unit: Literal["C", "F"] | None = None
    preset: Literal["uk", "who", "us"] | None = None
    cold_below_c: float | None = Field(None, description="Cold alert below this, °C.")
    cool_below_c: float | None = Field(None, description="Cool advisory below this, °C.")
    warm_above_c: float | None = Field(None, description="Warm advisory above this, °C.")
    hot_above_c: float | None = Field(None, description="Hot alert above this, °C.")


class PreviewPush(BaseModel):
    kind: Literal["first", "repeat", "worse", "escalation", "resolved"]
    at: datetime
    title: str = Field(description="The push's title, as the phone would have shown it.")


class PreviewAlert(BaseModel):
    room: str
    condition: str
    label: str = Field(description="The condition in the pushes' words (`Room is cold`).")
    opened: datetime
    resolved: datetime | None
    pushes: list[PreviewPush]


class PreviewOut(BaseModel):
    days: int = Field(description="How far back the stored readings were replayed.")
    pushes_now: int = Field(description="Pushes the thresholds in force would have sent.")
    pushes_changed: int = Field(description="Pushes the changed thresholds would have sent.")
    summary: str = Field(description="The sentence the settings page shows.")
    alerts_now: list[PreviewAlert]
    alerts_changed: list[PreviewAlert]


class ChannelOut(BaseModel):
    id: int
    label: str
    shown: str = Field(description="Service and host only: a channel's URL holds its secret.")
    state: Literal["working", "failing", "untested"] = Field(
        "untested", description="From its last delivery: `failing` shows in red."
    )
    problem: str | None = Field(None, description="Since when it fails, in words.")


class CaregiverOut(BaseModel):
    name: str
    order: int = Field(description="1 is paged first; 2 is paged when an alert escalates.")
    channels: list[ChannelOut] = Field(description="Only your own are listed.")


class ChannelIn(BaseModel):
    url: str = Field(min_length=1, max_length=2000, description="An Apprise URL.")
    label: str = Field("", max_length=40, description="A name for it, like 'My phone'.")


def get_preferences(request: Request) -> Preferences:
    ctx: HubContext = get_context(request)
    if ctx.preferences is None:
        raise HTTPException(503, detail="the hub is starting")
    return ctx.preferences


PreferencesDep = Annotated[Preferences, Depends(get_preferences)]


def _settings_out(preferences: Preferences) -> SettingsOut:
    household = preferences.household()
    rules = household.rules
    return SettingsOut(
        unit=household.unit,
        preset=rules.preset,
        thresholds={
            key: ThresholdOut(
                value_c=rules.effective(key),
                source=household.source(key, preferences.base),
            )
            for key in THRESHOLDS
        },
        presets={name: {**values, "hot_above_c": HOT_C} for name, values in PRESETS.items()},
        labels=messages.labels(),
        room_names=preferences.room_names(),
    )


def _channel_out(channel: Channel, ctx: HubContext | None = None) -> ChannelOut:
    out = ChannelOut(id=channel.id, label=channel.label, shown=channel.shown)
    if ctx is None or ctx.channel_health is None:
        return out
    state = ctx.channel_health.state(channel.url)
    problem = None
    if state.failing_since is not None:
        who = channel_words.your_channel(channel.label)
        problem = channel_words.not_reaching(who, state.failing_since, ctx.clock())
    return out.model_copy(update={"state": channel_state(state), "problem": problem})


@router.get("/api/settings", response_model=SettingsOut)
def read_settings(preferences: PreferencesDep) -> SettingsOut:
    """The guidance in force and how temperatures are shown."""
    return _settings_out(preferences)


@router.patch("/api/settings", response_model=SettingsOut)
def change_settings(
    preferences: PreferencesDep, changes: Annotated[SettingsIn, Body()]
) -> SettingsOut:
    """Change the preset, a threshold (null: back to the preset) or °C/°F, for everyone."""
    sent: dict[str, Any] = changes.model_dump(exclude_unset=True)
    for key in ("unit", "preset"):
        if key in sent and sent[key] is None:
            raise unprocessable("body", key, f"{key} is required", "missing")
    preferences.update({k: v for k, v in sent.items() if k in EDITABLE})
    return _settings_out(preferences)


def _preview_alerts(outcome: Outcome) -> list[PreviewAlert]:
    return [
        PreviewAlert(
            room=a.room,
            condition=a.condition.value,
            label=messages.label(a.condition),
            opened=a.opened_at,
            resolved=a.resolved_at,
            pushes=[PreviewPush(kind=p.kind, at=p.at, title=p.title) for p in a.pushes],
        )
        for a in outcome.alerts
    ]


@router.post("/api/settings/preview", response_model=PreviewOut)
def preview_settings(
    ctx: ContextDep, preferences: PreferencesDep, changes: Annotated[SettingsIn, Body()]
) -> PreviewOut:
    """Before saving: what the last days would have paged with these changes (the same
    body as PATCH /api/settings), beside what the settings in force would have; saves
    nothing. The stored readings go through the hub's own rules (docs/export.md)."""
    # The replay loads at the first preview, not with the hub (a Pi Zero's memory).
    from hub.messages.replay import preview_sentence
    from hub.replay.preview import PREVIEW_DAYS, what_if

    sent = changes.model_dump(exclude_unset=True)
    _, changed = preferences.proposed({k: v for k, v in sent.items() if k in EDITABLE})
    household = preferences.household()
    rules = (household.rules, changed)
    with _ONE_PREVIEW:  # a week of readings takes a Pi seconds: never two at once
        now, after = what_if(ctx.store, ctx.settings.alerts, rules, ctx.clock(), household.unit)
    return PreviewOut(
        days=PREVIEW_DAYS,
        pushes_now=now.pushes,
        pushes_changed=after.pushes,
        summary=preview_sentence(PREVIEW_DAYS, after.pushes, now.pushes),
        alerts_now=_preview_alerts(now),
        alerts_changed=_preview_alerts(after),
    )


@router.get("/api/caregivers", response_model=list[CaregiverOut])
def list_caregivers(
    ctx: ContextDep, preferences: PreferencesDep, caregiver: CaregiverDep
) -> list[CaregiverOut]:
    """Every caregiver in paging order, with your own channels (others' stay private)."""
    return [
        CaregiverOut(
            name=other.name,
            order=position,
            channels=[_channel_out(c, ctx) for c in preferences.channels(other.id)]
            if other.id == caregiver.id
            else [],
        )
        for position, other in enumerate(ctx.accounts.caregivers(), start=1)
    ]


@router.post("/api/caregivers/me/channels", response_model=ChannelOut, status_code=201)
def add_channel(
    preferences: PreferencesDep, caregiver: CaregiverDep, channel: ChannelIn
) -> ChannelOut:
    """Add a push channel of yours; alerts reach you there from now on."""
    return _channel_out(preferences.add_channel(caregiver.id, channel.url, channel.label))


@router.delete("/api/caregivers/me/channels/{channel_id}", status_code=204)
def remove_channel(
    preferences: PreferencesDep, caregiver: CaregiverDep, channel_id: int
) -> Response:
    preferences.remove_channel(caregiver.id, channel_id)
    return Response(status_code=204)
