"""Settings for every nursery process: one typed object, built once from TOML and env.

Precedence, highest first: environment variables `NURSERY_<SECTION>__<KEY>`, then the TOML
file (`--config PATH`, else `./nursery.toml` when present), then the defaults below. Every
field carries a description; the README's configuration table lists them all and a test
keeps the two in step.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, ValidationInfo
from pydantic import field_validator as _field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from firmware.contract import ContractError, check_base_topic, check_name

ENV_PREFIX = "NURSERY_"
DEFAULT_CONFIG_FILE = Path("nursery.toml")
DHT_MIN_INTERVAL_S = 2.0


class SettingsError(Exception):
    """Settings that cannot be used; the message is one line per bad key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttSettings(_Section):
    host: str = Field("localhost", description="MQTT broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="MQTT broker TCP port.")
    username: str | None = Field(None, description="MQTT user name; unset for anonymous.")
    password: SecretStr | None = Field(None, description="MQTT password; never logged.")
    base_topic: str = Field(
        "nursery", description="First level(s) of every topic, as in `nursery/<room>/reading`."
    )
    keepalive_s: int = Field(
        30, ge=5, le=3600, description="Seconds between MQTT keep-alive pings."
    )

    @_field_validator("base_topic")
    @classmethod
    def _base_topic(cls, value: str) -> str:
        try:
            return check_base_topic(value)
        except ContractError as exc:
            raise ValueError(str(exc)) from exc


class HubSettings(_Section):
    db: Path = Field(
        Path("nursery.db"), description="SQLite database file (created with mode 0600)."
    )
    http_host: str = Field(
        "127.0.0.1",
        description="Address the dashboard and API listen on; `0.0.0.0` to reach it from phones.",
    )
    http_port: int = Field(8000, ge=1, le=65535, description="HTTP port of the dashboard and API.")
    client_id: str = Field(
        "nursery-hub",
        min_length=1,
        max_length=23,
        description="MQTT client id; fixed so the broker keeps the hub's session across restarts.",
    )
    batch_size: int = Field(
        500,
        ge=1,
        le=10000,
        description="Most readings stored in one database commit (readings that arrive "
        "while a commit runs share the next one).",
    )


class FirmwareSettings(_Section):
    room: str = Field("nursery", description="Room name used in topics (a-z, 0-9, `-`, `_`).")
    sensor: Literal["dht22", "dht11", "simulated"] = Field(
        "dht22", description="Sensor type: `dht22`, `dht11`, or `simulated` for a demo or test."
    )
    pin: int = Field(4, ge=0, le=27, description="BCM GPIO number of the DHT data pin.")
    scenario: Literal["steady", "cold-night", "flaky"] = Field(
        "steady",
        description="What the simulated sensor plays: `steady`, `cold-night` or `flaky`.",
    )
    interval_s: float = Field(
        10.0,
        gt=0,
        description="Seconds between readings; at least 2 for a DHT, any positive value "
        "when simulated.",
    )
    read_retries: int = Field(
        3, ge=0, le=10, description="Extra attempts when a DHT read fails, 2 s apart."
    )
    use_pulseio: bool = Field(
        True,
        description="Use the DHT driver's pulseio helper (faster, the Pi default); "
        "false bit-bangs.",
    )

    @_field_validator("room")
    @classmethod
    def _room(cls, value: str) -> str:
        try:
            return check_name("room", value)
        except ContractError as exc:
            raise ValueError(str(exc)) from exc

    @_field_validator("interval_s")
    @classmethod
    def _dht_interval(cls, value: float, info: ValidationInfo) -> float:
        sensor = info.data.get("sensor", "dht22")
        if sensor != "simulated" and value < DHT_MIN_INTERVAL_S:
            raise ValueError(
                f"must be at least {DHT_MIN_INTERVAL_S:g} for a {sensor} sensor "
                "(it cannot be read faster)"
            )
        return value


class RulesSettings(_Section):
    stale_after_s: float = Field(
        300.0,
        gt=0,
        description="Seconds without a valid reading after which a room shows as no data.",
    )


class Settings(BaseSettings):
    """The whole configuration; each process builds one and passes it down."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    mqtt: MqttSettings = Field(default_factory=MqttSettings, description="MQTT broker.")
    hub: HubSettings = Field(default_factory=HubSettings, description="The hub service.")
    firmware: FirmwareSettings = Field(
        default_factory=FirmwareSettings, description="The Pi in the nursery."
    )
    rules: RulesSettings = Field(default_factory=RulesSettings, description="Room rules.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init values; env vars must win over it.
        return (env_settings, init_settings)


SECTIONS: dict[str, type[_Section]] = {
    "mqtt": MqttSettings,
    "hub": HubSettings,
    "firmware": FirmwareSettings,
    "rules": RulesSettings,
}


def env_name(section: str, key: str) -> str:
    return f"{ENV_PREFIX}{section.upper()}__{key.upper()}"


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
        where = f"{key} ({env_name(loc[0], loc[1])})"
    elif len(loc) == 1 and loc[0] in SECTIONS:
        where = f"{loc[0]} ({ENV_PREFIX}{loc[0].upper()}__…)"
    else:
        where = ".".join(loc) or "settings"
    if error.get("type") == "extra_forbidden":
        return f"{where}: unknown setting"
    if error.get("type") == "missing":
        return f"{where}: required"
    given = error.get("input")
    shown = "" if isinstance(given, dict) or given is None else f" (got {str(given)[:60]!r})"
    if "password" in where:
        shown = ""
    return f"{where}: {message}{shown}"


def load_settings(config: Path | None = None) -> Settings:
    """Build the settings, or raise SettingsError with one line per bad key.

    `config` is the `--config` path; without it `./nursery.toml` is read when present.
    Environment variables are read from os.environ.
    """
    path = config if config is not None else DEFAULT_CONFIG_FILE
    values: dict[str, Any] = {}
    if config is not None and not path.is_file():
        raise SettingsError(f"--config {path}: no such file")
    if path.is_file():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path}: cannot read: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path}: not valid TOML: {exc}") from exc
    known = {env_name(section, key) for section, key, _ in all_keys()}
    unknown = sorted(k for k in os.environ if k.startswith(ENV_PREFIX) and k not in known)
    if unknown:
        raise SettingsError("\n".join(f"{name}: unknown setting" for name in unknown))
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise SettingsError("\n".join(_describe(e) for e in exc.errors())) from None
