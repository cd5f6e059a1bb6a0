"""The retained hub-storage payload (`<base>/hub/storage`): can the hub save, and if not, why."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from contract.fields import _obj, _str, format_ts, parse_ts
from contract.topics import CONTRACT_VERSION, ContractError

StorageState = Literal["ok", "cannot_save"]
STORAGE_PROBLEMS: Final = ("full", "read_only", "io")


@dataclass(frozen=True, slots=True)
class HubStorageMessage:
    """`{"v": 1, "state": "cannot_save", "problem": "full", "since": "…Z"}`, or `"ok"`.

    `problem`: `full` (no space left), `read_only` (the filesystem turned read-only),
    `io` (writes fail with an I/O error).
    """

    state: StorageState
    problem: str | None = None
    since: datetime | None = None

    def __post_init__(self) -> None:
        if self.state not in ("ok", "cannot_save"):
            raise ContractError("state must be ok or cannot_save")
        if self.state == "cannot_save" and self.problem not in STORAGE_PROBLEMS:
            raise ContractError(f"problem must be one of {', '.join(STORAGE_PROBLEMS)}")

    def encode(self) -> bytes:
        data: dict[str, object] = {"v": CONTRACT_VERSION, "state": self.state}
        if self.problem is not None:
            data["problem"] = self.problem
        if self.since is not None:
            data["since"] = format_ts(self.since)
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, payload: bytes) -> HubStorageMessage:
        data = _obj(payload)
        state = _str(data, "state")
        if state not in ("ok", "cannot_save"):
            raise ContractError("state must be ok or cannot_save")
        problem = data.get("problem")
        since = data.get("since")
        return cls(
            "ok" if state == "ok" else "cannot_save",
            problem if isinstance(problem, str) else None,
            parse_ts(since, "since") if since is not None else None,
        )
