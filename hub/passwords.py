"""Argon2 for the caregivers' passwords, loaded at the first one (0.4 MiB a hub that only
ingests need not hold)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argon2 import PasswordHasher


@functools.cache
def hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def verify(hashed: str, password: str) -> bool:
    """The password matches the hash; False for a wrong one or a hash Argon2 cannot read."""
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return hasher().verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
