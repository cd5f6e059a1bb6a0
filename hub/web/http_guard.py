"""The hub's HTTP connections: none held for ever, and a Pi-sized limit on how many."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Final

import h11
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from hub.web.security_headers import security_headers

# A phone on weak Wi-Fi sends a request head in well under a second; ten is generous.
HEADER_TIMEOUT_S: Final = 10.0
# The largest body the hub accepts (hub.max_body_bytes, 256 KiB by default) takes about
# 20 s at 100 kbit/s.
BODY_TIMEOUT_S: Final = 30.0


def _header_list(https: bool) -> list[tuple[bytes, bytes]]:
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in security_headers(https).items()
    ]


async def _busy(scope: Scope, receive: Receive, send: Send) -> None:
    """The 503 over the concurrency limit, as uvicorn's, with the security headers."""
    body = json.dumps({"detail": "the hub is busy; try again in a moment"}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"),
        *_header_list(scope.get("scheme") == "https"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the deadlines above."""

    header_timeout_s: float = HEADER_TIMEOUT_S
    body_timeout_s: float = BODY_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase: str | None = None  # "head" or "body" of a request on its way
        self._deadline: asyncio.TimerHandle | None = None
        # uvicorn answers over its limit with a bare 503; ours checks the same numbers
        # (this request's own task is already counted when the check runs) and answers
        # with the headers.
        limit, self.limit_concurrency = self.limit_concurrency, None
        if limit is not None:
            app = self.app

            async def limited(scope: Scope, receive: Receive, send: Send) -> None:
                over = len(self.connections) >= limit or len(self.tasks) > limit
                await (_busy if scope["type"] == "http" and over else app)(scope, receive, send)

            self.app = limited

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self._set_phase(None)
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's 400 for a request h11 cannot parse, with the security headers."""
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"connection", b"close"),
            *_header_list(self.scheme == "https"),
        ]
        response = h11.Response(status_code=400, headers=headers, reason=b"Bad Request")
        for event in (response, h11.Data(data=msg.encode("ascii")), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()

    def _watch_request(self) -> None:
        """Start the head or body deadline when a request's head or body starts to
        arrive; stop it once the request is in."""
        phase: str | None = None
        if not self.transport.is_closing():
            state = self.conn.their_state
            if state is h11.IDLE and self.conn.trailing_data[0]:
                phase = "head"
            elif state is h11.SEND_BODY:
                phase = "body"
        if phase != self._phase:
            self._set_phase(phase)

    def _set_phase(self, phase: str | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = phase
        if phase is not None:
            timeout = self.header_timeout_s if phase == "head" else self.body_timeout_s
            self._deadline = self.loop.call_later(timeout, self._too_slow)

    def _too_slow(self) -> None:
        """The request did not arrive in time: hang up (the app, if it was waiting for
        the body, sees a client that left)."""
        self._deadline = None
        self._phase = None
        if not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(header_timeout_s: float, body_timeout_s: float) -> type[GuardedH11Protocol]:
    """The protocol class with these deadlines (the tests use short ones)."""
    if header_timeout_s == HEADER_TIMEOUT_S and body_timeout_s == BODY_TIMEOUT_S:
        return GuardedH11Protocol
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"header_timeout_s": header_timeout_s, "body_timeout_s": body_timeout_s},
    )
