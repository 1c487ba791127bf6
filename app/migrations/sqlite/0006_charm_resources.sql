-- Charm resources: each upload of a resource file becomes its next revision; a release of a
-- charm revision pins the resource revisions served with it on that channel.
CREATE TABLE resource_revisions (
    package_id TEXT NOT NULL REFERENCES packages (id),
    name       TEXT NOT NULL,
    revision   INTEGER NOT NULL CHECK (revision >= 1),
    kind       TEXT NOT NULL,               -- 'file' (oci-image is refused)
    upload_id  TEXT NOT NULL UNIQUE REFERENCES uploads (id),
    sha3_384   TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    sha384     TEXT NOT NULL,
    sha512     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES accounts (id),
    PRIMARY KEY (package_id, name, revision)
);

CREATE TABLE release_resources (
    package_id TEXT NOT NULL,
    track      TEXT NOT NULL,
    risk       TEXT NOT NULL,
    branch     TEXT NOT NULL DEFAULT '',
    name       TEXT NOT NULL,
    revision   INTEGER NOT NULL,
    PRIMARY KEY (package_id, track, risk, branch, name),
    FOREIGN KEY (package_id, name, revision) REFERENCES resource_revisions (package_id, name, revision)
);
