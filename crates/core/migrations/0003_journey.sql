-- The migration assistant's journey: assessment, named cloud sites, consent, apps inside
-- plans, per-step progress, and app-migration outcomes for the Stage rule.

-- The Server site's user-installed apps as the latest `ferry apps assess` read them.
CREATE TABLE server_apps (
    app_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    vendor TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    source TEXT NOT NULL,
    assessed_at TEXT NOT NULL
);

-- The admin's decision per app (absent: not-assessed), and whether the admin marked
-- its migration path manual.
CREATE TABLE app_decisions (
    app_key TEXT PRIMARY KEY,
    decision TEXT NOT NULL,
    manual INTEGER NOT NULL DEFAULT 0,
    decided_at TEXT NOT NULL
);

-- Named Cloud sites. The token is never stored: only the name of the environment
-- variable that holds it.
CREATE TABLE cloud_sites (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    scim_url TEXT,
    token_env TEXT NOT NULL,
    connected_at TEXT NOT NULL
);

-- Consent per app: bound to the plugin version, its sha256 and the exact scope set (and
-- the manifest, to show what changed when a new version arrives).
CREATE TABLE consents (
    app_key TEXT PRIMARY KEY,
    plugin_version TEXT NOT NULL,
    plugin_sha256 TEXT NOT NULL,
    scopes TEXT NOT NULL,
    manifest_json TEXT NOT NULL,
    given_at TEXT NOT NULL,
    revoked_at TEXT
);

-- Every agree and revoke, for the record.
CREATE TABLE consent_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_key TEXT NOT NULL,
    action TEXT NOT NULL,
    plugin_version TEXT NOT NULL,
    plugin_sha256 TEXT NOT NULL,
    scopes TEXT NOT NULL,
    at TEXT NOT NULL
);

-- Plans: which apps (fixed at creation), their permitted time, trusted email domains,
-- the named cloud site, and the admin's Stage 1 choice.
ALTER TABLE plans ADD COLUMN apps TEXT NOT NULL DEFAULT 'none';
ALTER TABLE plans ADD COLUMN app_deadline_secs INTEGER NOT NULL DEFAULT 3600;
ALTER TABLE plans ADD COLUMN trusted_domains TEXT NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN cloud TEXT;
CREATE TABLE plan_apps (
    plan_id TEXT NOT NULL,
    app_key TEXT NOT NULL,
    plugin_version TEXT NOT NULL,
    plugin_sha256 TEXT NOT NULL,
    PRIMARY KEY (plan_id, app_key)
);

-- App migrations belong to a plan.
ALTER TABLE plugin_runs ADD COLUMN plan_id TEXT;
CREATE INDEX plugin_runs_plan ON plugin_runs (plan_id, server_app_key);

-- Progress per step of a running plan, written as it goes, read by `plan list`.
CREATE TABLE plan_progress (
    plan_id TEXT NOT NULL,
    step TEXT NOT NULL,
    done INTEGER NOT NULL,
    total INTEGER NOT NULL,
    PRIMARY KEY (plan_id, step)
);

-- The outcome of every app migration, local or imported from other sites.
CREATE TABLE stage_outcomes (
    transfer_id TEXT PRIMARY KEY,
    app_key TEXT NOT NULL,
    version TEXT NOT NULL,
    status TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    origin TEXT NOT NULL
);
CREATE INDEX stage_outcomes_app ON stage_outcomes (app_key, finished_at);

-- Settings an admin can change (the Stage rule).
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
