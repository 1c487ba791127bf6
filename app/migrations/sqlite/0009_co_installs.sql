-- Recommendations: how often snaps are installed together, from the installed sets devices send
-- with refresh requests. Only aggregate counts are kept: no device identifier, no set. A set is
-- counted once per server process and UTC day however often the device refreshes.
CREATE TABLE install_counts (
    package_id TEXT PRIMARY KEY REFERENCES packages (id),
    count      INTEGER NOT NULL CHECK (count >= 0)
);

-- One row per pair of packages installed together, `a` < `b`.
CREATE TABLE co_installs (
    a     TEXT NOT NULL REFERENCES packages (id),
    b     TEXT NOT NULL REFERENCES packages (id),
    count INTEGER NOT NULL CHECK (count >= 0),
    PRIMARY KEY (a, b),
    CHECK (a < b)
);
