-- Vendor keys this Ferry trusts to sign plugins (`ferry trust add`).
CREATE TABLE trusted_keys (
    name TEXT PRIMARY KEY,
    public_key TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    added_at TEXT NOT NULL
);

-- The key that signed each installed plugin (NULL: unsigned), and whether the admin
-- installed it without a trusted signature (`--allow-unsigned`).
ALTER TABLE plugins ADD COLUMN signer_key TEXT;
ALTER TABLE plugins ADD COLUMN allowed_unsigned INTEGER NOT NULL DEFAULT 0;

-- The signer consent was given to ('' for an unsigned plugin).
ALTER TABLE consents ADD COLUMN signer_key TEXT NOT NULL DEFAULT '';

-- Local plugin catalogs (`ferry catalog add`): folders with an index.json.
CREATE TABLE catalogs (
    path TEXT PRIMARY KEY,
    added_at TEXT NOT NULL
);

-- Plugins installed before signatures existed were installed unsigned by the admin.
UPDATE plugins SET allowed_unsigned = 1;
