-- Migration plans: immutable once created; only status and report change as it runs.
CREATE TABLE plans (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    attachments TEXT NOT NULL,
    destination TEXT NOT NULL,
    scim_url TEXT,
    token_env TEXT NOT NULL,
    users TEXT NOT NULL,
    spaces TEXT NOT NULL,
    attachments_only INTEGER NOT NULL,
    product_group TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    report_json TEXT
);

-- What a mapping sits in (the space key of an attachment), to find links of entities
-- deleted on the server since they migrated.
ALTER TABLE mappings ADD COLUMN container TEXT;
CREATE INDEX mappings_container ON mappings (destination, namespace, container);
