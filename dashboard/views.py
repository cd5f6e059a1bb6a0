"""The dashboard: one HTML page, its static assets and the web-app manifest, served by the hub.

Everything the page needs comes from here (the Pi has no internet); the page itself reads
the JSON API and holds no logic on the server side.
"""

from __future__ import annotations

import hashlib
import html
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from hub.api.deps import PageCaregiverDep

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATE = HERE / "templates" / "index.html"
AUTH_TEMPLATE = HERE / "templates" / "auth.html"
EPISODES_TEMPLATE = HERE / "templates" / "episodes.html"
SETTINGS_TEMPLATE = HERE / "templates" / "settings.html"

# Pages and the manifest are revalidated on every load; assets carry a content hash in
# their URL so a phone picks up a new app.js after an upgrade without a hard refresh.
NO_CACHE = {"Cache-Control": "no-cache"}


def asset_version(static_dir: Path = STATIC_DIR) -> str:
    """A short hash of the page's own script and style sheet."""
    digest = hashlib.sha256()
    for name in ("app.js", "app.css", "auth.js", "auth.css"):
        digest.update((static_dir / name).read_bytes())
    return digest.hexdigest()[:12]


def render_index() -> str:
    return TEMPLATE.read_text(encoding="utf-8").replace("{{ asset_version }}", asset_version())


def render_page(title: str, content: str) -> str:
    """A small page (sign in, first run) around `content`, which must be escaped HTML."""
    return (
        AUTH_TEMPLATE.read_text(encoding="utf-8")
        .replace("{{ asset_version }}", asset_version())
        .replace("{{ title }}", html.escape(title))
        .replace("{{ content }}", content)
    )


def render_episodes(static_dir: Path = STATIC_DIR) -> str:
    """The episode log page, its assets' URLs carrying a hash of their content."""
    digest = hashlib.sha256()
    for name in ("app.css", "auth.js", "auth.css", "episodes.js", "episodes.css"):
        digest.update((static_dir / name).read_bytes())
    version = digest.hexdigest()[:12]
    return EPISODES_TEMPLATE.read_text(encoding="utf-8").replace("{{ asset_version }}", version)


def render_settings(static_dir: Path = STATIC_DIR) -> str:
    """The settings page, its assets' URLs carrying a hash of their content."""
    digest = hashlib.sha256()
    for name in ("app.css", "auth.js", "auth.css", "settings.js", "settings.css"):
        digest.update((static_dir / name).read_bytes())
    version = digest.hexdigest()[:12]
    return SETTINGS_TEMPLATE.read_text(encoding="utf-8").replace("{{ asset_version }}", version)


def install(app: FastAPI) -> None:
    """Add the dashboard page at /, its assets under /static and /manifest.webmanifest."""
    page = render_index()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard_page(caregiver: PageCaregiverDep) -> HTMLResponse:
        return HTMLResponse(page, headers=NO_CACHE)

    episodes = render_episodes()

    @app.get("/episodes", response_class=HTMLResponse, include_in_schema=False)
    def episodes_page(caregiver: PageCaregiverDep) -> HTMLResponse:
        """The episode log (health data): only for a signed-in caregiver, who is sent to
        sign in first and back here after."""
        return HTMLResponse(episodes, headers=NO_CACHE)

    settings = render_settings()

    @app.get("/settings", response_class=HTMLResponse, include_in_schema=False)
    def settings_page(caregiver: PageCaregiverDep) -> HTMLResponse:
        """Preset, thresholds, °C/°F and your push channels, for a signed-in caregiver."""
        return HTMLResponse(settings, headers=NO_CACHE)

    @app.get("/manifest.webmanifest", include_in_schema=False)
    def manifest() -> FileResponse:
        return FileResponse(
            STATIC_DIR / "manifest.webmanifest",
            media_type="application/manifest+json",
            headers=NO_CACHE,
        )

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
