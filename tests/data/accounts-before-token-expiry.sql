-- The accounts tables of a hub database made by main at 1b7c842 (before tokens had an
-- expiry and lock-outs were kept per name and address), as sqlite3's .dump writes them.
-- Made with hub.accounts.Accounts: caregivers Sam ('correct horse') and Alex ('battery
-- staple'), one API token each, a session of Sam's, two wrong passwords for Alex; the
-- store had stamped user_version 3. tests/test_accounts.py upgrades a copy of it.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    caregiver_id INTEGER NOT NULL REFERENCES caregivers(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    last_used_ms INTEGER
);
INSERT INTO "api_tokens" VALUES(1,1,'6c93f3c7c2bc68b76ba24fe5e250c8c8f0725b5a8b877bc33af985738c0f1390','home-assistant',1796481309835,NULL);
INSERT INTO "api_tokens" VALUES(2,2,'26410c585311b9837227c78f6bc7c7892c75d90bc58d874e1ce3bee7719fc60f','backup script',1796481309835,NULL);
CREATE TABLE caregivers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until_ms INTEGER,
    last_login_ms INTEGER
);
INSERT INTO "caregivers" VALUES(1,'Sam','$argon2id$v=19$m=19456,t=2,p=1$77aVnmsTOp49bs3yqT2dzw$E0N0fgjrq/WClYxGHrmw1ENqZXaAKN5Xg8WxkoosUhk',1796481309809,0,NULL,NULL);
INSERT INTO "caregivers" VALUES(2,'Alex','$argon2id$v=19$m=19456,t=2,p=1$RqDiyDMJBDU3OOCkpddbXQ$Os6XkieIIHF8iQhhcD8A5q+snxjToSl2fkITyh7DL1s',1796481309834,2,NULL,NULL);
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    caregiver_id INTEGER NOT NULL REFERENCES caregivers(id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
INSERT INTO "sessions" VALUES('710b17d3d2e284e704a55cc3c533e14e844b534b7b5289f142294dd29fb40d89',1,'ijCxnKff16GbVWHpnF16GYjcAxUFTj_e',1796481309835,1799073309835);
PRAGMA user_version = 3;
