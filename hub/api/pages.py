"""The dashboard's pages from dashboard/'s Jinja2 templates, its static assets and the web-app
manifest, served by the hub (the Pi has no internet); the pages read the JSON API."""

from __future__ import annotations

import functools
import hashlib
import html
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

if TYPE_CHECKING:
    import jinja2

from dashboard import STATIC_DIR, TEMPLATES_DIR
from hub.api.deps import ContextDep, HubContext, PageCaregiverDep
from hub.episodes.doctor_card import emergency_text
from hub.messages.storage import save_banner

MODULES_DIR = STATIC_DIR / "js"
TEMPLATES = TEMPLATES_DIR

# Pages and the manifest are revalidated on every load; assets carry a content hash in
# their URL so a phone picks up a new app.js after an upgrade without a hard refresh. The
# shared modules under js/ are imported by plain relative URLs: they are revalidated on
# every load (a 304 on the home network), and their content is in every page's hash.
NO_CACHE = {"Cache-Control": "no-cache"}


@dataclass(frozen=True)
class Page:
    """A template and what its head links to, besides what base.html always links."""

    styles: tuple[str, ...]
    scripts: tuple[str, ...] = ()
    title: str = ""
    private: bool = True  # behind sign-in: search engines are asked to keep out
    description: str = ""
    body_class: str = ""
    header_class: str = ""


def _signed_in(name: str, title: str, header_class: str, part: str) -> Page:
    """A signed-in page with its own style sheets and module, named as the page."""
    return Page(
        ("app.css", "auth.css", f"{name}.css", part),
        ("auth.js", f"{name}.js"),
        title=title,
        body_class=name,
        header_class=header_class,
    )


PAGES: dict[str, Page] = {
    "index.html": Page(
        ("app.css", "rooms.css", "charts.css", "recent.css", "auth.css"),
        ("auth.js", "app.js"),
        private=False,
        description="Temperature and humidity in the nursery, from the monitor on this network.",
    ),
    "episodes.html": _signed_in("episodes", "Episode log", "ep-top", "patterns.css"),
    "settings.html": _signed_in("settings", "Settings", "st-top", "channels.css"),
    "welcome.html": Page(
        ("app.css", "auth.css", "settings.css", "channels.css", "welcome.css"),
        ("auth.js", "welcome.js"),
        title="Add your phone",
        body_class="welcome",
        header_class="st-top",
    ),
    "auth.html": Page(("auth.css",), private=False, body_class="auth"),
}


@functools.cache
def environment() -> jinja2.Environment:
    """The templates' environment, made at the first page rendered: Jinja2 stays out of
    the memory of a hub whose pages nobody opens (about 2 MiB on a 512 MB Pi)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def asset_version(names: Iterable[str], static_dir: Path = STATIC_DIR) -> str:
    """A short hash of the given static files' content and of the shared modules'."""
    digest = hashlib.sha256()
    modules = sorted((static_dir / "js").rglob("*.js"))
    for path in [static_dir / name for name in names] + modules:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@functools.cache
def page_version(template: str) -> str:
    """The hash in a page's asset URLs, computed once per process."""
    page = PAGES[template]
    return asset_version(page.styles + page.scripts)


def render_template(template: str, **context: object) -> str:
    """A page: its template with its Page's links (their URLs carrying the hash) and
    `context`."""
    page = PAGES[template]
    version = page_version(template)
    fields = {name: getattr(page, name) for name in Page.__dataclass_fields__}
    return (
        environment()
        .get_template(template)
        .render(fields, asset=lambda name: f"/static/{name}?v={version}", **context)
    )


@functools.cache
def render(template: str) -> str:
    """A page that is the same for everyone, rendered once per process (the files only
    change with an upgrade, which restarts the hub)."""
    return render_template(template)


@functools.cache
def episodes_page(emergency_number: str) -> str:
    """The episode log, its footer naming the emergency number before any script runs."""
    before, _, after = emergency_text(emergency_number).partition(emergency_number)
    return render_template(
        "episodes.html",
        emergency_number=emergency_number,
        emergency_parts=(before, emergency_number, after),
    )


@functools.cache
def channel_page(template: str) -> str:
    """The settings and first-run pages, with the words about reaching a phone."""
    from hub.messages import channels

    services = channels.SERVICES
    if template == "settings.html":  # ntfy has the first-run page's QR code; listed here too
        services = (channels.NTFY_SERVICE, *services)
    return render_template(template, w=channels, services=services)


def render_page(title: str, content: str) -> str:
    """A small page (sign in, first run) around `content`, which must be escaped HTML."""
    from markupsafe import Markup

    # The routes that call this build `content` with html.escape on every value.
    trusted = Markup(content)  # noqa: S704  # nosec B704
    return render_template("auth.html", title=title, content=trusted)


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


def with_save_banner(page: str, ctx: HubContext) -> str:
    """The page with a banner at the top of its body while the hub cannot save; the page
    itself stays cached, the banner is added per request."""
    problem = ctx.save_health.state.problem
    if problem is None:
        return page
    head, found, rest = page.partition("<body")
    if not found:
        return page
    tag, _, body = rest.partition(">")
    banner = f'<p class="save-banner" role="alert">{html.escape(save_banner(problem))}</p>'
    return f"{head}<body{tag}>{banner}{body}"


def install(app: FastAPI) -> None:
    """Add the dashboard page at /, its assets under /static and /manifest.webmanifest."""

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard_page(caregiver: PageCaregiverDep, ctx: ContextDep) -> HTMLResponse:
        return HTMLResponse(with_save_banner(render("index.html"), ctx), headers=NO_CACHE)

    @app.get("/episodes", response_class=HTMLResponse, include_in_schema=False)
    def episodes(caregiver: PageCaregiverDep, ctx: ContextDep) -> HTMLResponse:
        """The episode log (health data): only for a signed-in caregiver, who is sent to
        sign in first and back here after."""
        number = ctx.settings.episodes.emergency_number
        return HTMLResponse(with_save_banner(episodes_page(number), ctx), headers=NO_CACHE)

    @app.get("/settings", response_class=HTMLResponse, include_in_schema=False)
    def settings_page(caregiver: PageCaregiverDep, ctx: ContextDep) -> HTMLResponse:
        """Preset, thresholds, °C/°F and your push channels, for a signed-in caregiver."""
        return HTMLResponse(with_save_banner(channel_page("settings.html"), ctx), headers=NO_CACHE)

    @app.get("/welcome", response_class=HTMLResponse, include_in_schema=False)
    def welcome_page(caregiver: PageCaregiverDep, ctx: ContextDep) -> HTMLResponse:
        """First run, after the first account: add this phone and see a test push arrive."""
        return HTMLResponse(with_save_banner(channel_page("welcome.html"), ctx), headers=NO_CACHE)

    @app.get("/manifest.webmanifest", include_in_schema=False)
    def manifest() -> FileResponse:
        return FileResponse(
            STATIC_DIR / "manifest.webmanifest",
            media_type="application/manifest+json",
            headers=NO_CACHE,
        )

    app.mount("/static", StaticAssets(directory=STATIC_DIR), name="static")
