"""Naming a room in words ("Leo's room"), as the first run's "Name the room" step does: every
page and push then calls it so; its name in MQTT topics stays as the monitor sends it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException
from pydantic import BaseModel, Field

from hub.api.deps import ContextDep, require_caregiver
from hub.messages import room_words

router = APIRouter(tags=["rooms"], dependencies=[Depends(require_caregiver)])


class RoomNameIn(BaseModel):
    name: str = Field(max_length=200, description="The room's name in words; empty: its own.")


class RoomNameOut(BaseModel):
    room: str = Field(description="The room's name in topics, as the monitor sends it.")
    name: str = Field(description="What every page and push calls it now.")


@router.put("/api/rooms/{room}/name", response_model=RoomNameOut)
def name_room(ctx: ContextDep, room: str, body: Annotated[RoomNameIn, Body()]) -> RoomNameOut:
    """Give a room a name in words, for everyone in the home (empty: back to its own)."""
    if ctx.preferences is None:
        raise HTTPException(503, detail="the hub is starting")
    if ctx.store.room(room) is None:
        raise HTTPException(404, detail=f"no room named {room!r}")
    ctx.preferences.name_room(room, body.name)
    return RoomNameOut(room=room, name=room_words(room))
