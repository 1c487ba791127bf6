-- The usual store design, for comparison with depot's search (make bench): the catalog in a
-- table with a weighted tsvector (name A; title and keywords B; summary C; description D) under
-- a GIN index, queried with websearch_to_tsquery and ordered by ts_rank.
DROP TABLE IF EXISTS fts_packages, fts_queries;
CREATE TABLE fts_packages (
    name        text PRIMARY KEY,
    title       text NOT NULL DEFAULT '',
    summary     text NOT NULL DEFAULT '',
    keywords    text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    doc         tsvector
);
CREATE TABLE fts_queries (
    id integer PRIMARY KEY,
    q  text NOT NULL
);
