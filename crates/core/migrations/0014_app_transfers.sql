-- App data goes to each app's cloud half (its migration endpoint), and the cloud app
-- settles the transfer. A site (and each plan made for it) keeps, per server app key,
-- the admin's endpoint override and the name of the environment variable holding the
-- migration secret its cloud app issued (JSON; never a secret).
ALTER TABLE cloud_sites ADD COLUMN app_links TEXT NOT NULL DEFAULT '{}';
ALTER TABLE plans ADD COLUMN app_links TEXT NOT NULL DEFAULT '{}';
-- How long a cloud app may take to settle a transfer after its last upload.
ALTER TABLE plans ADD COLUMN app_settle_secs INTEGER NOT NULL DEFAULT 3600;
-- Where each run's data went, what the plugin said, and what the cloud app settled.
ALTER TABLE plugin_runs ADD COLUMN endpoint TEXT;
ALTER TABLE plugin_runs ADD COLUMN endpoint_overridden INTEGER NOT NULL DEFAULT 0;
ALTER TABLE plugin_runs ADD COLUMN uploads INTEGER NOT NULL DEFAULT 0;
ALTER TABLE plugin_runs ADD COLUMN plugin_status TEXT;
ALTER TABLE plugin_runs ADD COLUMN plugin_message TEXT;
ALTER TABLE plugin_runs ADD COLUMN settlement_status TEXT;
ALTER TABLE plugin_runs ADD COLUMN settlement_message TEXT;
ALTER TABLE plugin_runs ADD COLUMN settled_at TEXT;
