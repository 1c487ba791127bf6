-- depot schema, SQLite flavour. Keep in step with ../postgres/0001_initial.sql.

CREATE TABLE accounts (
    id           TEXT PRIMARY KEY,
    username     TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    email        TEXT,
    created_at   TEXT NOT NULL
);

CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    secret_hash TEXT NOT NULL UNIQUE,
    scopes      TEXT NOT NULL,              -- JSON array of scope names
    packages    TEXT,                       -- JSON array of {"type","name"}; NULL = unrestricted
    description TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    expires_at  TEXT,
    revoked_at  TEXT
);

CREATE TABLE packages (
    id            TEXT PRIMARY KEY,
    namespace     TEXT NOT NULL CHECK (namespace IN ('snap', 'charm')),
    name          TEXT NOT NULL,
    publisher_id  TEXT NOT NULL REFERENCES accounts (id),
    title         TEXT NOT NULL DEFAULT '',
    summary       TEXT NOT NULL DEFAULT '',
    description   TEXT NOT NULL DEFAULT '',
    license       TEXT NOT NULL DEFAULT '',
    website       TEXT NOT NULL DEFAULT '',
    contact       TEXT NOT NULL DEFAULT '',
    categories    TEXT NOT NULL DEFAULT '[]', -- JSON array
    private       INTEGER NOT NULL DEFAULT 0,
    default_track TEXT NOT NULL DEFAULT 'latest',
    last_revision INTEGER NOT NULL DEFAULT 0,  -- revision counter; its row lock serialises pushes
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (namespace, name)
);

CREATE TABLE tracks (
    package_id                   TEXT NOT NULL REFERENCES packages (id),
    name                         TEXT NOT NULL,
    version_pattern              TEXT,
    automatic_phasing_percentage REAL,
    created_at                   TEXT NOT NULL,
    PRIMARY KEY (package_id, name)
);

CREATE TABLE revisions (
    package_id    TEXT NOT NULL REFERENCES packages (id),
    revision      INTEGER NOT NULL CHECK (revision >= 1),
    version       TEXT NOT NULL,
    sha3_384      TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    sha384        TEXT NOT NULL,              -- SHA-384 (SHA-2), what Juju checks
    size          INTEGER NOT NULL,
    architectures TEXT NOT NULL,              -- JSON array
    bases         TEXT NOT NULL,              -- JSON array of {name, channel, architecture}
    base          TEXT,
    confinement   TEXT,
    grade         TEXT,
    kind          TEXT NOT NULL,
    epoch         TEXT NOT NULL,              -- JSON {"read": [...], "write": [...]}
    metadata      TEXT NOT NULL,              -- JSON: what inspection read
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL REFERENCES accounts (id),
    PRIMARY KEY (package_id, revision)
);

-- The current channel map: one row per (channel, platform).
CREATE TABLE releases (
    package_id             TEXT NOT NULL,
    track                  TEXT NOT NULL,
    risk                   TEXT NOT NULL,
    branch                 TEXT NOT NULL DEFAULT '',
    platform               TEXT NOT NULL,
    revision               INTEGER NOT NULL,
    released_at            TEXT NOT NULL,
    released_by            TEXT NOT NULL REFERENCES accounts (id),
    expires_at             TEXT,
    progressive_percentage REAL,
    PRIMARY KEY (package_id, track, risk, branch, platform),
    FOREIGN KEY (package_id, revision) REFERENCES revisions (package_id, revision)
);

-- Append-only: every release and close ever made.
CREATE TABLE release_history (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    package_id             TEXT NOT NULL REFERENCES packages (id),
    channel                TEXT NOT NULL,
    revision               INTEGER,            -- NULL: the channel was closed
    platforms              TEXT NOT NULL,     -- JSON array
    released_at            TEXT NOT NULL,
    released_by            TEXT NOT NULL REFERENCES accounts (id),
    expires_at             TEXT,
    progressive_percentage REAL
);
CREATE INDEX release_history_package ON release_history (package_id, id);

-- Uploaded artifacts waiting to become revisions.
CREATE TABLE uploads (
    id         TEXT PRIMARY KEY,
    sha3_384   TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    sha384     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT REFERENCES accounts (id),
    package_id TEXT REFERENCES packages (id),
    revision   INTEGER
);

-- The change log. `change_counter` holds the last sequence number; each write transaction
-- bumps it as its last statement, so numbers are gapless and commit in order.
CREATE TABLE change_counter (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO change_counter (id, seq) VALUES (1, 0);

CREATE TABLE changes (
    seq        INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    kind       TEXT NOT NULL,
    package_id TEXT,
    account_id TEXT,
    payload    TEXT NOT NULL DEFAULT '{}'
);
