-- The accounts a Cloud site's organisation has, read from its user export (CSV), for a
-- site with no user-provisioning directory: server users are linked to these accounts by
-- email, never created. Replaced whole by each import; no secret is in it.
CREATE TABLE cloud_accounts (
    site_url TEXT NOT NULL,
    email TEXT NOT NULL COLLATE NOCASE,
    account_id TEXT NOT NULL,
    name TEXT,
    status TEXT,
    PRIMARY KEY (site_url, email)
);
