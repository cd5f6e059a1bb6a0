"""`nursery status`: one screen for whoever looks after the monitor, and an exit status for
cron or a monitoring system (0 when every part works, 1 when anything is degraded)."""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sqlite3
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub.messages import channels as channel_words
from hub.messages import label
from hub.messages.storage import status_line
from hub.notify.channel_health import OwnedChannel, caregivers_channels
from hub.notify.push_channels import ChannelReport, channel_reports
from hub.sources.settings import stale_after_s
from hub.store.database import Store, StoreError
from hub.store.dbfile import connect_read_only
from hub.store.records import to_ms
from hub.store.rooms import RoomSummary, room_summaries
from hub.store.sd_wear import BYTES_PER_READING, bytes_a_day, readings_since
from mqttlink.settings import MqttSettings
from mqttlink.tls import MqttTlsError, secure_client
from nursery.config import Settings

TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Line:
    part: str
    ok: bool
    text: str


def _ago(then: datetime, now: datetime) -> str:
    seconds = max(0, round((now - then).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def check_broker(settings: MqttSettings, timeout_s: float = TIMEOUT_S) -> Line:
    """Does an MQTT broker answer at mqtt.host:mqtt.port? Asked without a login: any
    CONNACK, "not authorised" included, is a broker answering."""
    where = f"{settings.host}:{settings.port}"
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"nursery-status-{os.getpid()}",
        protocol=mqtt.MQTTv311,
    )
    answers: queue.Queue[str] = queue.Queue()
    client.on_connect = lambda c, u, f, reason, p: answers.put(str(reason))
    try:
        secure_client(client, settings.model_copy(update={"username": None, "password": None}))
        client.connect(settings.host, settings.port, keepalive=10)
    except (OSError, MqttTlsError) as exc:
        return Line("broker", False, f"{where} unreachable ({exc})")
    client.loop_start()
    try:
        reason = answers.get(timeout=timeout_s)
    except queue.Empty:
        return Line("broker", False, f"{where} accepted a connection but did not answer MQTT")
    finally:
        client.disconnect()
        client.loop_stop()
    anonymous = "anonymous clients accepted" if reason == "Success" else "anonymous clients refused"
    return Line("broker", True, f"{where} answers MQTT ({anonymous})")


def hub_url(settings: Settings) -> str:
    host = settings.hub.http_host
    if host in ("", "0.0.0.0", "::"):  # it listens everywhere: ask it on this machine
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.hub.http_port}"


def check_hub(settings: Settings, now: datetime) -> list[Line]:
    """The running hub's own view of its parts and of its heartbeat, from /healthz."""
    url = hub_url(settings)
    try:
        answer = httpx.get(url + "/healthz", timeout=TIMEOUT_S)
        health: dict[str, Any] = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        return [Line("hub", False, f"not answering at {url} ({type(exc).__name__})")]
    parts: dict[str, str] = health.get("parts", {})
    listed = ", ".join(f"{name} {state}" for name, state in parts.items())
    lines = [Line("hub", health.get("status") == "ok", f"{url}: {listed}")]
    storage = health.get("storage") or {}
    if storage.get("state") == "cannot_save":
        since = storage.get("since")
        when = _ago(datetime.fromisoformat(since), now) if since else "a moment ago"
        words = status_line(str(storage.get("problem") or "io"), when)
        lines.append(Line("storage", False, words))
    beat = health.get("heartbeat") or {}
    state = beat.get("state", "off")
    if state == "off":
        lines.append(Line("heartbeat", True, "off (notify.heartbeat_urls is empty)"))
    else:
        last = beat.get("last_at")
        when = _ago(datetime.fromisoformat(last), now) if last else "none sent yet"
        verb = "pings land" if state == "ok" else "pings are FAILING to land"
        lines.append(Line("heartbeat", state == "ok", f"{verb}; last round {when}"))
    return lines


def room_lines(
    rooms: Iterable[RoomSummary], open_alerts: dict[str, list[str]], now: datetime
) -> list[Line]:
    lines = []
    for room in rooms:
        if room.latest is None:
            reading = "no reading yet"
        else:
            reading = (
                f"{room.latest.temperature_c:.1f} °C, {room.latest.humidity_pct:.0f} %, "
                f"last reading {_ago(room.latest.received_at, now)}"
            )
        alerts = open_alerts.get(room.room, [])
        ok = room.online and not room.stale and not alerts
        status = {"online": "online", "offline": "OFFLINE", "unknown": "status unknown"}
        text = f"{reading}; {status[room.status]}" + ("; NO FRESH READING" if room.stale else "")
        text += f"; open: {', '.join(alerts)}" if alerts else "; no open alert"
        lines.append(Line(f"room {room.room}", ok, text))
    if not lines:
        lines.append(Line("rooms", False, "no room has sent a reading yet"))
    return lines


def channel_lines(reports: Iterable[ChannelReport], now: datetime) -> list[Line]:
    lines = []
    for report in reports:
        parts = []
        if report.last_delivered_at is not None:
            parts.append(f"last delivered {_ago(report.last_delivered_at, now)}")
        if report.last_failed_at is not None:
            parts.append(f"last failed {_ago(report.last_failed_at, now)}: {report.last_error}")
        if report.pending:
            parts.append(f"{report.pending} waiting")
        lines.append(Line(f"push {report.channel}", not report.failing, "; ".join(parts)))
    if not lines:
        lines.append(Line("push", True, "no push sent yet (none needed, or no channel set)"))
    return lines


def caregiver_channel_lines(channels: Iterable[OwnedChannel], now: datetime) -> list[Line]:
    """Each caregiver's own channel: BAD while its last delivery failed."""
    lines = []
    for channel in channels:
        who = channel_words.channel_name(channel.caregiver, channel.label)
        state = channel.state
        if state.failing_since is not None:
            text = (
                f"{channel_words.not_reaching(who, state.failing_since, now)}: {state.last_error}"
            )
        elif state.delivered_at is not None:
            text = f"last push delivered {_ago(state.delivered_at, now)}"
        else:
            text = "no push sent yet; send a test from the Settings page"
        lines.append(Line(f"phone {who}", state.failing_since is None, text))
    return lines


def check_database(settings: Settings, now: datetime) -> list[Line]:
    try:
        store = Store(settings.hub.db, read_only=True)
    except StoreError as exc:
        return [Line("database", False, str(exc))]
    try:
        sources, default_s = settings.hub.sources, settings.rules.stale_after_s
        rooms = room_summaries(store, now, lambda room: stale_after_s(sources, room, default_s))
        open_alerts: dict[str, list[str]] = {}
        for incident in store.open_incidents():
            answered = "answered" if incident.acked_at else "unanswered"
            open_alerts.setdefault(incident.room, []).append(
                f"{label(incident.condition)} ({answered}, since {incident.opened_at:%H:%M} UTC)"
            )
        lines = room_lines(rooms, open_alerts, now)
    finally:
        store.close()
    try:
        db = connect_read_only(settings.hub.db)
        try:
            lines += channel_lines(channel_reports(db), now)
            lines.append(sd_wear_line(readings_since(db, to_ms(now - timedelta(days=1)))))
            # A hub from before channel health, or one no caregiver has used: no lines.
            with contextlib.suppress(sqlite3.OperationalError):
                lines += caregiver_channel_lines(caregivers_channels(db), now)
        finally:
            db.close()
    except Exception as exc:  # an outbox table not made yet: say so, carry on
        lines.append(Line("push", False, f"cannot read the push outbox ({exc})"))
    return lines


def sd_wear_line(readings: int) -> Line:
    """The card's writes a day at the last day's pace: the hub's bytes a reading, as
    bench/sd_wear.py measured them (database and WAL; logs not counted), × readings."""
    return Line(
        "sd card",
        True,
        f"about {bytes_a_day(readings) / 1e6:.0f} MB a day written: {readings:,} readings in "
        f"the last 24 h × {BYTES_PER_READING / 1000:.0f} kB each (bench/sd_wear.py; logs "
        "not counted)",
    )


def render(lines: Iterable[Line]) -> tuple[str, bool]:
    """The screen, and whether everything is ok."""
    lines = list(lines)
    width = max(len(line.part) for line in lines)
    rows = [f"{line.part:<{width}}  {'ok ' if line.ok else 'BAD'}  {line.text}" for line in lines]
    bad = sum(not line.ok for line in lines)
    rows.append(
        "all parts ok" if not bad else f"{bad} {'parts need' if bad > 1 else 'part needs'} a look"
    )
    return "\n".join(rows), bad == 0


def show_status(settings: Settings) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    now = datetime.now(UTC)
    lines = [check_broker(settings.mqtt), *check_hub(settings, now)]
    lines += check_database(settings, now)
    text, ok = render(lines)
    print(text)
    sys.stdout.flush()
    return 0 if ok else 1
