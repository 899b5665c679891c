-- Audit journals are bounded per run: calls past the detailed part are summed into one
-- summarised record per kind of call.
ALTER TABLE audit_log ADD COLUMN summarised INTEGER NOT NULL DEFAULT 0;

-- The name of the environment variable holding the source database password (never
-- the password itself).
ALTER TABLE plans ADD COLUMN source_password_env TEXT;
