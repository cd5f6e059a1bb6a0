"""The days a pattern or report covers, in the caregiver's time zone, and its room."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contract.errors import NurseryError
from hub.episodes.validation import FieldError

DEFAULT_REPORT_DAYS: Final = 14
MAX_DAYS: Final = 366


class PeriodInvalid(NurseryError, ValueError):
    """A period that cannot be shown: its one error names the query field."""

    def __init__(self, error: FieldError) -> None:
        super().__init__(f"{error.field}: {error.message}")
        self.error = error


@dataclass(frozen=True, slots=True)
class Period:
    """The days a pattern or report covers, in the caregiver's time zone, and its room."""

    first: date
    last: date
    zone: tzinfo
    zone_name: str
    room: str | None

    def query(self) -> str:
        """The same period as a query string, for the report's own links."""
        values = {"since": self.first.isoformat(), "until": self.last.isoformat()}
        values["tz"] = self.zone_name
        if self.room:
            values["room"] = self.room
        return urlencode(values)


def local_zone() -> tuple[tzinfo, str]:
    """The hub's own time zone (TZ, else /etc/localtime), else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name), name
        except (ZoneInfoNotFoundError, ValueError):
            pass
    localtime = Path("/etc/localtime")
    try:
        with localtime.open("rb") as handle:
            zone = ZoneInfo.from_file(handle)
        target = str(localtime.resolve())
        marker = "/zoneinfo/"
        return zone, target.split(marker, 1)[1] if marker in target else "local time"
    except (OSError, ValueError):
        return UTC, "UTC"


def zone_of(tz: str | None) -> tuple[tzinfo, str]:
    """The named IANA zone, or the hub's own; PeriodInvalid naming `tz` when unknown."""
    if not tz:
        return local_zone()
    try:
        return ZoneInfo(tz), tz
    except (ZoneInfoNotFoundError, ValueError) as exc:
        error = FieldError("tz", "episode.bad_tz", f"{tz!r} is not a known time zone")
        raise PeriodInvalid(error) from exc


def check_period(first_day: date, last_day: date) -> str | None:
    """Why the period cannot be reported (naming `until`), or None."""
    if last_day < first_day:
        return "until is before since"
    if (last_day - first_day).days + 1 > MAX_DAYS:
        return f"a report covers at most {MAX_DAYS} days"
    return None


def asked_period(
    now: datetime, since: date | None, until: date | None, tz: str | None, room: str | None
) -> Period:
    """The days asked for (by default the last DEFAULT_REPORT_DAYS up to today in the
    zone), or PeriodInvalid naming the query field that is wrong."""
    zone, name = zone_of(tz)
    for field, day in (("since", since), ("until", until)):
        # Days near year 1 or 9999 would overflow the date arithmetic below.
        if day is not None and not date(1970, 1, 1) <= day <= date(9999, 12, 1):
            bad = f"{field} must be a day from 1970-01-01 to 9999-12-01"
            raise PeriodInvalid(FieldError(field, "episode.bad_period", bad))
    last = until or now.astimezone(zone).date()
    first = since or last - timedelta(days=DEFAULT_REPORT_DAYS - 1)
    problem = check_period(first, last)
    if problem:
        raise PeriodInvalid(FieldError("until", "episode.bad_period", problem))
    return Period(first, last, zone, name, room)
