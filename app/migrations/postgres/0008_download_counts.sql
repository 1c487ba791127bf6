-- Download counts per package, channel and UTC day. Servers aggregate downloads in memory and
-- add them here every download_flush_interval_secs; they are not catalog changes (no row in
-- `changes`): counters commute, and a write per download would cost more than the download.
CREATE TABLE download_counts (
    package_id TEXT NOT NULL REFERENCES packages (id),
    channel    TEXT NOT NULL,               -- '' when the download URL named no channel
    day        TEXT NOT NULL,               -- YYYY-MM-DD (UTC)
    count      BIGINT NOT NULL CHECK (count >= 0),
    PRIMARY KEY (package_id, channel, day)
);

CREATE INDEX download_counts_day ON download_counts (day);
