"""`nursery hub`: the hub's web server and MQTT ingest in one process."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
import time
import warnings
from dataclasses import dataclass
from email.utils import formatdate
from types import FrameType

import uvicorn
from fastapi import FastAPI
from uvicorn.server import ServerState

from hub.config import HubConfig
from hub.store.database import Store, StoreError
from hub.web.http_guard import BODY_TIMEOUT_S, HEADER_TIMEOUT_S, guarded_protocol

log = logging.getLogger("nursery.hub")

# uvicorn's main loop wakes every 0.1 s to see whether it should stop and to renew the Date
# header: most of an idle hub's CPU on a Pi. Ours wakes on the stop request itself and
# makes the Date header when a response reads it, so this tick only runs uvicorn's own
# housekeeping (limit_max_requests, callback_notify: both unused by the hub).
IDLE_TICK_S = 60.0


@dataclass(frozen=True)
class HttpLimits:
    """How long and how many connections the hub holds (hub/web/http_guard.py says why)."""

    # Seconds an idle HTTP connection stays open (uvicorn's default is 5), also one that
    # never sent a request.
    keep_alive_s: int = 20
    # Seconds from a request's first byte to the end of its head, then to the end of its body.
    header_timeout_s: float = HEADER_TIMEOUT_S
    body_timeout_s: float = BODY_TIMEOUT_S
    # Open connections and requests in progress before new requests get 503. A household's
    # phones and browsers keep a few connections each (a browser up to six); with bodies
    # capped at hub.max_body_bytes this bounds what requests can hold on a 512 MB Pi.
    concurrency: int = 40


# The starts of uvicorn's two warnings for a request that asks for a protocol upgrade.
_UPGRADE_WARNINGS = ("Unsupported upgrade request", "No supported WebSocket library")


# uvicorn's warning for bytes that are not HTTP (a port scan, a TLS hello on plain HTTP).
_INVALID_REQUEST = "Invalid HTTP request received"
INVALID_REQUEST_LOG_EVERY_S = 60.0


class _QuietUvicorn(logging.Filter):
    """Keep what anyone on the network can send out of the hub's log (an SD card wears with
    every line, and a flood would bury the lines that matter).

    uvicorn's two warnings for a protocol upgrade are dropped: the hub serves no WebSocket
    (ws="none") and answers as plain HTTP, and the second would tell the reader to install
    a WebSocket library. Its warning for a request that is not HTTP at all goes through at
    most once a minute, saying how many more it held back.
    """

    def __init__(self) -> None:
        super().__init__()
        self._invalid_logged_at = -INVALID_REQUEST_LOG_EVERY_S
        self._invalid_held = 0

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(_UPGRADE_WARNINGS):
            return False
        if not message.startswith(_INVALID_REQUEST):
            return True
        now = time.monotonic()
        if now - self._invalid_logged_at < INVALID_REQUEST_LOG_EVERY_S:
            self._invalid_held += 1
            return False
        if self._invalid_held:
            record.msg = f"{message} ({self._invalid_held} more in the last minutes, not logged)"
            record.args = ()
        self._invalid_logged_at, self._invalid_held = now, 0
        return True


_UVICORN_FILTER = _QuietUvicorn()


def server_config(
    app: FastAPI, host: str, port: int, limits: HttpLimits | None = None
) -> uvicorn.Config:
    """How the hub serves HTTP: `nursery hub`, the tests' in-process hub and the benchmarks
    all take it from here, so they serve alike."""
    limits = limits or HttpLimits()
    # One filter object: adding it again (a second config in one process) is a no-op.
    logging.getLogger("uvicorn.error").addFilter(_UVICORN_FILTER)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        # uvicorn's lines go through the process's handler (nursery/log_format.py): one
        # format, and in the journal a real priority instead of all at "info".
        log_config=None,
        access_log=False,
        lifespan="on",
        # The hub serves no WebSocket. With "auto", uvicorn would load whichever WebSocket
        # library happens to be installed (the demo's embedded broker brings one): memory
        # on a Pi and a handshake surface for nothing. An upgrade request is plain HTTP.
        ws="none",
        # Longer than the idle expiry of common clients' pools (httpx 5 s, aiohttp 15 s):
        # at uvicorn's own 5 s, a client could send a POST on a connection the hub was
        # just closing, and fail it.
        timeout_keep_alive=limits.keep_alive_s,
        # h11 with deadlines for a request's head and body (slowloris), and uvicorn's
        # answers with the security headers.
        http=guarded_protocol(limits.header_timeout_s, limits.body_timeout_s),
        limit_concurrency=limits.concurrency,
    )


# Modules the hub's libraries import but the hub never needs. A None in sys.modules is
# Python's documented way to make their import an ImportError, which each library reads as
# "not installed here":
# - pydantic.v1: FastAPI imports it (1.6 MiB of a Pi's memory) only to refuse v1 models, of
#   which the hub has none, as each route is declared; it reads the ImportError as "no v1
#   here", as it will once pydantic drops v1.
# - charset_normalizer (and chardet): requests, under Apprise, imports it at the first push
#   (2.5 MiB) only to guess the encoding of an answer that names none, which it then reads
#   as UTF-8 instead. The hub decides a push by its status code; a push service's words
#   only reach the log, with any byte UTF-8 cannot read replaced.
UNUSED_MODULES = ("pydantic.v1", "charset_normalizer", "chardet")


def leave_out_unused_modules() -> None:
    """Keep UNUSED_MODULES out of this process, and requests quiet about the detector."""
    for name in UNUSED_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    warnings.filterwarnings(
        "ignore", "Unable to find acceptable character detection", module="requests"
    )


def freeze_startup_objects() -> None:
    """Leave what the started hub holds (about 74,000 objects: modules, the app, its
    settings) out of later garbage collections. A full collection scanned them all, 16 to
    37 ms at once on a 2-core x86 machine, every half hour or so at a sensor's pace; after
    this it scans only what came since (bench/RESULTS.md, #19)."""
    gc.collect()  # what is garbage now is not kept for good
    gc.freeze()


def serve(settings: HubConfig) -> int:
    """Run until SIGINT/SIGTERM (uvicorn handles both); returns an exit code."""
    try:
        Store(settings.hub.db).close()  # fail fast, with the file named, before serving
    except StoreError as exc:
        log.error("%s", exc)
        return 1
    host, port = settings.hub.http_host, settings.hub.http_port
    shown = "localhost" if host in ("0.0.0.0", "127.0.0.1", "::") else host
    log.info("dashboard at http://%s:%d/ (database %s)", shown, port, settings.hub.db)
    leave_out_unused_modules()  # before the routes are imported
    from hub.app import create_app

    config = server_config(create_app(settings), host, port)
    server = _Server(config)
    server.run()
    return 0 if server.started else 1


class _DatedState(ServerState):
    """uvicorn's server state, with a Date header of the second the response starts in:
    uvicorn renews it on its 0.1 s tick, which _Server no longer runs."""

    def __init__(self, date_header: bool) -> None:
        self._date_header = date_header
        self._second = -1
        self._date: list[tuple[bytes, bytes]] = []
        self._others: list[tuple[bytes, bytes]] = []
        super().__init__()

    @property
    def default_headers(self) -> list[tuple[bytes, bytes]]:
        if not self._date_header:
            return list(self._others)
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._date = [(b"date", formatdate(now, usegmt=True).encode())]
        return self._date + self._others

    @default_headers.setter
    def default_headers(self, headers: list[tuple[bytes, bytes]]) -> None:
        self._others = [(name, value) for name, value in headers if name.lower() != b"date"]


class _Server(uvicorn.Server):
    """uvicorn's server, quiet when idle: its main loop sleeps until asked to stop (or
    IDLE_TICK_S) instead of waking every 0.1 s. A clean stop (SIGTERM/SIGINT) exits 0:
    uvicorn would re-raise the signal after a graceful shutdown."""

    def __init__(self, config: uvicorn.Config) -> None:
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._should_exit = False
        super().__init__(config)
        self.server_state = _DatedState(config.date_header)

    @property
    def should_exit(self) -> bool:
        return self._should_exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        """Set by the signal handler (on the loop's thread, between two bytecodes) or by
        anyone else: either way the sleeping main loop wakes at once."""
        self._should_exit = value
        if value and self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                self._loop.call_soon_threadsafe(self._stopping.set)

    async def main_loop(self) -> None:
        freeze_startup_objects()
        self._stopping = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 10) % 864000  # each tick is one of uvicorn's per-second ones
            if not self.should_exit:  # set before the event existed: no wake-up coming
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), IDLE_TICK_S)
            should_exit = await self.on_tick(counter)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()
