-- Run after the catalog is loaded (see pg-fts.sql).
UPDATE fts_packages SET doc =
       setweight(to_tsvector('english', replace(name, '-', ' ')), 'A')
    || setweight(to_tsvector('english', title || ' ' || keywords), 'B')
    || setweight(to_tsvector('english', summary), 'C')
    || setweight(to_tsvector('english', description), 'D');
CREATE INDEX fts_packages_doc ON fts_packages USING gin (doc);
VACUUM ANALYZE fts_packages;
VACUUM ANALYZE fts_queries;
