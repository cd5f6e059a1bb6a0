"""While the hub cannot save, refuse every change at once with a 503 that says why: a
change the disk cannot keep must neither hang nor look kept."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from hub.messages.storage import change_refused
from hub.web.responses import JSON, send_response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SaveGuard:
    """ASGI middleware: reads pass; a change (POST, PUT, PATCH, DELETE) gets 503 with the
    reason in plain words while the hub's SaveHealth says the disk takes no writes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        context = getattr(getattr(scope.get("app"), "state", None), "hub", None)
        state = context.save_health.state if context is not None else None
        if state is None or state.problem is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"detail": change_refused(state.problem)}).encode()
        await send_response(send, 503, body, JSON, (b"retry-after", b"60"))
