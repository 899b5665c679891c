-- Installed plugins: one version per server app.
CREATE TABLE plugins (
    server_app_key TEXT PRIMARY KEY,
    cloud_app_key TEXT NOT NULL,
    name TEXT NOT NULL,
    vendor TEXT NOT NULL,
    version TEXT NOT NULL,
    contract TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    manifest_json TEXT NOT NULL,
    imports_json TEXT NOT NULL,
    installed_at TEXT NOT NULL
);

-- How server entities map to cloud entities, per destination. Written as each entity
-- lands, read by plugins through the migration-tracing scopes.
CREATE TABLE mappings (
    destination TEXT NOT NULL,
    namespace TEXT NOT NULL,
    server_id TEXT NOT NULL,
    cloud_id TEXT NOT NULL,
    plan_id TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (destination, namespace, server_id)
);

-- One row per app migration run of a plugin.
CREATE TABLE plugin_runs (
    id TEXT PRIMARY KEY,
    server_app_key TEXT NOT NULL,
    plugin_version TEXT NOT NULL,
    plugin_sha256 TEXT NOT NULL,
    transfer_id TEXT NOT NULL,
    original_transfer_id TEXT,
    status TEXT NOT NULL,
    message TEXT,
    progress_percent INTEGER NOT NULL DEFAULT 0,
    progress_message TEXT,
    uploaded_bytes INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL,
    finished_at TEXT
);

-- Every plugin-callable host function writes here through the one gate. Consecutive
-- identical calls are coalesced into one record with a call count.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    server_app_key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    function TEXT NOT NULL,
    scopes TEXT NOT NULL,
    allowed INTEGER NOT NULL,
    denied_scope TEXT,
    calls INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    detail TEXT,
    at TEXT NOT NULL
);
CREATE INDEX audit_log_run ON audit_log (run_id, seq);

-- Log lines and captured stdout/stderr of plugin runs.
CREATE TABLE run_logs (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
