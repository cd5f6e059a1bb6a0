"""The one place the hub's errors become HTTP answers: routes raise them, create_app installs it."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.responses import Response

from hub import messages
from hub.api.deps import HubContext, SignInRequired, field_problem
from hub.episodes.log import AlreadyRunning, NotRunning
from hub.episodes.model import FEVER_RANGE_C, MAX_JERKS
from hub.episodes.storage import EpisodeStoreError, NotFound
from hub.episodes.validation import EpisodeInvalid
from hub.monitor.alerts import AlertError
from hub.monitor.watch import UnknownAlert
from hub.preferences import PreferenceError, UnknownChannel
from hub.store.database import StoreError
from hub.store.disk_health import save_problem

log = logging.getLogger("nursery.hub")

E = TypeVar("E", bound=Exception)
Handler = Callable[[Request, E], Awaitable[Response]]


def _answer(status: int, detail: object) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


async def _sign_in_first(request: Request, exc: SignInRequired) -> Response:
    return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)


def _cannot_save(request: Request, exc: Exception) -> Response | None:
    """A 503 saying the change was not kept, when the disk refused it (full, read-only):
    the hub's SaveHealth hears of it too, so the alarm goes out."""
    problem = save_problem(exc) if request.method not in ("GET", "HEAD", "OPTIONS") else None
    if problem is None:
        return None  # a read that failed is no save refused
    health = getattr(getattr(request.app.state, "hub", None), "save_health", None)
    if health is not None:
        health.check(exc)
    log.error("cannot save on %s: %s", request.url.path, exc)
    return _answer(503, messages.change_refused(problem))


async def _store_failed(request: Request, exc: StoreError) -> Response:
    if (answer := _cannot_save(request, exc)) is not None:
        return answer
    log.error("database error on %s: %s", request.url.path, exc)
    return _answer(503, "the hub's database is unavailable")


async def _episode_log_failed(request: Request, exc: EpisodeStoreError) -> Response:
    if (answer := _cannot_save(request, exc)) is not None:
        return answer
    return _answer(503, "the episode log is unavailable")


async def _sqlite_failed(request: Request, exc: sqlite3.Error) -> Response:
    """SQLite's own error out of a route: the disk's fault is a 503, anything else a 500."""
    if (answer := _cannot_save(request, exc)) is not None:
        return answer
    log.error("database error on %s: %s", request.url.path, exc)
    return _answer(500, "Internal Server Error")


async def _episode_invalid(request: Request, exc: EpisodeInvalid) -> Response:
    """A 422 naming each field, in plain words (hub/messages/) and the household's
    unit."""
    context: HubContext = request.app.state.hub
    unit = context.unit()
    return _answer(
        422,
        [
            {
                "loc": ["body", e.field],
                "msg": messages.episode_problem(
                    e.code, e.message, unit, fever_range_c=FEVER_RANGE_C, max_jerks=MAX_JERKS
                ),
                "type": e.code,
            }
            for e in exc.errors
        ],
    )


async def _episode_not_found(request: Request, exc: NotFound) -> Response:
    return _answer(404, field_problem("path", "episode_id", str(exc), "episode.not_found"))


async def _episode_running(request: Request, exc: AlreadyRunning) -> Response:
    return _answer(409, field_problem("body", "room", str(exc), "episode.running"))


async def _episode_not_running(request: Request, exc: NotRunning) -> Response:
    return _answer(409, field_problem("path", "episode_id", str(exc), "episode.not_running"))


async def _unknown_alert(request: Request, exc: UnknownAlert) -> Response:
    return _answer(404, str(exc))


async def _alert_refused(request: Request, exc: AlertError) -> Response:
    return _answer(409, str(exc))


async def _preference_refused(request: Request, exc: PreferenceError) -> Response:
    return _answer(422, field_problem("body", exc.field, str(exc)))


async def _unknown_channel(request: Request, exc: UnknownChannel) -> Response:
    return _answer(404, str(exc))


def install(app: FastAPI) -> None:
    """Answer each of our errors a route lets out (a subclass's own handler goes first)."""
    handlers: list[tuple[type[Exception], Handler[Any]]] = [
        (SignInRequired, _sign_in_first),
        (StoreError, _store_failed),
        (sqlite3.Error, _sqlite_failed),
        (EpisodeStoreError, _episode_log_failed),
        (EpisodeInvalid, _episode_invalid),
        (NotFound, _episode_not_found),
        (AlreadyRunning, _episode_running),
        (NotRunning, _episode_not_running),
        (UnknownAlert, _unknown_alert),
        (AlertError, _alert_refused),
        (PreferenceError, _preference_refused),
        (UnknownChannel, _unknown_channel),
    ]
    for error, handler in handlers:
        app.add_exception_handler(error, handler)
