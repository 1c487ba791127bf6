-- The bases a charm resource revision is for (charmcraft's `upload-resource --arch` and
-- `set-resource-architectures`), as JSON: [{"name", "channel", "architectures": [...]}]; and
-- who last changed them, when.
ALTER TABLE resource_revisions
    ADD COLUMN bases TEXT NOT NULL DEFAULT '[{"name":"all","channel":"all","architectures":["all"]}]';
ALTER TABLE resource_revisions ADD COLUMN updated_at TEXT;
ALTER TABLE resource_revisions ADD COLUMN updated_by TEXT REFERENCES accounts (id);
