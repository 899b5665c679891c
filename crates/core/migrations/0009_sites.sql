-- Server site identities: several Server sites may migrate into one cloud, and their
-- database ids overlap, so every mapping is keyed by the site it came from.

-- The Server sites ferry has read, by identity (`confluence:<server id>`,
-- `jira:<server id>`, or `<product>:fingerprint:<hex>`).
CREATE TABLE server_sites (
    id TEXT PRIMARY KEY,
    product TEXT NOT NULL,
    -- `server-id` or `fingerprint`.
    origin TEXT NOT NULL,
    -- The admin's name for it (`ferry site name`), if given.
    name TEXT,
    -- Where it was last read from (a SQLite file or a postgres:// URL without password),
    -- and the environment variable its password was read from, if one was named.
    location TEXT NOT NULL,
    password_env TEXT,
    -- Its own base URL, when the database records one.
    base_url TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);

-- The site each plan reads. NULL for plans made before site identities, until a plan of
-- the same source adopts them (their mappings move with them).
ALTER TABLE plans ADD COLUMN site TEXT;

-- Mappings keyed by site. Rows recorded before belong to the site of the plan that
-- recorded them; until that site is known they are kept under `legacy:<source>`, which
-- no site's id can equal.
CREATE TABLE mappings_by_site (
    destination TEXT NOT NULL,
    site TEXT NOT NULL,
    namespace TEXT NOT NULL,
    server_id TEXT NOT NULL,
    cloud_id TEXT NOT NULL,
    plan_id TEXT,
    created_at TEXT NOT NULL,
    container TEXT,
    PRIMARY KEY (destination, site, namespace, server_id)
);
INSERT OR IGNORE INTO mappings_by_site (destination, site, namespace, server_id, cloud_id, plan_id, created_at, container)
    SELECT m.destination, 'legacy:' || COALESCE((SELECT p.source FROM plans p WHERE p.id = m.plan_id), ''),
           m.namespace, m.server_id, m.cloud_id, m.plan_id, m.created_at, m.container
    FROM mappings m;
DROP TABLE mappings;
ALTER TABLE mappings_by_site RENAME TO mappings;
CREATE INDEX mappings_container ON mappings (destination, site, namespace, container);
