"""Every table in the hub's SQLite file as this version creates it, in one place so that one
runner (hub/store/migrations.py) makes them all, first, whichever part opens the file."""

from __future__ import annotations

from typing import Final

# A table an older hub made keeps its columns until a numbered migration adds the missing
# ones; an index on a column added later belongs in that migration, not here.

# The history: rooms, boots, readings, hourly rollups, incidents, meta (hub/store).
STORE_TABLES: Final = """
CREATE TABLE IF NOT EXISTS rooms (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    status TEXT CHECK (status IN ('online', 'offline')),
    status_at_ms INTEGER,
    last_seen_ms INTEGER,
    fault_at_ms INTEGER,
    fault_error TEXT,
    fault_count INTEGER,
    health_json TEXT,
    health_at_ms INTEGER
);
CREATE TABLE IF NOT EXISTS boots (
    id INTEGER PRIMARY KEY,
    room_id INTEGER NOT NULL REFERENCES rooms(id),
    boot_id TEXT NOT NULL,
    contiguous_seq INTEGER NOT NULL DEFAULT -1,
    UNIQUE (room_id, boot_id)
);
CREATE TABLE IF NOT EXISTS readings (
    boot INTEGER NOT NULL REFERENCES boots(id),
    seq INTEGER NOT NULL,
    room_id INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    temperature_c REAL NOT NULL,
    humidity_pct REAL NOT NULL,
    PRIMARY KEY (boot, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_by_room_time ON readings (room_id, ts_ms);
CREATE TABLE IF NOT EXISTS hourly (
    room_id INTEGER NOT NULL REFERENCES rooms(id),
    hour_ms INTEGER NOT NULL,
    count INTEGER NOT NULL,
    temperature_sum REAL NOT NULL,
    temperature_min REAL NOT NULL,
    temperature_max REAL NOT NULL,
    humidity_sum REAL NOT NULL,
    humidity_min REAL NOT NULL,
    humidity_max REAL NOT NULL,
    PRIMARY KEY (room_id, hour_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY,
    room TEXT NOT NULL,
    condition TEXT NOT NULL,
    opened_at_ms INTEGER NOT NULL,
    since_ms INTEGER NOT NULL,
    value REAL,
    threshold REAL,
    worst REAL,
    minutes_to_cold REAL,
    notified_at_ms INTEGER,
    last_push_at_ms INTEGER,
    repeats INTEGER NOT NULL DEFAULT 0,
    escalated_at_ms INTEGER,
    acked_at_ms INTEGER,
    acked_by TEXT,
    acked_via TEXT,
    rearm_from REAL,
    snoozed_until_ms INTEGER,
    held INTEGER NOT NULL DEFAULT 0,
    resolved_at_ms INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS one_open_incident_per_condition
    ON incidents (room, condition) WHERE resolved_at_ms IS NULL;
CREATE INDEX IF NOT EXISTS incidents_by_time ON incidents (opened_at_ms);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# Caregivers, sessions and API tokens (hub/accounts.py).
ACCOUNT_TABLES: Final = """
CREATE TABLE IF NOT EXISTS caregivers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    last_login_ms INTEGER
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    caregiver_id INTEGER NOT NULL REFERENCES caregivers(id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    id INTEGER PRIMARY KEY,
    caregiver_id INTEGER NOT NULL REFERENCES caregivers(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    last_used_ms INTEGER,
    expires_ms INTEGER
);
"""

# Failed sign-ins per name and device (hub/login_lockout.py).
LOCKOUT_TABLES: Final = """
CREATE TABLE IF NOT EXISTS login_failures (
    name_digest TEXT NOT NULL,
    address TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_ms INTEGER NOT NULL,
    locked_until_ms INTEGER,
    PRIMARY KEY (name_digest, address)
) WITHOUT ROWID;
"""

# Push links already used (hub/notify/used_links.py).
USED_LINK_TABLES: Final = """
CREATE TABLE IF NOT EXISTS used_links (
    link_hash TEXT PRIMARY KEY,
    incident_id INTEGER NOT NULL,
    used_at_ms INTEGER NOT NULL,
    expires INTEGER NOT NULL
) WITHOUT ROWID;
"""

# The push outbox (hub/notify/outbox.py).
PUSH_TABLES: Final = """
CREATE TABLE IF NOT EXISTS pushes (
    id INTEGER PRIMARY KEY,
    created_at_ms INTEGER NOT NULL,
    url TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    priority TEXT NOT NULL CHECK (priority IN ('low', 'default', 'high', 'urgent')),
    tags TEXT NOT NULL,
    actions TEXT NOT NULL,
    incident_id INTEGER,
    bypass_rate_limit INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    sent_at_ms INTEGER,
    last_error TEXT,
    last_error_at_ms INTEGER
);
CREATE INDEX IF NOT EXISTS pushes_pending ON pushes (url, id) WHERE sent_at_ms IS NULL;
CREATE INDEX IF NOT EXISTS pushes_due ON pushes (next_attempt_ms) WHERE sent_at_ms IS NULL;
CREATE INDEX IF NOT EXISTS pushes_sent ON pushes (url, sent_at_ms) WHERE sent_at_ms IS NOT NULL;
"""

# The dashboard's choices and each caregiver's channels (hub/preferences.py).
PREFERENCE_TABLES: Final = """
CREATE TABLE IF NOT EXISTS preferences (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS caregiver_channels (
    id INTEGER PRIMARY KEY,
    caregiver_id INTEGER NOT NULL,
    label TEXT NOT NULL,
    url TEXT NOT NULL,
    UNIQUE (caregiver_id, url)
);
"""

# The nightly check-in's and summary's sent marks (hub/monitor/nightly_push.py).
NIGHTLY_TABLES: Final = """
CREATE TABLE IF NOT EXISTS nightly_sent (kind TEXT PRIMARY KEY, day TEXT NOT NULL);
"""

# The episode log (hub/episodes/).
EPISODE_TABLES: Final = """
CREATE TABLE IF NOT EXISTS episodes (
    id INTEGER PRIMARY KEY,
    room TEXT NOT NULL,
    started_at_ms INTEGER NOT NULL,
    ended_at_ms INTEGER,
    timed INTEGER NOT NULL,
    limbs TEXT NOT NULL DEFAULT '',
    alert INTEGER,
    state TEXT,
    cluster INTEGER NOT NULL DEFAULT 0,
    jerks INTEGER,
    fever INTEGER NOT NULL DEFAULT 0,
    fever_c REAL,
    vomiting INTEGER NOT NULL DEFAULT 0,
    poor_feeding INTEGER NOT NULL DEFAULT 0,
    notes TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    created_by INTEGER,
    created_at_ms INTEGER NOT NULL,
    updated_by INTEGER,
    updated_at_ms INTEGER NOT NULL,
    deleted_at_ms INTEGER,
    snap_reading_at_ms INTEGER,
    snap_temperature_c REAL,
    snap_humidity_pct REAL,
    snap_lowest_c REAL,
    snap_trend_c_per_h REAL,
    snap_minutes_below_cold REAL,
    snap_cold_below_c REAL,
    snap_cold_alert_open INTEGER,
    snap_readings INTEGER,
    floppy INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS episodes_by_start ON episodes (started_at_ms);
CREATE UNIQUE INDEX IF NOT EXISTS one_running_episode_per_room ON episodes (room)
    WHERE timed = 1 AND ended_at_ms IS NULL AND deleted_at_ms IS NULL;
CREATE TABLE IF NOT EXISTS episode_events (
    event_id TEXT PRIMARY KEY,
    room TEXT NOT NULL,
    action TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    episode_id INTEGER,
    outcome TEXT NOT NULL
);
"""

SCHEMA: Final = "".join(
    (
        STORE_TABLES,
        ACCOUNT_TABLES,
        LOCKOUT_TABLES,
        USED_LINK_TABLES,
        PUSH_TABLES,
        PREFERENCE_TABLES,
        NIGHTLY_TABLES,
        EPISODE_TABLES,
    )
)
