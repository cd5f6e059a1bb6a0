"""The hub's dead man's switch: ping an outside service while the whole monitor is healthy."""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from hub import messages
from hub.ingest.listener import Ingest
from hub.monitor.watch import Monitor
from hub.notify.dispatcher import Dispatcher
from hub.store.database import Store
from hub.store.rooms import RoomSummary, room_summaries

log = logging.getLogger("nursery.heartbeat")

Convention = Literal["healthchecks", "uptime-kuma", "plain"]
LOG_AGAIN_AFTER_S = 600.0  # a URL that keeps failing is logged again at most this often
MAX_REASON_CHARS = 200  # Uptime Kuma carries it in the URL


@dataclass(frozen=True, slots=True)
class Verdict:
    """Is every part of the monitor working? `reason` says what is not, in one line."""

    healthy: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Parts:
    """What the verdict is made from, read from the running hub."""

    broker_connected: bool
    database_ok: bool
    alerts_ok: bool  # the monitor's ticker turns: rules on time passing, repeats, escalation
    push_failing: bool
    rooms: Sequence[RoomSummary]
    now: datetime


def judge(parts: Parts) -> Verdict:
    """Healthy only while the broker is connected, the database takes writes, pushes go
    out and every room is live: a room gone quiet is a failure of the monitor, never fine."""
    offline = [room.room for room in parts.rooms if room.status == "offline"]
    silent = [
        (room.room, _since_reading(room, parts.now))
        for room in parts.rooms
        if room.stale and room.status != "offline"
    ]
    reason = messages.monitor_problems(
        broker_connected=parts.broker_connected,
        database_ok=parts.database_ok,
        alerts_ok=parts.alerts_ok,
        push_failing=parts.push_failing,
        no_rooms=not parts.rooms,
        offline_rooms=offline,
        silent_rooms=silent,
    )
    return Verdict(healthy=not reason, reason=reason or messages.MONITOR_HEALTHY)


def _since_reading(room: RoomSummary, now: datetime) -> float | None:
    if room.latest is None:
        return None
    return max(0.0, (now - room.latest.received_at).total_seconds())


def read_parts(
    ingest: Ingest,
    monitor: Monitor,
    store: Store,
    dispatcher: Dispatcher,
    stale_after_s: float | Callable[[str], float],
    now: datetime,
) -> Parts:
    """The running hub's parts, as the verdict needs them."""
    return Parts(
        broker_connected=ingest.connected,
        database_ok=ingest.database_ok,
        alerts_ok=monitor.watching(),
        push_failing=dispatcher.health().failing,
        rooms=room_summaries(store, now, stale_after_s),
        now=now,
    )


@dataclass(frozen=True, slots=True)
class Ping:
    method: Literal["GET", "POST"]
    url: str
    body: bytes | None = None


def convention(url: str) -> Convention:
    """Which service a URL belongs to, from the shape each one documents."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if "/api/push/" in parts.path:
        return "uptime-kuma"  # <base>/api/push/<token>?status=up&msg=OK&ping=
    if host == "hc-ping.com" or host.endswith(".hc-ping.com") or parts.path.startswith("/ping/"):
        return "healthchecks"  # hosted, or self-hosted <base>/ping/<uuid> or /<key>/<slug>
    return "plain"


def ping_for(url: str, verdict: Verdict | None) -> Ping | None:
    """The request that tells `url`'s service the verdict; `None` as the verdict means the
    hub is starting. None back: nothing to send (a plain URL only hears of good times)."""
    kind = convention(url)
    reason = verdict.reason[:MAX_REASON_CHARS] if verdict else messages.MONITOR_STARTING
    if kind == "healthchecks":
        base = url.rstrip("/")
        if verdict is None:
            return Ping("POST", base + "/start", reason.encode())
        return Ping("POST", base if verdict.healthy else base + "/fail", reason.encode())
    if kind == "uptime-kuma":
        if verdict is None:
            return None  # Kuma has no "started": the first up ping says it
        parts = urlsplit(url)
        query = [
            (key, value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
            if key not in ("status", "msg", "ping")
        ]
        query += [("status", "up" if verdict.healthy else "down"), ("msg", reason), ("ping", "")]
        return Ping("GET", urlunsplit(parts._replace(query=urlencode(query))))
    if verdict is not None and verdict.healthy:
        return Ping("GET", url)
    return None  # a plain check pages on silence, so a failing hub stays silent


def host_of(url: str) -> str:
    """What a log line may say about a URL: its host. The rest may be a secret token."""
    return urlsplit(url).hostname or "?"


def send_with_urllib(ping: Ping, timeout_s: float) -> None:
    """Send one ping; raises OSError (URLError, HTTPError, timeouts) when it did not land."""
    request = urllib.request.Request(  # noqa: S310 - http(s) only: the setting refuses others
        ping.url,
        data=ping.body,
        method=ping.method,
        headers={"User-Agent": "nursery-monitor-heartbeat"},
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310  # nosec B310
        answer.read(1024)


@dataclass(frozen=True, slots=True)
class HeartbeatState:
    """For `nursery status`, /healthz and /metrics: how the last round went."""

    last_at: datetime | None
    last_verdict: Verdict | None
    last_ok: bool | None  # every URL answered in the last round
    failures: int  # pings that did not land, since the hub started


class Heartbeat:
    """One thread that pings every URL every `every_s`, on a fixed schedule."""

    def __init__(
        self,
        urls: Sequence[str],
        every_s: float,
        verdict: Callable[[], Verdict],
        *,
        clock: Callable[[], datetime],
        timeout_s: float = 10.0,
        send: Callable[[Ping, float], None] = send_with_urllib,
    ) -> None:
        self.urls = list(urls)
        self.every_s = every_s
        self._verdict = verdict
        self._clock = clock
        self._timeout_s = min(timeout_s, every_s)
        self._send = send
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._failing_since: dict[str, float] = {}  # url -> monotonic time of the last log
        self._state = HeartbeatState(None, None, None, 0)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._timeout_s + 1)

    def state(self) -> HeartbeatState:
        return self._state

    def _run(self) -> None:
        self._round(None)
        due = time.monotonic() + self.every_s
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            try:
                verdict = self._verdict()
            except Exception as exc:  # a verdict that cannot be made is a failure to report
                log.exception("cannot judge the hub's health")
                verdict = Verdict(False, messages.monitor_check_failed(type(exc).__name__))
            self._round(verdict)
            due += self.every_s
            if due < time.monotonic():  # the machine slept or a send hung: skip, don't burst
                due = time.monotonic() + self.every_s

    def _round(self, verdict: Verdict | None) -> None:
        landed = True
        failures = self._state.failures
        for url in self.urls:
            ping = ping_for(url, verdict)
            if ping is None:
                continue
            try:
                self._send(ping, self._timeout_s)
            except (OSError, ValueError) as exc:
                landed = False
                failures += 1
                self._log_failure(url, exc)
            else:
                if self._failing_since.pop(url, None) is not None:
                    log.info("heartbeat to %s works again", host_of(url))
        if verdict is not None:
            self._state = HeartbeatState(self._clock(), verdict, landed, failures)
            if not verdict.healthy:
                log.warning("heartbeat: the monitor is not healthy: %s", verdict.reason)

    def _log_failure(self, url: str, exc: Exception) -> None:
        now = time.monotonic()
        last = self._failing_since.get(url)
        if last is None or now - last >= LOG_AGAIN_AFTER_S:
            self._failing_since[url] = now
            # HTTPError's text is the URL's answer code, URLError's the cause: never the URL.
            detail = exc.code if isinstance(exc, urllib.error.HTTPError) else exc
            log.warning("heartbeat to %s failed: %s", host_of(url), detail)
