"""The hub's settings: its own sections, and the ones its process shares with the Pi."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic import field_validator as _field_validator

from contract.topics import ContractError, check_base_topic
from hub.sources.settings import SourceSettings, check_sources
from mqttlink.rules_settings import RulesSettings
from mqttlink.settings import MqttSettings, Section

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_HOST_NAME_RE = re.compile(
    r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?"
)


class HubSettings(Section):
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
    sources: list[SourceSettings] = Field(
        [],
        description="Rooms fed by another system's sensor over MQTT: each `{room, kind, "
        "device}`, kind `zigbee2mqtt`, `esphome`, `shelly` or `tasmota` (docs/sources.md). "
        "JSON list in env.",
    )

    @_field_validator("sources")
    @classmethod
    def _sources(cls, value: list[SourceSettings]) -> list[SourceSettings]:
        return check_sources(value)

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


_QUIET_RE = re.compile(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d")
_HHMM_RE = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


class AlertsSettings(Section):
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


class NotifySettings(Section):
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
    ntfy_server: str = Field(
        "https://ntfy.sh",
        description="The ntfy server the settings page's QR code subscribes a phone on "
        "(`https://ntfy.sh`, or your own, like `https://ntfy.example.com`).",
    )
    channel_check_every_s: float = Field(
        604800.0,
        ge=0,
        description="A caregiver's channel that has had no push for this many seconds gets "
        "a quiet check push, so one that stopped working is found (0: never).",
    )
    channel_failing_after_s: float = Field(
        900.0,
        ge=0,
        description="Seconds a channel's pushes must keep failing before the other "
        "caregivers are told, once.",
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

    @_field_validator("ntfy_server")
    @classmethod
    def _ntfy_server(cls, server: str) -> str:
        parts = urlsplit(server.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// address, like https://ntfy.sh")
        if parts.path.strip("/") or parts.query or parts.username:
            raise ValueError("must be the server's address alone, like https://ntfy.example.com")
        return f"{parts.scheme}://{parts.netloc}"

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


class HomeAssistantSettings(Section):
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


class EpisodesSettings(Section):
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


class HubConfig(BaseModel):
    """What the hub process reads: the broker, the room rules and the hub's own sections."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mqtt: MqttSettings = Field(default_factory=MqttSettings, description="MQTT broker.")
    hub: HubSettings = Field(default_factory=HubSettings, description="The hub service.")
    rules: RulesSettings = Field(default_factory=RulesSettings, description="Room rules.")
    alerts: AlertsSettings = Field(default_factory=AlertsSettings, description="Alert lifecycle.")
    notify: NotifySettings = Field(default_factory=NotifySettings, description="Push delivery.")
    homeassistant: HomeAssistantSettings = Field(
        default_factory=HomeAssistantSettings, description="Home Assistant discovery."
    )
    episodes: EpisodesSettings = Field(
        default_factory=EpisodesSettings, description="The parent's episode log."
    )
