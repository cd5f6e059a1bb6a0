"""A cap on request bodies, enforced before any route, form parser or error handler runs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.web.responses import JSON, response

DEFAULT_MAX_BODY_BYTES: Final = 256 * 1024


def too_large_response(max_bytes: int) -> tuple[Message, Message]:
    """The 413's two ASGI messages; `connection: close` makes uvicorn hang up after it."""
    body = json.dumps(
        {"detail": f"request body too large: this hub accepts at most {max_bytes} bytes"}
    ).encode()
    return response(413, body, JSON, (b"connection", b"close"))


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length; None when absent. The server has refused a malformed
    one before the app is called."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    """Refuse request bodies over `max_bytes` with 413, before the app reads them; paths in
    `smaller` (a sign-in form, say) get their own, smaller cap the same way."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = DEFAULT_MAX_BODY_BYTES,
        smaller: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.smaller = dict(smaller or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = min(self.max_bytes, self.smaller.get(scope.get("path", ""), self.max_bytes))
        length = declared_length(scope)
        if length is not None and length > cap:
            for message in too_large_response(cap):
                await send(message)
            return

        received = 0
        started = False
        refused = False
        left = False  # the client hung up (or was hung up on) before its body was in

        async def counting_receive() -> Message:
            nonlocal received, refused, left
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.disconnect":
                left = True
            elif message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    # Answer now, whatever the app does next: it sees a client that left.
                    refused = True
                    if not started:
                        for reply in too_large_response(cap):
                            await send(reply)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 is the answer; the app's own is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if refused or left:
                # The app failed on a body it was refused or that never came (Starlette
                # raises ClientDisconnect): nobody is waiting for an answer, and anyone
                # could fill the log with these tracebacks.
                return
            raise
