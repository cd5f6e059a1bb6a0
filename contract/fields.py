"""Timestamps and the field readers every payload decoder shares: one error for all."""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import UTC, datetime
from typing import Any, Final

from contract.topics import (
    CONTRACT_VERSION,
    MAX_PAYLOAD_BYTES,
    NAME_RE,
    ContractError,
)

# --- time ---------------------------------------------------------------------------

_TS_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


def format_ts(ts: datetime) -> str:
    """UTC ISO 8601 with a 'Z', milliseconds kept when present."""
    if ts.tzinfo is None:
        raise ContractError("timestamps must be timezone-aware")
    ts = ts.astimezone(UTC)
    if ts.microsecond:
        return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(value: object, field: str = "ts") -> datetime:
    """Parse an ISO 8601 timestamp that carries its offset ('Z' or ±hh:mm) into UTC."""
    if not isinstance(value, str) or not _TS_RE.fullmatch(value):
        raise ContractError(f"{field} must be an ISO 8601 UTC time like 2026-11-23T18:00:00Z")
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    # Python's parser takes at most 6 fractional digits.
    match = re.match(r"^(.*\.\d{6})\d+(.*)$", text)
    if match:
        text = match.group(1) + match.group(2)
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # Overflow: year 1 or 9999 off UTC
        raise ContractError(f"{field} is not a valid time: {exc}") from exc


# --- payloads -----------------------------------------------------------------------


def json_object(
    payload: bytes, max_bytes: int = MAX_PAYLOAD_BYTES, error: type[ContractError] = ContractError
) -> dict[str, Any]:
    """`payload` as a JSON object of at most `max_bytes`; `error` (a ContractError) says why
    not. Also for other systems' payloads (hub/sources), with their own limit and error."""
    if len(payload) > max_bytes:
        raise error(f"payload is {len(payload)} bytes, more than {max_bytes}")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise error(f"payload is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise error("payload must be a JSON object")
    return data


def _obj(payload: bytes) -> dict[str, Any]:
    data = json_object(payload)
    version = data.get("v")
    if version != CONTRACT_VERSION or isinstance(version, bool):
        raise ContractError(f"v must be {CONTRACT_VERSION}, got {version!r}")
    return data


def _str(data: dict[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str):
        raise ContractError(f"{field} must be a string")
    return value


def _int(data: dict[str, Any], field: str, minimum: int = 0) -> int:
    value = data.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value < 2**63:
        raise ContractError(f"{field} must be an integer from {minimum}")
    return value


def _number(data: dict[str, Any], field: str, bounds: tuple[float, float]) -> float:
    value = data.get(field)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ContractError(f"{field} must be a number")
    number = float(value)
    if not math.isfinite(number) or not bounds[0] <= number <= bounds[1]:
        raise ContractError(f"{field} must be between {bounds[0]:g} and {bounds[1]:g}")
    return number


def _optional_number(data: dict[str, Any], field: str, bounds: tuple[float, float]) -> float | None:
    """An optional field: absent or null is None, anything else must be a number in bounds."""
    return None if data.get(field) is None else _number(data, field, bounds)


def _optional_bool(data: dict[str, Any], field: str) -> bool | None:
    value = data.get(field)
    if value is not None and not isinstance(value, bool):
        raise ContractError(f"{field} must be true, false or null")
    return value


def _optional_counts(data: dict[str, Any], field: str) -> dict[str, int] | None:
    """An optional object of at most 16 named counts (names as room names: a-z, 0-9, _ and -)."""
    counts = data.get(field)
    if counts is None:
        return None
    if not isinstance(counts, dict) or len(counts) > 16:
        raise ContractError(f"{field} must be an object of at most 16 counts")
    parsed: dict[str, int] = {}
    for name, count in counts.items():
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            raise ContractError(f"{field} has a bad name {str(name)[:40]!r}")
        parsed[name] = _int({field: count}, field)
    return parsed


def _boot_id(data: dict[str, Any]) -> str:
    value = _str(data, "boot_id")
    try:
        parsed = uuid.UUID(value)
    except ValueError as exc:
        raise ContractError("boot_id must be a UUID") from exc
    return str(parsed)
