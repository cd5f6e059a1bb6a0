"""Settings for every nursery process: one typed object, built once from TOML and env."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_origin

from pydantic import (
    ConfigDict,
    ValidationError,
)

from firmware.config import FirmwareConfig, FirmwareSettings
from hub.config import (
    AlertsSettings,
    EpisodesSettings,
    HomeAssistantSettings,
    HubConfig,
    HubSettings,
    NotifySettings,
)
from mqttlink.rules_settings import RulesSettings
from mqttlink.settings import MqttSettings, Section, SettingsError
from nursery.config_file import CONFIG_VARIABLE, find_config

ENV_PREFIX = "NURSERY_"


class Settings(HubConfig, FirmwareConfig):
    """The whole configuration, for the `nursery` command: every section of nursery.toml.

    Each process takes its own part (`HubConfig`, `FirmwareConfig`); this is both, so one
    file is checked whole whichever process reads it. `load_settings()` builds it from the
    TOML file and the environment; `Settings(...)` never reads the environment.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


SECTIONS: dict[str, type[Section]] = {
    "mqtt": MqttSettings,
    "hub": HubSettings,
    "firmware": FirmwareSettings,
    "rules": RulesSettings,
    "alerts": AlertsSettings,
    "notify": NotifySettings,
    "homeassistant": HomeAssistantSettings,
    "episodes": EpisodesSettings,
}


def env_name(section: str, key: str) -> str:
    return f"{ENV_PREFIX}{section.upper()}__{key.upper()}"


def is_setting_variable(name: str) -> bool:
    """A NURSERY_ variable, in any case: load_settings() reads or refuses every one, so a
    process that must not inherit the shell's settings drops exactly these."""
    return name.lower().startswith(ENV_PREFIX.lower())


def all_keys() -> list[tuple[str, str, str]]:
    """(section, key, description) for every setting, for docs and their test."""
    return [
        (section, key, field.description or "")
        for section, model in SECTIONS.items()
        for key, field in model.model_fields.items()
    ]


def _describe(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    if len(loc) >= 2 and loc[0] in SECTIONS:
        key = f"{loc[0]}.{loc[1]}"
        # A list of tables (hub.sources) names the entry, counted from 1, and its key.
        inner = "".join(f"[{int(p) + 1}]" if p.isdigit() else f".{p}" for p in loc[2:])
        where = f"{key}{inner} ({env_name(loc[0], loc[1])})"
    elif len(loc) == 1 and loc[0] in SECTIONS:
        key, _, rest = message.partition(": ")
        if rest and key in SECTIONS[loc[0]].model_fields:
            # A rule between two keys names the one to change first (RulesSettings._ordered).
            where, message = f"{loc[0]}.{key} ({env_name(loc[0], key)})", rest
        else:
            where = f"{loc[0]} ({ENV_PREFIX}{loc[0].upper()}__…)"
    else:
        where = ".".join(loc) or "settings"
    if error.get("type") == "extra_forbidden":
        return f"{where}: unknown setting"
    if error.get("type") == "missing":
        return f"{where}: required"
    given = error.get("input")
    shown = "" if isinstance(given, dict | list) or given is None else f" (got {str(given)[:60]!r})"
    if "password" in where:
        shown = ""
    return f"{where}: {message}{shown}"


def _env_value(annotation: Any, text: str) -> Any:
    """What the env text of a setting stands for, as pydantic-settings decoded it.

    A list setting's text is JSON, and text that is not JSON raises ValueError. Any other
    text, and empty text, goes to pydantic as it is: pydantic turns "30" into 30, "true"
    into True, a path into a Path, and refuses "" for a number or a list. (Lists are the
    only structured settings; a dict or an optional list would need its own rule here.)
    """
    if text and get_origin(annotation) is list:
        return json.loads(text)
    return text


def _env_settings(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The settings in NURSERY_<SECTION>__<KEY> variables, as {section: {key: value}}.

    Read here, plainly, rather than through pydantic-settings: importing that and
    python-dotenv cost every hub and firmware process about 1 MiB, which a Pi Zero 2 W
    (512 MB) cannot spare. Raises SettingsError with one line per bad variable.
    """
    # Names match in any case, as pydantic-settings matched them: nursery_mqtt__port sets
    # mqtt.port just as NURSERY_MQTT__PORT does. So any variable whose name starts with
    # NURSERY_ in any case is either read or refused, never silently ignored; two spellings
    # of one name are refused, since which one wins would depend on the environment's order.
    known = {env_name(section, key).lower(): (section, key) for section, key, _ in all_keys()}
    seen: dict[str, str] = {}
    values: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for name in sorted(environ):
        if not is_setting_variable(name) or name == CONFIG_VARIABLE:
            continue  # NURSERY_CONFIG names the file (nursery/config_file.py), not a setting
        folded = name.lower()
        if folded not in known:
            problems.append(f"{name}: unknown setting")
            continue
        section, key = known[folded]
        if folded in seen:
            problems.append(f"{name}: {seen[folded]} sets {section}.{key} too: set it once")
            continue
        seen[folded] = name
        annotation = SECTIONS[section].model_fields[key].annotation
        try:
            values.setdefault(section, {})[key] = _env_value(annotation, environ[name])
        except ValueError as exc:
            # The message says where the JSON went wrong, never what the value was.
            where = f"{section}.{key} ({env_name(section, key)})"
            problems.append(f"{where}: not valid JSON ({exc})")
    if problems:
        raise SettingsError("\n".join(problems))
    return values


def _merged(base: Any, over: Any) -> Any:
    """`over` laid on `base`, dicts merged key by key at every depth: env over the TOML file."""
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{key: _merged(base.get(key), value) for key, value in over.items()}}
    return over


def _owner(path: Path) -> str:
    try:
        return path.owner()
    except (OSError, KeyError):
        return "nursery"


def load_settings(config: Path | None = None) -> Settings:
    """Build the settings, or raise SettingsError with one line per bad key.

    `config` is the `--config` path; without it the file comes from NURSERY_CONFIG or the
    search in nursery/config_file.py, and without any file the defaults apply.
    Environment variables are read from os.environ, here and nowhere else.
    """
    choice = find_config(config)
    path = choice.path
    values: dict[str, Any] = {}
    if path is not None:
        if choice.required and not path.is_file():
            name = (
                f"{CONFIG_VARIABLE}={path}"
                if choice.source == CONFIG_VARIABLE
                else f"--config {path}"
            )
            raise SettingsError(f"{name}: no such file")
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except PermissionError as exc:
            raise SettingsError(
                f"{path}: cannot read: {exc.strerror}; run the command as the user the file "
                f"belongs to (sudo -u {_owner(path)} nursery …) or point --config elsewhere"
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path}: cannot read: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path}: not valid TOML: {exc}") from exc
    # Section names in the file match in any case, as they did under pydantic-settings
    # ([MQTT] is [mqtt]); the keys within a section always had to be exact.
    for name in [name for name in values if name.lower() in SECTIONS and name not in SECTIONS]:
        if name.lower() in values:
            raise SettingsError(f"{path}: [{name}] is [{name.lower()}] again: keep one")
        values[name.lower()] = values.pop(name)
    values = _merged(values, _env_settings(os.environ))
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise SettingsError("\n".join(_describe(e) for e in exc.errors())) from None
