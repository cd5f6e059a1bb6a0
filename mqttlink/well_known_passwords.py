"""The passwords guessing tools try first: one list and one check, for the broker logins in
the settings and for the caregivers' sign-in passwords alike."""

from __future__ import annotations

WELL_KNOWN_PASSWORDS = frozenset(
    {"changeme", "change-me", "password", "passw0rd", "secret", "admin", "default", "mqtt"}
    | {"nursery", "public", "letmein", "123456", "12345678", "qwerty"}
    # Also long enough for a caregiver's password (at least 8 characters):
    | {"password1", "password123", "123456789", "1234567890", "87654321", "qwerty123"}
    | {"qwertyuiop", "iloveyou", "abcd1234", "abc12345", "trustno1", "welcome1", "sunshine"}
    | {"princess", "football", "baseball", "superman", "letmein1", "administrator"}
    | {"raspberry", "nurserymonitor", "nursery-monitor", "babymonitor", "changeme1"}
)


def is_well_known(password: str) -> bool:
    """True for a password on the list (whatever its case or surrounding spaces), or one
    character over and over (`aaaaaaaa`, `11111111`): either is among the first guesses."""
    folded = password.strip().lower()
    return folded in WELL_KNOWN_PASSWORDS or len(set(folded)) == 1
