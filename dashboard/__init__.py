"""The web UI's files: Jinja2 templates and the static assets the hub serves (no code)."""

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
