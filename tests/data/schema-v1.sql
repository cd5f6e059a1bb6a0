-- The first released schema: version 1, the first user_version the hub wrote (693ff35),
-- as it stood when version 2 replaced it (bea16bc^ = 94fa72c): the store's tables from
-- hub/store.py and the push outbox's from hub/notify.py, both verbatim. pyproject's version
-- has been 0.1.0 since the first commit and nothing is tagged, so the schema number is
-- what marks a release. tests/support/first_release.py fills it with rows.
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
PRAGMA user_version = 1;
