"""What the caregivers change from the dashboard: the temperature guidance (preset and
thresholds), °C or °F, and each caregiver's own push channels."""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from contract.errors import NurseryError
from hub import messages
from hub.notify.redaction import redact_url
from hub.store.dbfile import connect_private, write_transaction
from hub.store.migrations import migrate
from mqttlink.rules_settings import PRESETS, RulesSettings, threshold_conflict

Unit = Literal["C", "F"]
UNITS: tuple[Unit, ...] = ("C", "F")
THRESHOLDS = ("cold_below_c", "cool_below_c", "warm_above_c", "hot_above_c")
EDITABLE = ("unit", "preset", *THRESHOLDS)
MAX_CHANNELS = 10
MAX_ROOM_NAME = 40


class PreferenceError(NurseryError, ValueError):
    """A choice that cannot be used; `field` names it, as the form does."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class UnknownChannel(PreferenceError, LookupError):
    """The caregiver has no push channel with that id."""


@dataclass(frozen=True, slots=True)
class Channel:
    id: int
    caregiver_id: int
    label: str
    url: str

    @property
    def shown(self) -> str:
        """For a page or a log: the service and host, never the token in the URL."""
        return redact_url(self.url)


@dataclass(frozen=True, slots=True)
class Household:
    """The settings in force: the configuration with the dashboard's choices on top."""

    unit: Unit
    rules: RulesSettings
    chosen: Mapping[str, Any]  # what the dashboard set, by key
    caregiver_channels: tuple[tuple[str, ...], ...]  # per caregiver in order, their URLs

    def source(self, key: str, base: RulesSettings) -> Literal["dashboard", "config", "preset"]:
        """Where a threshold's value comes from, for the settings page."""
        if key in self.chosen:
            return "dashboard"
        # A field with a fixed default (hot_above_c) is the preset's unless the file set it.
        configured = key in base.model_fields_set and getattr(base, key) is not None
        return "config" if configured else "preset"


def check_channel_url(url: str) -> str:
    url = url.strip()
    if not url or len(url) > 2000:
        raise PreferenceError("url", "give an Apprise URL, like ntfys://ntfy.sh/your-topic")
    import apprise  # only when a channel is added

    from hub.notify.apprise_plugins import service

    try:
        usable = service(url, apprise.AppriseAsset()) is not None
    except Exception:  # a plugin may raise on a malformed URL
        usable = False
    if not usable:
        raise PreferenceError(
            "url",
            f"{redact_url(url)} is not a notification URL Apprise knows; see "
            "https://github.com/caronc/apprise/wiki for the format of your service",
        )
    return url


def _bounds(key: str) -> tuple[float, float]:
    """A threshold's allowed range (°C), from the setting's own ge/le."""
    low, high = -math.inf, math.inf
    for rule in RulesSettings.model_fields[key].metadata:
        low = float(getattr(rule, "ge", low))
        high = float(getattr(rule, "le", high))
    return low, high


def effective_rules(
    base: RulesSettings,
    chosen: Mapping[str, Any],
    changed: tuple[str, ...] = (),
    unit: Unit = "C",
) -> RulesSettings:
    """`base` with the chosen preset and thresholds; PreferenceError naming the field, in
    plain words and in `unit`. Two thresholds out of order are blamed on the one just
    `changed`, and the message gives both values."""
    values = base.model_dump()
    values.update({k: v for k, v in chosen.items() if k != "unit"})
    for key in THRESHOLDS:
        low, high = _bounds(key)
        value = values.get(key)
        if value is not None and not low <= value <= high:
            raise PreferenceError(key, messages.threshold_range(key, low, high, unit))
    unchecked = RulesSettings.model_construct(**values)
    conflict = threshold_conflict(unchecked.effective, [*changed, *chosen])
    if conflict is not None:
        blamed, low_key, high_key = conflict
        other = high_key if blamed == low_key else low_key
        if blamed not in THRESHOLDS:  # the configuration's cold_clear_c: not on the page
            blamed, other = other, blamed
        message = messages.threshold_order(
            blamed, unchecked.effective(blamed), other, unchecked.effective(other), unit
        )
        raise PreferenceError(blamed, message)
    try:
        return RulesSettings(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [str(part) for part in error.get("loc", ())]
        suspects = [k for k in (*changed, *chosen) if k != "unit"]
        field = loc[0] if loc else next(iter(suspects), "preset")
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        raise PreferenceError(field, message) from None


class Preferences:
    """Reads and writes the dashboard's choices; `household()` is cheap (kept in memory)."""

    def __init__(
        self,
        path: Path,
        base: RulesSettings,
        caregiver_order: Callable[[], list[int]],
    ) -> None:
        self._base = base
        self._caregiver_order = caregiver_order
        self._lock = threading.Lock()
        self._db = connect_private(path)
        migrate(self._db)
        self._listeners: list[Callable[[Household], None]] = []
        self._household = self._load()

    @property
    def base(self) -> RulesSettings:
        return self._base

    def close(self) -> None:
        messages.use_room_names({})
        with self._lock:
            self._db.close()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(self._db, self._lock)

    def _chosen(self) -> dict[str, Any]:
        with self._lock:
            rows = self._db.execute("SELECT key, value FROM preferences").fetchall()
        return {str(k): json.loads(v) for k, v in rows if k in EDITABLE}

    def _load(self) -> Household:
        chosen = self._chosen()
        try:
            rules = effective_rules(self._base, chosen)
        except PreferenceError:
            # The configuration changed under a saved choice: the configuration wins.
            chosen = {k: v for k, v in chosen.items() if k == "unit"}
            rules = self._base
        unit: Unit = "F" if chosen.get("unit") == "F" else "C"
        messages.use_room_names(self.room_names())
        return Household(unit, rules, chosen, self._channel_groups())

    def household(self) -> Household:
        return self._household

    def on_change(self, listener: Callable[[Household], None]) -> None:
        """Call `listener` with the new household after every change (the monitor)."""
        self._listeners.append(listener)

    def _changed(self) -> Household:
        self._household = self._load()
        for listener in self._listeners:
            listener(self._household)
        return self._household

    def update(self, changes: Mapping[str, Any]) -> Household:
        """Apply the dashboard's changes; a None threshold goes back to the preset (or
        the configuration). A new preset clears the thresholds chosen for the old one."""
        chosen, _ = self.proposed(changes)  # refuse before saving
        with self._tx() as db:
            db.execute("DELETE FROM preferences")
            db.executemany(
                "INSERT INTO preferences (key, value) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in chosen.items()],
            )
        return self._changed()

    def proposed(self, changes: Mapping[str, Any]) -> tuple[dict[str, Any], RulesSettings]:
        """What `update` would save, and the rules it would put in force, saving nothing
        (the settings page's preview); PreferenceError naming the field as `update`."""
        unknown = [k for k in changes if k not in EDITABLE]
        if unknown:
            raise PreferenceError(unknown[0], f"{unknown[0]} cannot be changed here")
        chosen = dict(self._household.chosen)
        if "unit" in changes:
            if changes["unit"] not in UNITS:
                raise PreferenceError("unit", "unit must be C or F")
            chosen["unit"] = changes["unit"]
        if "preset" in changes:
            if changes["preset"] not in PRESETS:
                raise PreferenceError("preset", f"preset must be one of {', '.join(PRESETS)}")
            if changes["preset"] != self._household.rules.preset:
                for key in THRESHOLDS:
                    chosen.pop(key, None)
            chosen["preset"] = changes["preset"]
        for key in THRESHOLDS:
            if key not in changes:
                continue
            value = changes[key]
            if value is None:
                chosen.pop(key, None)
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise PreferenceError(key, messages.threshold_number(key))
            else:
                chosen[key] = round(float(value), 2)
        unit: Unit = "F" if chosen.get("unit") == "F" else "C"
        return chosen, effective_rules(self._base, chosen, tuple(changes), unit)

    # --- room names -------------------------------------------------------------------

    def room_names(self) -> dict[str, str]:
        """The rooms the caregivers named, by their name in topics."""
        with self._lock:
            rows = self._db.execute("SELECT room, name FROM room_names").fetchall()
        return {str(room): str(name) for room, name in rows}

    def name_room(self, room: str, name: str) -> Household:
        """Call `room` by `name` on every page and push; an empty name goes back to the
        room's own (from its topic)."""
        name = " ".join(name.split())
        if len(name) > MAX_ROOM_NAME or not name.isprintable():
            raise PreferenceError("name", messages.room_name_refused(MAX_ROOM_NAME))
        with self._tx() as db:
            if name:
                db.execute(
                    "INSERT INTO room_names (room, name) VALUES (?, ?)"
                    " ON CONFLICT(room) DO UPDATE SET name = excluded.name",
                    (room, name),
                )
            else:
                db.execute("DELETE FROM room_names WHERE room = ?", (room,))
        return self._changed()

    # --- channels ---------------------------------------------------------------------

    def channels(self, caregiver_id: int) -> list[Channel]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, caregiver_id, label, url FROM caregiver_channels "
                "WHERE caregiver_id = ? ORDER BY id",
                (caregiver_id,),
            ).fetchall()
        return [Channel(int(r[0]), int(r[1]), str(r[2]), str(r[3])) for r in rows]

    def channel(self, caregiver_id: int, channel_id: int) -> Channel:
        for channel in self.channels(caregiver_id):
            if channel.id == channel_id:
                return channel
        raise UnknownChannel("channel_id", f"you have no channel {channel_id}")

    def add_channel(self, caregiver_id: int, url: str, label: str) -> Channel:
        url = check_channel_url(url)
        label = label.strip()[:40] or redact_url(url).split(" #")[0]
        if len(self.channels(caregiver_id)) >= MAX_CHANNELS:
            raise PreferenceError("url", f"at most {MAX_CHANNELS} channels per caregiver")
        try:
            with self._tx() as db:
                cursor = db.execute(
                    "INSERT INTO caregiver_channels (caregiver_id, label, url) VALUES (?, ?, ?)",
                    (caregiver_id, label, url),
                )
        except sqlite3.IntegrityError:
            raise PreferenceError("url", "you have this channel already") from None
        self._changed()
        return Channel(int(cursor.lastrowid or 0), caregiver_id, label, url)

    def remove_channel(self, caregiver_id: int, channel_id: int) -> None:
        self.channel(caregiver_id, channel_id)
        with self._tx() as db:
            db.execute("DELETE FROM caregiver_channels WHERE id = ?", (channel_id,))
        self._changed()

    def _channel_groups(self) -> tuple[tuple[str, ...], ...]:
        """Each caregiver's URLs, first caregiver first; those without channels left out."""
        with self._lock:
            rows = self._db.execute(
                "SELECT caregiver_id, url FROM caregiver_channels ORDER BY id"
            ).fetchall()
        by_caregiver: dict[int, list[str]] = {}
        for caregiver_id, url in rows:
            by_caregiver.setdefault(int(caregiver_id), []).append(str(url))
        return tuple(tuple(by_caregiver[c]) for c in self._caregiver_order() if c in by_caregiver)
