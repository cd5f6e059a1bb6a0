"""Reaching a phone: a new ntfy topic shown as a QR code, the test push and "did it arrive?",
and how every caregiver's channels are doing (the dashboard's banner)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from hub.api.deps import CaregiverDep, ContextDep, HubContext, require_caregiver
from hub.messages import channels as words
from hub.messages import test_message
from hub.notify.apprise_sender import ApprisePushSender
from hub.notify.channel_health import ChannelHealth, ChannelState
from hub.notify.channel_watch import CaregiverChannel, ChannelWatch
from hub.notify.dispatcher import Dispatcher
from hub.notify.ntfy_setup import NtfyTopic, qr_svg
from hub.notify.push import DeliveryError, Push
from hub.preferences import Channel, Preferences

router = APIRouter(tags=["settings"], dependencies=[Depends(require_caregiver)])


class TestResult(BaseModel):
    sent: bool
    error: str | None = None


class NtfyChannelOut(BaseModel):
    id: int = Field(description="The new channel's id (for its test push).")
    label: str
    server: str
    topic: str = Field(description="Long and random: whoever knows it can read the pushes.")
    subscribe_url: str = Field(description="The topic's address on its server: the QR code.")
    app_link: str = Field(description="ntfy's own link that opens its Android app there.")
    qr_url: str = Field(description="The QR code of subscribe_url: an SVG image the hub draws.")
    manual: list[str] = Field(description="The manual way, in two lines.")
    test: TestResult = Field(description="The test push sent at once, to the server.")


class ArrivedIn(BaseModel):
    arrived: bool


class ArrivedOut(BaseModel):
    text: str


class FailingOut(BaseModel):
    who: str = Field(description="`Alex's phone`.")
    text: str = Field(description="`Alex's phone has not received pushes since Tuesday`.")


class NotifyStatusOut(BaseModel):
    tested: bool = Field(description="Some caregiver has a channel that passed a test push.")
    banner: str | None = Field(description="What the dashboard says while none has.")
    failing: list[FailingOut] = Field(description="Channels whose last delivery failed.")


def _parts(ctx: HubContext) -> tuple[Preferences, ChannelHealth]:
    if ctx.preferences is None or ctx.channel_health is None:
        raise HTTPException(503, detail="the hub is starting")
    return ctx.preferences, ctx.channel_health


def caregiver_channels(ctx: HubContext) -> list[CaregiverChannel]:
    """Every caregiver's own channels, in paging order."""
    preferences, _ = _parts(ctx)
    return [
        CaregiverChannel(c.id, c.name, channel.label, channel.url)
        for c in ctx.accounts.caregivers()
        for channel in preferences.channels(c.id)
    ]


def watch_channels(ctx: HubContext, dispatcher: Dispatcher) -> ChannelWatch:
    """The running hub's channel watch, over every caregiver's own channels."""
    _, health = _parts(ctx)
    notify = ctx.settings.notify
    every = notify.channel_check_every_s
    return ChannelWatch(
        health,
        lambda: caregiver_channels(ctx),
        lambda url, message: dispatcher.enqueue(url, message),
        ctx.clock,
        failing_after=timedelta(seconds=notify.channel_failing_after_s),
        check_every=timedelta(seconds=every) if every else None,
    )


async def send_test(ctx: HubContext, channel: Channel, *, test: bool) -> TestResult:
    """A test push to the channel now; its result kept as the channel's last delivery."""
    _, health = _parts(ctx)
    sender = ApprisePushSender(timeout_s=ctx.settings.notify.timeout_s)
    try:
        await run_in_threadpool(sender.send, Push(id=0, url=channel.url, message=test_message()))
    except DeliveryError as exc:
        await run_in_threadpool(health.failed, channel.url, ctx.clock(), str(exc))
        return TestResult(sent=False, error=str(exc))
    await run_in_threadpool(health.delivered, channel.url, ctx.clock(), test=test)
    return TestResult(sent=True)


@router.post("/api/caregivers/me/channels/ntfy", response_model=NtfyChannelOut, status_code=201)
async def add_ntfy_phone(ctx: ContextDep, caregiver: CaregiverDep) -> NtfyChannelOut:
    """Add this phone by ntfy: a new private topic on notify.ntfy_server, kept as your
    channel and tried at once; scan its QR code with the phone to subscribe."""
    preferences, _ = _parts(ctx)
    topic = NtfyTopic.new(ctx.settings.notify.ntfy_server)
    channel = await run_in_threadpool(
        preferences.add_channel, caregiver.id, topic.apprise_url, words.PHONE_LABEL
    )
    return NtfyChannelOut(
        id=channel.id,
        label=channel.label,
        server=topic.server,
        topic=topic.topic,
        subscribe_url=topic.subscribe_url,
        app_link=topic.app_link,
        qr_url=f"/api/caregivers/me/channels/{channel.id}/qr.svg",
        manual=list(words.ntfy_manual(topic.server, topic.topic)),
        test=await send_test(ctx, channel, test=False),
    )


@router.get("/api/caregivers/me/channels/{channel_id}/qr.svg", response_class=Response)
async def ntfy_qr(ctx: ContextDep, caregiver: CaregiverDep, channel_id: int) -> Response:
    """The QR code of one of your ntfy channels' address: scan it to subscribe a phone.
    It holds the topic, the channel's secret: never cached."""
    preferences, _ = _parts(ctx)
    topic = NtfyTopic.from_apprise_url(preferences.channel(caregiver.id, channel_id).url)
    if topic is None:
        raise HTTPException(404, detail="this channel is not an ntfy topic the hub made")
    svg = await run_in_threadpool(qr_svg, topic.subscribe_url)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.post("/api/caregivers/me/channels/{channel_id}/test", response_model=TestResult)
async def test_channel(ctx: ContextDep, caregiver: CaregiverDep, channel_id: int) -> TestResult:
    """Send a test push to one of your channels now, and say whether its service took it."""
    preferences, _ = _parts(ctx)
    return await send_test(ctx, preferences.channel(caregiver.id, channel_id), test=True)


@router.post("/api/caregivers/me/channels/{channel_id}/arrived", response_model=ArrivedOut)
def test_arrived(
    ctx: ContextDep, caregiver: CaregiverDep, channel_id: int, answer: Annotated[ArrivedIn, Body()]
) -> ArrivedOut:
    """Your answer to "Did it arrive?": a No means the channel has not passed its test."""
    preferences, health = _parts(ctx)
    channel = preferences.channel(caregiver.id, channel_id)
    if answer.arrived:
        return ArrivedOut(text=words.ARRIVED_THANKS)
    health.untested(channel.url)
    return ArrivedOut(text=words.HELP_NOT_ARRIVED)


def channel_state(state: ChannelState) -> Literal["working", "failing", "untested"]:
    if state.failing:
        return "failing"
    return "working" if state.tested_at or state.delivered_at else "untested"


@router.get("/api/notify/status", response_model=NotifyStatusOut)
def notify_status(ctx: ContextDep) -> NotifyStatusOut:
    """Whether any phone will be told about a cold room, and which channels stopped.

    A phone counts once a caregiver's channel passed a test push, or a channel from the
    configuration (notify.urls, notify.caregivers) has had a push delivered."""
    _, health = _parts(ctx)
    channels = caregiver_channels(ctx)
    states = health.states(c.url for c in channels)
    now = ctx.clock()
    notify = ctx.settings.notify
    configured = [*notify.urls, *(url for group in notify.caregivers for url in group)]
    tested = any(states[c.url].tested_at is not None for c in channels) or any(
        state.delivered_at is not None for state in health.states(configured).values()
    )
    failing = [
        FailingOut(who=c.who, text=words.not_reaching(c.who, since, now))
        for c in channels
        if (since := states[c.url].failing_since) is not None
    ]
    return NotifyStatusOut(
        tested=tested, banner=None if tested else words.NO_PHONE_BANNER, failing=failing
    )
