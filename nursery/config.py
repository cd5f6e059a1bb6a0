"""Settings for every nursery process: one typed object, built once from TOML and env.

Precedence, highest first: environment variables `NURSERY_<SECTION>__<KEY>`, then the TOML
file (`--config PATH`, else `./nursery.toml` when present), then the defaults below. Every
field carries a description; the README's configuration table lists them all and a test
keeps the two in step.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, Literal, get_origin
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic import field_validator as _field_validator

from firmware.contract import ContractError, check_base_topic, check_name
from nursery.mqtt_tls import MqttTlsError, load_ca, load_client_cert, tls_context
from nursery.well_known_passwords import is_well_known

ENV_PREFIX = "NURSERY_"
DEFAULT_CONFIG_FILE = Path("nursery.toml")
DHT_MIN_INTERVAL_S = 2.0
# The firmware's GPIO settings, in declaration order: no two may name the same pin.
PIN_KEYS = ("pin", "led_pin", "button_pin", "buzzer_pin", "power_pin", "cold_led_pin")
PIN_OFF = frozenset({"off", "none", ""})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_HOST_NAME_RE = re.compile(
    r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?"
)


class SettingsError(Exception):
    """Settings that cannot be used; the message is one line per bad key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttSettings(_Section):
    host: str = Field("localhost", description="MQTT broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="MQTT broker TCP port.")
    username: str | None = Field(None, description="MQTT user name; unset for anonymous.")
    password: SecretStr | None = Field(
        None,
        validate_default=True,
        description="MQTT password; never logged. Required with a user name; an empty or "
        "well-known one (`changeme`, `password`…) is refused.",
    )
    tls: bool = Field(
        False,
        description="Connect over TLS (the broker's TLS port, 8883 by convention), checking "
        "the broker's certificate and that it names host.",
    )
    ca_file: Path | None = Field(
        None,
        description="PEM file of the CA that signed the broker's certificate; unset for the "
        "system's CAs. Needs tls.",
    )
    cert_file: Path | None = Field(
        None,
        description="PEM client certificate, for a broker that asks for one (optional); needs tls.",
    )
    key_file: Path | None = Field(
        None,
        validate_default=True,
        description="PEM private key of cert_file, unencrypted and readable only by the "
        "service; unset when cert_file holds it.",
    )
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

    @_field_validator("password")
    @classmethod
    def _real_password(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """A login whose password is empty or a well-known default guards nothing."""
        if info.data.get("username") is None:
            return value
        secret = value.get_secret_value().strip() if value is not None else ""
        if not secret:
            raise ValueError(
                "is empty while mqtt.username is set: use the password the broker has for "
                "that user (scripts/install-pi writes a random one)"
            )
        if is_well_known(secret):
            raise ValueError("is a well-known default: give the broker user a random password")
        return value

    @_field_validator("ca_file", "cert_file")
    @classmethod
    def _tls_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        if not info.data.get("tls"):
            raise ValueError("needs mqtt.tls = true (NURSERY_MQTT__TLS=true)")
        try:
            if info.field_name == "ca_file":
                load_ca(tls_context(None), value)
            elif b"-----BEGIN CERTIFICATE-----" not in value.read_bytes():
                raise ValueError(f"{value} holds no PEM certificate")
        except MqttTlsError as exc:
            raise ValueError(exc.problem) from None
        except OSError as exc:
            raise ValueError(f"cannot read {value}: {exc.strerror or exc}") from None
        return value

    @_field_validator("key_file")
    @classmethod
    def _client_key(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        """The client certificate and its key are checked together: they must match."""
        cert_file = info.data.get("cert_file")
        if value is not None and cert_file is None:
            raise ValueError("needs mqtt.cert_file, the certificate this key belongs to")
        if cert_file is not None:
            try:
                load_client_cert(tls_context(None), cert_file, value)
            except MqttTlsError as exc:
                raise ValueError(exc.problem) from None
        return value


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
    session_ttl_s: float = Field(
        2592000.0,
        gt=0,
        description="Seconds a dashboard login lasts (30 days: a parent at 3 a.m. should not "
        "have to sign in).",
    )
    login_attempts: int = Field(
        5,
        ge=1,
        le=100,
        description="Wrong passwords in a row for one name from one device before that name "
        "is locked on that device.",
    )
    lockout_s: float = Field(
        900.0,
        gt=0,
        description="Seconds of the first lock after too many wrong passwords; each further "
        "wrong one doubles it, up to 16 times this.",
    )
    max_body_bytes: int = Field(
        262144,
        ge=4096,
        le=16777216,
        description="Largest request body the hub reads, in bytes; a larger one is refused "
        "with 413 before it is read (an episode with the longest notes is about 12 KB).",
    )
    demo_login: bool = Field(
        False,
        description="Sign every visitor in as the `demo` caregiver without a password; for "
        "`nursery demo` only, refused unless http_host is a loopback address.",
    )
    allowed_hosts: list[str] = Field(
        [],
        description="Host names the dashboard and API answer to besides their own (localhost, "
        "the machine's host name and `<hostname>.local`, notify.public_url's host, any IP "
        "address); other names get 400, against DNS rebinding. `*` for any. JSON list in env.",
    )

    @_field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if name != "*" and not _HOST_NAME_RE.fullmatch(name):
                raise ValueError(
                    f"{name!r} is not a host name: give names only, like nursery.local "
                    "(no http://, no port; IP addresses are always accepted), or * for any"
                )
        return value

    @model_validator(mode="after")
    def _demo_only_on_loopback(self) -> HubSettings:
        if self.demo_login and self.http_host not in LOOPBACK_HOSTS:
            raise ValueError(
                f"demo_login signs anyone in without a password, so http_host must be a "
                f"loopback address ({', '.join(sorted(LOOPBACK_HOSTS))}), not {self.http_host!r}"
            )
        return self


class FirmwareSettings(_Section):
    room: str = Field("nursery", description="Room name used in topics (a-z, 0-9, `-`, `_`).")
    sensor: Literal["dht22", "dht11", "simulated"] = Field(
        "dht22", description="Sensor type: `dht22`, `dht11`, or `simulated` for a demo or test."
    )
    pin: int = Field(4, ge=0, le=27, description="BCM GPIO number of the DHT data pin.")
    scenario: Literal["steady", "cold-night", "flaky", "hang"] = Field(
        "steady",
        description="What the simulated sensor plays: `steady`, `cold-night`, `flaky` or "
        "`hang` (a driver that stops returning).",
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

    outbox: Path = Field(
        Path("outbox.db"),
        description="SQLite file that keeps every reading until the hub confirms it stored it.",
    )
    outbox_cap_days: float = Field(
        30.0,
        gt=0,
        description="Most readings the outbox holds, in days of readings at interval_s; "
        "beyond it the oldest are dropped and counted.",
    )
    drain_per_s: float = Field(
        20.0,
        gt=0,
        description="Most backlog readings re-sent per second after an outage, so live "
        "readings keep flowing.",
    )
    health_every_s: float = Field(
        60.0, gt=0, description="Seconds between the firmware's health messages."
    )

    # The parts around the sensor (hardware/README.md). Declared in this order so each pin's
    # validator sees the pins before it, and a collision names the later key.
    led_pin: int | None = Field(
        17,
        ge=0,
        le=27,
        description="BCM GPIO number of the status LED (steady: the monitor reads and "
        "reaches the hub, which says nothing about the room's temperature; slow blink: hub "
        "unreachable; fast blink: sensor fault); `off` for none.",
    )
    button_pin: int | None = Field(
        27,
        ge=0,
        le=27,
        description="BCM GPIO number of the episode button (press: start, press again: stop, "
        "hold 2 s: episode now); `off` for none.",
    )
    buzzer_pin: int | None = Field(
        None,
        ge=0,
        le=27,
        description="BCM GPIO number of an active buzzer that chirps when the room is cold and "
        "the hub cannot be reached; unset for none.",
    )
    power_pin: int | None = Field(
        None,
        ge=0,
        le=27,
        description="BCM GPIO number that powers the DHT, so a hung sensor can be switched off "
        "and on again; unset when it runs from 3V3.",
    )
    cold_led_pin: int | None = Field(
        None,
        ge=0,
        le=27,
        description="BCM GPIO number of a second LED, lit while the room is cold; needs "
        "led_pin; unset for none.",
    )
    power_cycle_after: int = Field(
        5,
        ge=1,
        le=1000,
        description="Failed readings in a row (each after its retries) before the sensor is "
        "power-cycled through power_pin.",
    )
    power_cycle_cooldown_s: float = Field(
        600.0,
        ge=0,
        description="Seconds after a power cycle before the sensor may be cycled again.",
    )
    local_cold_below_c: float | None = Field(
        None,
        ge=-10,
        le=40,
        description="While the hub cannot be reached, the Pi itself calls the room cold below "
        "this (°C) for rules.cold_for_s; default rules.cold_below_c.",
    )
    buzzer_every_s: float = Field(
        300.0,
        gt=0,
        description="Seconds between two chirps of the buzzer while the room stays cold and "
        "the hub unreachable.",
    )
    hub_lost_after_s: float = Field(
        30.0,
        gt=0,
        description="Seconds a reading may wait for the hub's answer before the status LED "
        "shows the hub unreachable and the Pi judges the room itself; 30 rides out an "
        "ordinary hub restart (the hub answers within a second or two when up). A lost "
        "broker shows at once.",
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

    @_field_validator(
        "led_pin", "button_pin", "buzzer_pin", "power_pin", "cold_led_pin", mode="before"
    )
    @classmethod
    def _off(cls, value: object) -> object:
        """TOML has no null: `"off"` (or `"none"`, or an empty env var) means not fitted."""
        if isinstance(value, str) and value.strip().lower() in PIN_OFF:
            return None
        return value

    @_field_validator("led_pin", "button_pin", "buzzer_pin", "power_pin", "cold_led_pin")
    @classmethod
    def _one_use_per_pin(cls, value: int | None, info: ValidationInfo) -> int | None:
        """Two parts on one GPIO would fight over it: name the pin already taken."""
        if value is None:
            return None
        for key in PIN_KEYS:
            if key == info.field_name:
                break
            if info.data.get(key) == value:
                raise ValueError(f"GPIO{value} is already firmware.{key}")
        if info.field_name == "cold_led_pin" and info.data.get("led_pin") is None:
            raise ValueError("a cold LED needs the status LED too: set firmware.led_pin")
        return value

    def pins(self) -> dict[str, int | None]:
        """Every pin setting, the DHT's first: what `nursery firmware --check` reports."""
        return {key: getattr(self, key) for key in PIN_KEYS}


Preset = Literal["uk", "who", "us"]

# Published guidance: 16–20 °C for a sleeping baby (Lullaby Trust/NHS), 18 °C minimum
# (WHO), 20–22 °C (commonly cited in the US). cold/cool/warm thresholds per preset, in °C.
PRESETS: dict[str, dict[str, float]] = {
    "uk": {"cold_below_c": 16.0, "cool_below_c": 17.0, "warm_above_c": 20.0},
    "who": {"cold_below_c": 18.0, "cool_below_c": 19.0, "warm_above_c": 22.0},
    "us": {"cold_below_c": 20.0, "cool_below_c": 20.5, "warm_above_c": 22.0},
}
COLD_CLEAR_MARGIN_C = 0.5
# Thresholds that must keep their order, as (lower, higher): cold ≤ cool ≤ warm ≤ hot, and
# a cold alert clears at or above where it starts and no higher than the warm level. Equal
# is allowed: cool_below_c = cold_below_c turns the cool advisory off.
THRESHOLD_ORDER: tuple[tuple[str, str], ...] = (
    ("cold_below_c", "cool_below_c"),
    ("cool_below_c", "warm_above_c"),
    ("warm_above_c", "hot_above_c"),
    ("cold_below_c", "cold_clear_c"),
    ("cold_clear_c", "warm_above_c"),
)


def threshold_conflict(
    effective: Callable[[str], float], chosen: Collection[str] = ()
) -> tuple[str, str, str] | None:
    """The first pair of thresholds out of order, as (blamed key, lower key, higher key),
    or None. The blame falls on a key in `chosen` (the ones just set), the higher first."""
    for low, high in THRESHOLD_ORDER:
        if effective(low) > effective(high):
            blamed = high if high in chosen or low not in chosen else low
            return blamed, low, high
    return None


_QUIET_RE = re.compile(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d")
_HHMM_RE = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


class RulesSettings(_Section):
    preset: Preset = Field(
        "uk",
        description="Temperature guidance the thresholds start from: `uk` (16–20 °C, Lullaby "
        "Trust/NHS), `who` (18 °C minimum), `us` (20–22 °C).",
    )
    cold_below_c: float | None = Field(
        None, ge=-10, le=40, description="Cold alert below this (°C); default from the preset."
    )
    cold_clear_c: float | None = Field(
        None,
        ge=-10,
        le=40,
        description="A cold alert clears only at or above this (°C); default cold_below_c + 0.5.",
    )
    cold_for_s: float = Field(
        300.0,
        ge=0,
        description="Seconds the room must stay cold before the alert (and warm before it clears).",
    )
    cool_below_c: float | None = Field(
        None, ge=-10, le=40, description="Cool advisory below this (°C); default from the preset."
    )
    cool_for_s: float = Field(900.0, ge=0, description="Seconds cool before the advisory.")
    drop_c: float = Field(
        2.0, gt=0, le=20, description="A fall of at least this many °C is a fast drop."
    )
    drop_window_s: float = Field(
        1800.0, gt=0, description="Seconds within which a fall of drop_c is a fast drop."
    )
    warm_above_c: float | None = Field(
        None, ge=0, le=50, description="Warm advisory above this (°C); default from the preset."
    )
    warm_for_s: float = Field(900.0, ge=0, description="Seconds warm before the advisory.")
    hot_above_c: float = Field(24.0, ge=0, le=50, description="Hot alert above this (°C).")
    hot_for_s: float = Field(600.0, ge=0, description="Seconds hot before the alert.")
    humidity_low_pct: float = Field(
        40.0, ge=0, le=100, description="Humidity advisory below this (%RH)."
    )
    humidity_high_pct: float = Field(
        60.0, ge=0, le=100, description="Humidity advisory above this (%RH)."
    )
    humidity_for_s: float = Field(
        3600.0, ge=0, description="Seconds outside the humidity band before the advisory."
    )
    stale_after_s: float = Field(
        300.0,
        gt=0,
        description="Seconds without a valid reading after which a room shows as no data "
        "(an alert as urgent as cold).",
    )
    max_jump_c: float = Field(
        5.0,
        gt=0,
        description="A single reading this many °C away from the last one is ignored unless "
        "the next reading confirms it.",
    )
    replay_after_s: float = Field(
        120.0,
        gt=0,
        description="A reading measured this long before it arrived is a replay: stored, "
        "but it raises no alerts about the past.",
    )
    clock_skew_s: float = Field(
        60.0, gt=0, description="A device clock this many seconds ahead of the hub is flagged."
    )
    suspect_error_ratio: float = Field(
        0.3,
        gt=0,
        le=1,
        description="Share of failed or impossible readings in the last 30 min that marks the "
        "sensor as suspect.",
    )
    stuck_for_s: float = Field(
        1800.0,
        gt=0,
        description="Temperature and humidity both unchanged this long marks the sensor as "
        "suspect.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> RulesSettings:
        # Each message starts with the key to blame: _describe turns it into `rules.key`.
        conflict = threshold_conflict(self.effective, self.set_thresholds())
        if conflict is not None:
            blamed, low, high = conflict
            other = high if blamed == low else low
            side = "above" if blamed == low else "below"
            raise ValueError(
                f"{blamed}: {self.effective(blamed):g} °C must not be {side} rules.{other} "
                f"({self.effective(other):g} °C{self._origin(other)}): the order is cold, "
                "cool, warm, hot"
                + (
                    ", and a cold alert clears between cold and warm"
                    if "clear" in low + high
                    else ""
                )
            )
        if self.humidity_low_pct >= self.humidity_high_pct:
            raise ValueError(
                f"humidity_low_pct: {self.humidity_low_pct:g} % must be below "
                f"rules.humidity_high_pct ({self.humidity_high_pct:g} %)"
            )
        return self

    def set_thresholds(self) -> set[str]:
        """The thresholds given a value, rather than left to the preset."""
        return {key for key in self.model_fields_set if getattr(self, key) is not None}

    def _origin(self, key: str) -> str:
        if key in self.set_thresholds():
            return ""
        if key == "cold_clear_c":
            return f", cold_below_c + {COLD_CLEAR_MARGIN_C:g}"
        return f", the {self.preset} preset's" if key in PRESETS[self.preset] else ", the default"

    def effective(self, key: str) -> float:
        """A threshold with the preset filled in where the setting is unset."""
        value = getattr(self, key)
        if value is not None:
            return float(value)
        if key == "cold_clear_c":
            return self.effective("cold_below_c") + COLD_CLEAR_MARGIN_C
        return PRESETS[self.preset][key]


class AlertsSettings(_Section):
    repeat_after_s: list[float] = Field(
        [600.0, 1200.0, 1800.0],
        description="Seconds after the first push at which an unacknowledged alert is repeated "
        '(JSON list in env: `"[600, 1200, 1800]"`).',
    )
    repeat_every_s: float = Field(
        1800.0, gt=0, description="After the listed repeats, repeat this often until acknowledged."
    )
    escalate_after_s: float = Field(
        900.0,
        gt=0,
        description="Seconds without an acknowledgement before the second caregiver is paged.",
    )
    rearm_c: float = Field(
        1.0,
        gt=0,
        description="An acknowledged or snoozed alert pages again when the room gets this many "
        "°C further from the threshold.",
    )
    max_per_hour: int = Field(
        6,
        ge=1,
        description="Most pushes per channel per hour; a more severe alert still goes through.",
    )
    quiet_hours: str | None = Field(
        None,
        description="Local hours (`22:00-07:00`) when advisories wait; cold, hot and no-data "
        "alerts are never held.",
    )

    checkin_at: str | None = Field(
        None,
        description="Local time (`19:30`) of a bedtime check-in push to every caregiver: the "
        "room now, who is paged, a warming reminder when recent nights were cold; unset: off.",
    )
    summary_at: str | None = Field(
        None,
        description="Local time (`07:00`) of a morning summary push of last night: range, "
        "minutes outside the band, alerts and who answered, any gaps; unset: off.",
    )

    @_field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str | None) -> str | None:
        if value is not None and not _QUIET_RE.fullmatch(value):
            raise ValueError("must be HH:MM-HH:MM in 24-hour local time, like 22:00-07:00")
        return value

    @_field_validator("checkin_at", "summary_at")
    @classmethod
    def _daily_time(cls, value: str | None) -> str | None:
        if value is not None and not _HHMM_RE.fullmatch(value):
            raise ValueError("must be HH:MM in 24-hour local time, like 19:30")
        return value


class NotifySettings(_Section):
    urls: list[str] = Field(
        [],
        description="Apprise URLs every alert goes to (ntfy, Pushover, Telegram, Gotify, email, "
        "Home Assistant…); JSON list in env.",
    )
    caregivers: list[list[str]] = Field(
        [],
        description="Ordered caregivers, each a list of Apprise URLs; the second is paged on "
        "escalation. JSON list of lists in env.",
    )
    public_url: str | None = Field(
        None,
        description="Where phones reach the hub (`http://nursery.local:8000`), for the "
        "acknowledge and snooze buttons in pushes.",
    )
    link_ttl_s: float = Field(
        21600.0, gt=0, description="Seconds an acknowledge link in a push stays valid."
    )
    timeout_s: float = Field(
        10.0, gt=0, le=120, description="Seconds one push may take before it counts as failed."
    )
    heartbeat_urls: list[str] = Field(
        [],
        description="Dead man's switch: URLs the hub pings while it is healthy (Healthchecks, "
        "Uptime Kuma push monitors, or any URL for a plain GET), so a service pages you when "
        "the pings stop; JSON list in env.",
    )
    heartbeat_every_s: float = Field(
        60.0, ge=0.2, le=3600, description="Seconds between two heartbeat pings."
    )

    @_field_validator("heartbeat_urls")
    @classmethod
    def _heartbeat_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                # The URL may hold the check's secret: name its position, not its text.
                raise ValueError(
                    f"entry {urls.index(url) + 1} is not an http:// or https:// address"
                )
        return urls


class HomeAssistantSettings(_Section):
    discovery: bool = Field(
        True, description="Announce every room to Home Assistant by MQTT discovery."
    )
    prefix: str = Field(
        "homeassistant", description="Home Assistant's discovery prefix (its MQTT setting)."
    )
    per_entity: bool = Field(
        False,
        description="One discovery message per entity, for Home Assistant older than "
        "2024.12, instead of one per device.",
    )
    remove: bool = Field(
        False,
        description="Remove the entities: publish empty retained discovery messages at "
        "start, and announce nothing.",
    )

    @_field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        try:
            return check_base_topic(value)
        except ContractError as exc:
            raise ValueError(str(exc)) from exc


_EMERGENCY_RE = re.compile(r"\d{2,6}")


class EpisodesSettings(_Section):
    frequent_count: int = Field(
        3,
        ge=2,
        le=50,
        description="This many episodes within frequent_window_s make the episode log "
        "suggest calling the pediatrician.",
    )
    frequent_window_s: float = Field(
        86400.0,
        ge=3600,
        le=7 * 86400,
        description="Seconds within which frequent_count episodes count as frequent "
        "(default 24 h).",
    )
    emergency_number: str = Field(
        "112",
        description="Emergency number the episode log shows for a floppy or unresponsive "
        "baby or clusters of spasms: 112 across Europe, 911 in the US and Canada, 999 in "
        "the UK.",
    )

    @_field_validator("emergency_number")
    @classmethod
    def _emergency_number(cls, value: str) -> str:
        value = value.strip()
        if not _EMERGENCY_RE.fullmatch(value):
            raise ValueError("must be the 2 to 6 digits you dial, like 112 or 911")
        return value


class Settings(BaseModel):
    """The whole configuration; each process builds one and passes it down.

    `load_settings()` builds it from the TOML file and the environment; `Settings(...)` itself
    takes only the values it is given and never reads the environment.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mqtt: MqttSettings = Field(default_factory=MqttSettings, description="MQTT broker.")
    hub: HubSettings = Field(default_factory=HubSettings, description="The hub service.")
    firmware: FirmwareSettings = Field(
        default_factory=FirmwareSettings, description="The Pi in the nursery."
    )
    rules: RulesSettings = Field(default_factory=RulesSettings, description="Room rules.")
    alerts: AlertsSettings = Field(default_factory=AlertsSettings, description="Alert lifecycle.")
    notify: NotifySettings = Field(default_factory=NotifySettings, description="Push delivery.")
    homeassistant: HomeAssistantSettings = Field(
        default_factory=HomeAssistantSettings, description="Home Assistant discovery."
    )
    episodes: EpisodesSettings = Field(
        default_factory=EpisodesSettings, description="The parent's episode log."
    )


SECTIONS: dict[str, type[_Section]] = {
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
        where = f"{key} ({env_name(loc[0], loc[1])})"
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
    shown = "" if isinstance(given, dict) or given is None else f" (got {str(given)[:60]!r})"
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
        if not is_setting_variable(name):
            continue
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


def load_settings(config: Path | None = None) -> Settings:
    """Build the settings, or raise SettingsError with one line per bad key.

    `config` is the `--config` path; without it `./nursery.toml` is read when present.
    Environment variables are read from os.environ, here and nowhere else.
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
