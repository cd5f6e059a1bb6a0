"""Which nursery.toml a command reads when --config is not given: the first that exists of
NURSERY_CONFIG, ./nursery.toml, the user's config directory and /etc/nursery-monitor."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CONFIG_VARIABLE = "NURSERY_CONFIG"
FILE_NAME = "nursery.toml"
SYSTEM_CONFIG = Path("/etc/nursery-monitor") / FILE_NAME


@dataclass(frozen=True)
class ConfigChoice:
    """The file a command reads (None: no file, defaults and NURSERY_* variables only), and
    what chose it, in the words `nursery --help` and the errors use."""

    path: Path | None
    source: str
    required: bool = False  # named by the user (--config, NURSERY_CONFIG): must exist


def user_config_file(environ: Mapping[str, str]) -> Path | None:
    """$XDG_CONFIG_HOME/nursery-monitor/nursery.toml, else ~/.config/…; None without a home.

    A relative XDG_CONFIG_HOME is ignored, as the XDG base directory spec asks."""
    base = Path(environ.get("XDG_CONFIG_HOME", ""))
    if not base.is_absolute():
        home = Path(environ.get("HOME", ""))
        if not home.is_absolute():
            return None
        base = home / ".config"
    return base / "nursery-monitor" / FILE_NAME


def search_order(environ: Mapping[str, str]) -> list[tuple[str, Path]]:
    """Where a command looks when neither --config nor NURSERY_CONFIG names a file."""
    order = [("the working directory", Path(FILE_NAME))]
    user_file = user_config_file(environ)
    if user_file is not None:
        order.append(("your config directory", user_file))
    order.append(("the system-wide settings", SYSTEM_CONFIG))
    return order


def _exists(path: Path) -> bool:
    """True for a file there, also one this user may not read: reading it then says why,
    instead of the command going on with the defaults."""
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return not path.is_dir()


def find_config(
    explicit: Path | None = None, environ: Mapping[str, str] | None = None
) -> ConfigChoice:
    """The file every command reads: --config, else NURSERY_CONFIG, else the first that
    exists of ./nursery.toml, the user's config directory, /etc/nursery-monitor."""
    env = os.environ if environ is None else environ
    if explicit is not None:
        return ConfigChoice(explicit, "--config", required=True)
    named = env.get(CONFIG_VARIABLE, "")
    if named:
        return ConfigChoice(Path(named), CONFIG_VARIABLE, required=True)
    for source, path in search_order(env):
        if _exists(path):
            return ConfigChoice(path, source)
    return ConfigChoice(None, "")


def describe(choice: ConfigChoice, environ: Mapping[str, str] | None = None) -> str:
    """One sentence for `nursery --help`: the file read, or where it looked."""
    env = os.environ if environ is None else environ
    if choice.path is None:
        places = ", ".join(
            str(path) if path.is_absolute() else f"./{path}" for _, path in search_order(env)
        )
        return (
            f"Settings: no {FILE_NAME} found ({CONFIG_VARIABLE} is not set; looked for "
            f"{places}): the defaults and NURSERY_* variables apply."
        )
    where = choice.path if choice.path.is_absolute() else Path.cwd() / choice.path
    if choice.required and not _exists(choice.path):
        return f"Settings: {choice.source} names {where}, which does not exist."
    if not os.access(choice.path, os.R_OK):
        return (
            f"Settings: {where} (from {choice.source}) is there, but this user may not read "
            f"it; run as its owner (sudo -u nursery nursery …)."
        )
    return f"Settings: read from {where} (from {choice.source})."
