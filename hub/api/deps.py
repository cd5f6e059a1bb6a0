"""Dependencies the routes declare: the running hub's parts, reached through the app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from hub.ingest import Clock, Ingest
from hub.store import Store
from nursery.config import Settings


@dataclass
class HubContext:
    """Everything a request may need, built once by create_app's lifespan."""

    settings: Settings
    store: Store
    ingest: Ingest | None
    clock: Clock


def get_context(request: Request) -> HubContext:
    context: HubContext = request.app.state.hub
    return context


ContextDep = Annotated[HubContext, Depends(get_context)]
