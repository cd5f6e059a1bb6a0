"""`nursery hub`: the hub's web server and MQTT ingest in one process."""

from __future__ import annotations

import logging
from types import FrameType

import uvicorn

from hub.app import create_app
from hub.store import Store, StoreError
from nursery.config import Settings

log = logging.getLogger("nursery.hub")


def serve(settings: Settings) -> int:
    """Run until SIGINT/SIGTERM (uvicorn handles both); returns an exit code."""
    try:
        Store(settings.hub.db).close()  # fail fast, with the file named, before serving
    except StoreError as exc:
        log.error("%s", exc)
        return 1
    host, port = settings.hub.http_host, settings.hub.http_port
    shown = "localhost" if host in ("0.0.0.0", "127.0.0.1", "::") else host
    log.info("dashboard at http://%s:%d/ (database %s)", shown, port, settings.hub.db)
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    server = _Server(config)
    server.run()
    return 0 if server.started else 1


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT after a graceful shutdown; a clean stop exits 0."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()
