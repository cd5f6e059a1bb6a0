"""The environment a test's `nursery` process gets: the caller's, minus its settings."""

from __future__ import annotations

import os
from collections.abc import Mapping

from nursery.config import is_setting_variable


def without_settings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`environ` (the process's own by default) without a variable the config would read,
    by the config's own rule, so the caller's shell cannot change what a test runs."""
    source = os.environ if environ is None else environ
    return {key: value for key, value in source.items() if not is_setting_variable(key)}


def settings_env(settings: Mapping[str, str] | None = None, **more: str) -> dict[str, str]:
    """The environment for a `nursery` process: this one's, its settings replaced by
    `settings` and `more` (NURSERY_* names)."""
    return {**without_settings(), **(settings or {}), **more}


def setting_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """The variables in `environ` that the config would read."""
    source = os.environ if environ is None else environ
    return [key for key in source if is_setting_variable(key)]


def mqtt_env(port: int, base_topic: str) -> dict[str, str]:
    """The [mqtt] settings of a `nursery` process on a test broker, as its variables."""
    return {
        "NURSERY_MQTT__HOST": "127.0.0.1",
        "NURSERY_MQTT__PORT": str(port),
        "NURSERY_MQTT__BASE_TOPIC": base_topic,
    }
