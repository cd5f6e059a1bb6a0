"""Dependencies the routes declare: the running hub's parts, reached through the app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from hub.ingest import Clock, Ingest
from hub.monitor import Monitor
from hub.notify import Dispatcher
from hub.store import Store
from nursery.config import Settings


@dataclass
class HubContext:
    """Everything a request may need, built once by create_app's lifespan."""

    settings: Settings
    store: Store
    ingest: Ingest | None
    clock: Clock
    monitor: Monitor | None = None
    dispatcher: Dispatcher | None = None


def get_context(request: Request) -> HubContext:
    context: HubContext = request.app.state.hub
    return context


ContextDep = Annotated[HubContext, Depends(get_context)]


def get_monitor(request: Request) -> Monitor:
    monitor = get_context(request).monitor
    if monitor is None:
        raise HTTPException(503, detail="the hub is not watching rooms (started without ingest)")
    return monitor


MonitorDep = Annotated[Monitor, Depends(get_monitor)]
