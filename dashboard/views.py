"""The dashboard: one HTML page, its static assets and the web-app manifest, served by the hub.

Everything the page needs comes from here (the Pi has no internet); the page itself reads
the JSON API and holds no logic on the server side.
"""

from __future__ import annotations

import functools
import hashlib
import html
import os
from collections.abc import Iterable
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from hub.api.deps import PageCaregiverDep

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
MODULES_DIR = STATIC_DIR / "js"
TEMPLATES = HERE / "templates"

# Pages and the manifest are revalidated on every load; assets carry a content hash in
# their URL so a phone picks up a new app.js after an upgrade without a hard refresh. The
# shared modules under js/ are imported by plain relative URLs: they are revalidated on
# every load (a 304 on the home network), and their content is in every page's hash.
NO_CACHE = {"Cache-Control": "no-cache"}

# Each page and the static files it links to (their hash goes into its asset URLs).
PAGES: dict[str, tuple[str, ...]] = {
    "index.html": ("app.js", "app.css", "auth.js", "auth.css"),
    "episodes.html": ("app.css", "auth.js", "auth.css", "episodes.js", "episodes.css"),
    "settings.html": ("app.css", "auth.js", "auth.css", "settings.js", "settings.css"),
    "auth.html": ("auth.css",),
}


def asset_version(names: Iterable[str], static_dir: Path = STATIC_DIR) -> str:
    """A short hash of the given static files' content and of the shared modules'."""
    digest = hashlib.sha256()
    modules = sorted((static_dir / "js").rglob("*.js"))
    for path in [static_dir / name for name in names] + modules:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class StaticAssets(StaticFiles):
    """/static: the shared modules (js/) are revalidated on every load, since the URLs
    that import them carry no hash."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if Path(full_path).resolve().is_relative_to(MODULES_DIR):
            response.headers.update(NO_CACHE)
        return response


@functools.cache
def render(template: str) -> str:
    """A page from dashboard/templates, its asset URLs carrying their content's hash; read
    once per process (the files only change with an upgrade, which restarts the hub)."""
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    return text.replace("{{ asset_version }}", asset_version(PAGES[template]))


def render_page(title: str, content: str) -> str:
    """A small page (sign in, first run) around `content`, which must be escaped HTML."""
    page = render("auth.html").replace("{{ title }}", html.escape(title))
    return page.replace("{{ content }}", content)


def install(app: FastAPI) -> None:
    """Add the dashboard page at /, its assets under /static and /manifest.webmanifest."""
    page = render("index.html")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard_page(caregiver: PageCaregiverDep) -> HTMLResponse:
        return HTMLResponse(page, headers=NO_CACHE)

    episodes = render("episodes.html")

    @app.get("/episodes", response_class=HTMLResponse, include_in_schema=False)
    def episodes_page(caregiver: PageCaregiverDep) -> HTMLResponse:
        """The episode log (health data): only for a signed-in caregiver, who is sent to
        sign in first and back here after."""
        return HTMLResponse(episodes, headers=NO_CACHE)

    settings = render("settings.html")

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

    app.mount("/static", StaticAssets(directory=STATIC_DIR), name="static")
