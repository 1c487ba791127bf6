-- Charm libraries: Python modules a charm publishes (charmcraft publish-lib) for other charms
-- to fetch (charmcraft fetch-libs). A library has a store-assigned id and a name unique within
-- its charm; each version API.PATCH is kept, content included.
CREATE TABLE charm_libraries (
    id         TEXT PRIMARY KEY,
    package_id TEXT NOT NULL REFERENCES packages (id),
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES accounts (id),
    UNIQUE (package_id, name)
);

CREATE TABLE charm_library_versions (
    library_id TEXT NOT NULL REFERENCES charm_libraries (id),
    package_id TEXT NOT NULL REFERENCES packages (id),
    api        INTEGER NOT NULL CHECK (api >= 0),
    patch      INTEGER NOT NULL CHECK (patch >= 0),
    content    TEXT NOT NULL,
    hash       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES accounts (id),
    PRIMARY KEY (library_id, api, patch)
);

CREATE INDEX charm_library_versions_package ON charm_library_versions (package_id);
